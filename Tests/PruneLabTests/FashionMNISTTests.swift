import Testing
import Foundation
@testable import Experiments

/// Fashion-MNIST from Debian's dataset-fashion-mnist through the shipped config, against the
/// labels and first image read by Python's gzip module. Skipped where the package is absent,
/// except in CI (scripts/deps.sh installs it), where its absence fails the test.
@Suite struct FashionMNISTTests {
    static let dir = "/usr/share/datasets/fashion-mnist"
    static let data = ExternalRequirement(
        "Fashion-MNIST in \(dir)", install: "apt-get install dataset-fashion-mnist (scripts/deps.sh does)",
        present: FileManager.default.fileExists(atPath: "\(dir)/t10k-labels-idx1-ubyte.gz"))

    /// Python's reading of the test set: the first 20 labels and the first image's pixel sum.
    static func pythonReference() throws -> (labels: [Int], pixelSum: Int) {
        let script = """
            import gzip
            l = gzip.open('\(dir)/t10k-labels-idx1-ubyte.gz').read()[8:28]
            i = gzip.open('\(dir)/t10k-images-idx3-ubyte.gz').read()[16:16 + 784]
            print(' '.join(map(str, l))); print(sum(i))
            """
        let text = try TestSupport.python(["-c", script])
        let lines = text.split(separator: "\n")
        return (lines[0].split(separator: " ").compactMap { Int($0) }, Int(lines[1])!)
    }

    @Test(data.trait)
    func shippedConfigLoadsTheDebianFiles() throws {
        guard Self.data.isMet(for: "loading the shipped Fashion-MNIST config") else { return }
        let config = try ConfigLoader.load(path: TestSupport.root.appendingPathComponent("configs/fashion-lenet300-dense.json").path)
        #expect(config.data.displayName == "fashion-mnist")
        let data = try config.data.load()
        #expect(data.train.labels.count == 60000 && data.test.labels.count == 10000)
        #expect(data.train.classCount == 10)
        let ref = try Self.pythonReference()
        #expect(Array(data.test.labels.prefix(20)) == ref.labels)
        let first = data.test.images.scalars.prefix(784)
        let max = first.max() ?? 0
        // pixels are scaled to [0, 1] (x / 255) by the loader
        #expect(abs(Double(first.reduce(0, +)) * 255 - Double(ref.pixelSum)) < 0.5, "max \(max)")
    }
}
