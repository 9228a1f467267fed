import CHDF5
import Foundation

/// Process-wide access to the HDF5 C library: one lock around every call, errors silenced.
///
/// HDF5 built without `--enable-threadsafe` must not be entered from two threads at once, and
/// tests run in parallel, so every `HDF5File` operation and every handle close runs under one
/// recursive lock. Entering also calls `prunelab_h5_silence_errors()`: a thread-safe HDF5 keeps
/// the auto-print setting per thread, so it is re-applied (cheaply) on each entry rather than
/// once per process.
enum HDF5Library {
    private static let lock = NSRecursiveLock()

    /// Runs `body` holding the library lock, with HDF5's stderr error printing switched off.
    static func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        prunelab_h5_silence_errors()
        return try body()
    }

    /// The innermost message on the calling thread's HDF5 error stack, then clears the stack.
    ///
    /// Returns `nil` when the stack is empty. Call right after a failing HDF5 call, inside `locked`.
    static func takeErrorDetail() -> String? {
        final class Collector { var innermost: String? }
        let collector = Collector()
        let walker: H5E_walk2_t = { _, error, data in
            guard let error, let data, let desc = error.pointee.desc else { return 0 }
            let collector = Unmanaged<Collector>.fromOpaque(data).takeUnretainedValue()
            // Walking downward, the last entry is the one where the error was first detected.
            collector.innermost = String(cString: desc)
            return 0
        }
        withExtendedLifetime(collector) {
            _ = H5Ewalk2(
                prunelab_h5e_default(), H5E_WALK_DOWNWARD, walker,
                Unmanaged.passUnretained(collector).toOpaque())
        }
        _ = H5Eclear2(prunelab_h5e_default())
        guard let detail = collector.innermost?.trimmingCharacters(in: .whitespacesAndNewlines),
            !detail.isEmpty
        else { return nil }
        return detail.replacingOccurrences(of: "\n", with: " ")
    }

    /// An `HDF5Error` for a failed C call, with HDF5's innermost message appended when there is one.
    static func failure(_ file: String, _ subject: HDF5Error.Subject, _ call: String) -> HDF5Error {
        if let detail = takeErrorDetail() {
            return HDF5Error(file: file, subject, "\(call) failed: \(detail)")
        }
        return HDF5Error(file: file, subject, "\(call) failed")
    }
}
