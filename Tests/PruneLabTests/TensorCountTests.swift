import Testing
import TensorCore

/// `Tensor.nonzeroCount` (vectorised, branch-free) against the per-entry definition.
@Suite struct TensorCountTests {
    @Test(arguments: [0, 1, 7, 8, 9, 37, 4096, 235_203])
    func nonzeroCountMatchesTheDefinition(count: Int) {
        var rng = RandomSource(seed: UInt64(count) + 1)
        let special: [Float] = [0, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude]
        let values = (0..<count).map { _ -> Float in
            let u = rng.nextUniform()
            if u < 0.45 { return 0 }
            if u < 0.5 { return special[rng.nextInt(below: special.count)] }
            return Float(u - 0.75)
        }
        let t = Tensor(shape: [count], scalars: values)
        #expect(t.nonzeroCount == values.filter { $0 != 0 }.count)
    }
}
