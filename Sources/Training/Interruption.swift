import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM as a request to stop: the handler only records the signal; the training
/// loop finishes the step it is in, then throws `TrainingError.interrupted`, so the run can
/// mark itself interrupted and keep its last checkpoint.
public enum Interruption {
    /// The signal received (0: none). A global atomic is the one thing a signal handler may
    /// safely touch.
    static let received = Atomic<Int32>(0)

    /// Installs the handlers (once per process; the CLI calls it before running anything).
    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { sig in Interruption.received.store(sig, ordering: .relaxed) }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have left the signals blocked (test runners, some job launchers
        // spawn children with their own mask): unblock them, or they would never arrive.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &set, nil)
    }

    /// The pending signal, or nil.
    public static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Records `sig` as if it had arrived (for tests).
    public static func simulate(_ sig: Int32) { received.store(sig, ordering: .relaxed) }

    /// Forgets a pending signal (for tests).
    public static func clear() { received.store(0, ordering: .relaxed) }
}
