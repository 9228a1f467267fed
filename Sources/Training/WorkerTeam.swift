import CSpinWait
import Dispatch
import Synchronization
import TensorCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed team of threads that runs the parts of one job at a time: part 0 on the calling
/// thread, part `i` on worker `i`, every part on its own thread at once.
///
/// A training step hands work to the other threads several times (the forward and backward
/// passes, the gradient sum, the optimizer update) with a few microseconds of serial work in
/// between. `DispatchQueue.concurrentPerform` parks its worker after each call, so every hand-off
/// paid a wake-up through the kernel: on a 2-core AMD EPYC (Zen 5) the scheduler took about 10%
/// of a 95%-sparse LeNet-300-100 epoch (`perf record` of `prunelab bench --sparsity 0.95`). A
/// worker here polls for the next job for `spinNanoseconds` (with the CPU's pause hint) before
/// it parks on a condition variable, so the hand-offs inside a step cost a cache-line transfer,
/// and an idle team costs nothing. Hand-written because Dispatch offers no spinning pool and no
/// package on this machine does (swift-nio's thread pools park as Dispatch does).
public final class WorkerTeam: @unchecked Sendable {
    /// Threads in the team, the caller's included.
    public let size: Int
    private let state: TeamState
    private var threads: [pthread_t] = []

    /// How long a waiting thread polls (yielding its core between looks) before it parks, and
    /// how many pause-hinted looks it takes first.
    public static let spinNanoseconds: UInt64 = 100_000
    static let pollsBeforeYielding = 512

    /// Below this many elements per part, an element-wise pass (the gradient sum, an optimizer
    /// update) stays on the calling thread: a hand-off to a polling thread costs about as much
    /// as a few thousand elements of `scale` and `axpy`.
    public static let minimumPerPart = 4096

    /// A team of `size` threads (at least 1; a team of 1 runs everything on the caller).
    public init(size: Int) {
        self.size = max(1, size)
        state = TeamState()
        for index in 1..<self.size {
            let context = Unmanaged.passRetained(WorkerContext(state: state, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, workerMain, context)
            precondition(status == 0, "cannot start a training worker thread (pthread_create returned \(status))")
            threads.append(thread)
        }
    }

    deinit {
        state.stopping.store(true, ordering: .sequentiallyConsistent)
        state.wakeAll()
        for t in threads { pthread_join(t, nil) }
    }

    /// Runs `body(i)` for `i` in `0..<parts` (at most `size`), each part on its own thread, and
    /// returns when all have finished. A call made while the team is busy (from inside a part, or
    /// from another thread) runs its parts one after the other on the calling thread instead.
    public func run(parts k: Int, _ body: (Int) -> Void) {
        precondition(k <= size, "\(k) parts for a team of \(size)")
        guard k > 1, state.busy.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
        else {
            for i in 0..<max(0, k) { body(i) }
            return
        }
        defer { state.busy.store(false, ordering: .sequentiallyConsistent) }
        withoutActuallyEscaping(body) { body in
            // Workers read `job` only between the generation bump below and their decrement of
            // `pending`, and the caller clears it only after `pending` reached 0.
            state.job = body
            state.parts = k
            state.pending.store(size - 1, ordering: .sequentiallyConsistent)
            state.generation.add(1, ordering: .sequentiallyConsistent)
            state.wakeSleepers()
            body(0)
            state.wait { state.pending.load(ordering: .sequentiallyConsistent) == 0 }
            state.job = nil
        }
    }

    /// `body(range)` over `0..<count` split into one range per part (boundaries from
    /// `ParallelRanges.bounds`, so a BLAS call per range splits as one call over everything),
    /// on the team when every part gets at least `minimumPerPart` elements, else as one range
    /// on the caller.
    public func forEachRange(count: Int, minimumPerPart: Int = WorkerTeam.minimumPerPart, _ body: (Range<Int>) -> Void) {
        let k = min(size, count / max(1, minimumPerPart))
        guard k > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        let b = ParallelRanges.bounds(count: count, parts: k)
        run(parts: k) { i in body(b[i]..<b[i + 1]) }
    }
}

/// What the team's threads share.
final class TeamState: @unchecked Sendable {
    /// Bumped once per job; a worker runs a job when it sees a generation it has not seen.
    let generation = Atomic<Int>(0)
    /// Workers that have not yet finished the current job.
    let pending = Atomic<Int>(0)
    /// Threads parked on `condition` (the poster wakes them only when some are).
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    /// A job is running (a second caller runs its parts on its own thread).
    let busy = Atomic<Bool>(false)
    var job: ((Int) -> Void)?
    var parts = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Returns once `ready()` holds: polls for `WorkerTeam.spinNanoseconds`, then parks.
    ///
    /// No wake-up is lost: a parker counts itself in `sleepers` under the mutex before its last
    /// look at `ready()`, and a waker changes the state before it reads `sleepers` (both
    /// sequentially consistent), so either the parker sees the new state or the waker sees
    /// the parker and signals under the mutex.
    func wait(_ ready: () -> Bool) {
        if ready() { return }
        // a few microseconds of pure polling (the hand-offs within a step), then polls that
        // yield the core between looks, so that on a machine with more runnable threads than
        // cores the thread being waited for gets it
        for _ in 0..<WorkerTeam.pollsBeforeYielding {
            if ready() { return }
            csw_cpu_relax()
        }
        let start = DispatchTime.now().uptimeNanoseconds
        while DispatchTime.now().uptimeNanoseconds - start < WorkerTeam.spinNanoseconds {
            if ready() { return }
            sched_yield()
        }
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        while !ready() { pthread_cond_wait(condition, mutex) }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
    }

    /// Wakes the parked threads, if any (after a state change they wait for).
    func wakeSleepers() {
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wakeAll() }
    }

    func wakeAll() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Worker `index`'s life: wait for a new job, run its part, report it done.
    func serve(index: Int) {
        var seen = 0
        while true {
            wait {
                stopping.load(ordering: .sequentiallyConsistent) || generation.load(ordering: .sequentiallyConsistent) != seen
            }
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            seen = generation.load(ordering: .sequentiallyConsistent)
            if index < parts { job!(index) }
            if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { wakeSleepers() }
        }
    }
}

/// A worker thread's start-up context (retained until the thread takes it).
private final class WorkerContext {
    let state: TeamState
    let index: Int
    init(state: TeamState, index: Int) {
        self.state = state
        self.index = index
    }
}

#if canImport(Glibc)
    private func workerMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
        context.state.serve(index: context.index)
        return nil
    }
#else
    private func workerMain(_ raw: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
        context.state.serve(index: context.index)
        return nil
    }
#endif
