// How much does handing half of a short element-wise pass to another thread gain? Two halves of
// `n` dependent float additions each, 1) under DispatchQueue.concurrentPerform (what
// ParallelRanges and DataParallel use), 2) on the calling thread one after the other, 3) on the
// spinning prototype pool of pool.swift (not used by PruneLab). The basis of
// ParallelRanges.minimumPerPart and of the notes on data-parallel sparse steps.
//
//   swiftc -O experiments/dispatch_wakeup/main.swift experiments/dispatch_wakeup/pool.swift -o /tmp/dispatch_wakeup
//   /tmp/dispatch_wakeup
import Dispatch
import Foundation

func work(_ n: Int) -> Double {
    var s = 0.0
    for i in 0..<n { s += Double(i) * 1e-9 }
    return s
}

let pool = WorkerPool(workers: 1)
for n in [2000, 20000, 200000, 2_000_000] {
    let reps = n >= 2_000_000 ? 50 : 500
    let t0 = Date()
    for _ in 0..<reps { DispatchQueue.concurrentPerform(iterations: 2) { _ in if work(n) < 0 { print("") } } }
    let t1 = Date()
    for _ in 0..<reps { if work(n) + work(n) < 0 { print("") } }
    let t2 = Date()
    for _ in 0..<reps { pool.run(parts: 2) { _ in if work(n) < 0 { print("") } } }
    let t3 = Date()
    func us(_ a: Date, _ b: Date) -> String { String(format: "%.1f", b.timeIntervalSince(a) / Double(reps) * 1e6) }
    print("two halves of \(n): concurrentPerform \(us(t0, t1)) us, one thread \(us(t1, t2)) us, spinning pool \(us(t2, t3)) us")
}
