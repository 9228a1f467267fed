// A minimal spinning worker pool (prototype for experiments/dispatch_wakeup/main.swift only):
// workers spin on a generation counter for a while after each job, then sleep on a condition
// variable; the caller runs part 0 itself and spins until the others are done.
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class WorkerPool: @unchecked Sendable {
    let workers: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stop = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var parts = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    static let spinLimit = 20000

    init(workers: Int) {
        self.workers = workers
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        for w in 1...max(1, workers) where workers > 0 {
            let t = Thread { [unowned self] in self.loop(w) }
            t.start()
        }
    }

    private func loop(_ w: Int) {
        var seen = 0
        while true {
            var spins = 0
            var g = generation.load(ordering: .acquiring)
            while g == seen {
                if stop.load(ordering: .acquiring) { return }
                if spins < Self.spinLimit {
                    spins += 1
                } else {
                    pthread_mutex_lock(mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen && !stop.load(ordering: .sequentiallyConsistent) {
                        pthread_cond_wait(cond, mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(mutex)
                    spins = 0
                }
                g = generation.load(ordering: .acquiring)
            }
            seen = g
            if w < parts, let job { job(w) }
            pending.subtract(1, ordering: .releasing)
        }
    }

    func run(parts k: Int, _ body: (Int) -> Void) {
        guard k > 1 && workers > 0 else { for i in 0..<k { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            job = body
            parts = k
            pending.store(workers, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex); pthread_cond_broadcast(cond); pthread_mutex_unlock(mutex)
            }
            body(0)
            for i in (workers + 1)..<max(workers + 1, k) { body(i) }
            while pending.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }
}
