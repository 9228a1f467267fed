import Dispatch

/// Element-wise passes split into contiguous ranges over a few threads: the optimizer update,
/// the data-parallel gradient sum and the trajectory statistics, which run between training
/// steps while the data-parallel workers wait. Each element's arithmetic does not depend on the
/// split, so the result is bit for bit that of one pass (see `granule` for BLAS calls).
public enum ParallelRanges {
    /// Below this many elements per part a pass stays on the calling thread. Handing a part to
    /// a Dispatch worker pays for its wake-up: on the 2-core Zen 1 VM of this work
    /// (`experiments/dispatch_wakeup` and its first version, four quiet runs), two 25-30 us halves under
    /// `concurrentPerform` took 0.93-1.03x the time of one thread doing both, and two 260 us halves
    /// 0.56-0.66x; 32768 element updates are about 100-200 us.
    public static let minimumPerPart = 32768

    /// Range boundaries are multiples of this (from the start of the pass), so a BLAS call per
    /// range (`sscal`, `saxpy`) splits its vector body and scalar tail at the same elements as
    /// one call over everything: OpenBLAS's kernels run blocks of at most 64 elements from the
    /// start and finish the rest one by one, and 256 is a multiple of every such block.
    public static let granule = 256

    /// The `parts + 1` boundaries `0 = b_0 <= ... <= b_parts = count`, inner ones multiples
    /// of `granule`.
    public static func bounds(count: Int, parts: Int) -> [Int] {
        let k = max(1, parts)
        return (0...k).map { i in i == k ? count : (i * count / k) / granule * granule }
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous ranges, concurrently
    /// when every range gets at least `minimumPerPart` elements, else as one range here.
    /// Ranges are disjoint: `body` may write its own range of shared buffers.
    public static func forEach(count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(max(1, threads), count / minimumPerPart)
        guard parts > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        let b = bounds(count: count, parts: parts)
        withoutActuallyEscaping(body) { body in
            let work = RangeBody(run: body)
            DispatchQueue.concurrentPerform(iterations: parts) { i in work.run(b[i]..<b[i + 1]) }
        }
    }

    /// The per-range body handed to the threads. Unchecked Sendable because bodies write
    /// through raw pointers into shared buffers: safe since every thread gets a disjoint range
    /// and `concurrentPerform` returns only after all of them finished.
    private struct RangeBody: @unchecked Sendable {
        let run: (Range<Int>) -> Void
    }
}
