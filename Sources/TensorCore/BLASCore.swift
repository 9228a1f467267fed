import CBLAS
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// What `BLAS.selectCoreForCPU()` found and did.
public struct BLASCoreChoice: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Action: String, Sendable, Codable {
        /// OpenBLAS's own pick matches the CPU (or no better kernel is known): nothing changed.
        case kept
        /// `OPENBLAS_CORETYPE` was set by the user: kept as given.
        case userSetting = "user_setting"
        /// Switched in process through `gotoblas_dynamic_quit` / `gotoblas_dynamic_init`.
        case switched
        /// The process re-executes itself with `OPENBLAS_CORETYPE` set (no dynamic re-init).
        case reexec
        /// A better kernel exists but neither way to switch was available.
        case unavailable
    }
    /// The strongest OpenBLAS kernel the CPU's flags support ("SkylakeX", "Haswell",
    /// "Sandybridge"), or nil when none of those (not x86-64, or no AVX).
    public var supported: String?
    /// The kernel OpenBLAS reported before any change.
    public var reported: String
    /// The kernel in use afterwards.
    public var inUse: String
    public var action: Action
    public var reason: String

    enum CodingKeys: String, CodingKey { case supported, reported, inUse = "in_use", action, reason }

    public var description: String { "\(inUse) (\(action.rawValue): \(reason))" }
}

/// The CPU features that decide which OpenBLAS kernel can run.
public struct CPUFlags: Sendable, Equatable {
    public var flags: Set<String>

    public init(_ flags: Set<String>) { self.flags = flags }

    /// The `flags` line of a `/proc/cpuinfo` text (the first processor's), empty when absent.
    public static func parse(cpuinfo text: String) -> CPUFlags {
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return CPUFlags(Set(line[line.index(after: colon)...].split(separator: " ").map(String.init)))
        }
        return CPUFlags([])
    }

    /// This machine's flags (Linux: `/proc/cpuinfo`, which lists only what the OS enabled, so
    /// AVX-512 appears only when the kernel saves its registers).
    public static func current() -> CPUFlags {
        guard let f = fopen("/proc/cpuinfo", "r") else { return CPUFlags([]) }
        defer { fclose(f) }
        var text = ""
        var buf = [CChar](repeating: 0, count: 1 << 16)  // a flags line is ~2 KB today
        while fgets(&buf, Int32(buf.count), f) != nil {
            let line = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if line.hasPrefix("flags") { text = line; break }
        }
        return parse(cpuinfo: text)
    }
}

/// The pure decision behind `BLAS.selectCoreForCPU()`.
public enum BLASCoreSelection {
    /// Flags each kernel needs. SkylakeX is built with `-march=skylake-avx512` (AVX-512 F, CD,
    /// BW, DQ, VL, on top of AVX2 and FMA) and OpenBLAS 0.3.21's own `support_avx512()` checks
    /// VL and the OS's ZMM state; Haswell needs AVX2 and FMA; Sandybridge AVX.
    public static let requirements: [(core: String, flags: Set<String>)] = [
        ("SkylakeX", ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma", "avx"]),
        ("Haswell", ["avx2", "fma", "avx"]),
        ("Sandybridge", ["avx"]),
    ]

    /// Vector level of OpenBLAS 0.3.21's x86-64 kernel names: 3 AVX-512, 2 AVX2, 1 AVX, 0 SSE
    /// (Prescott, Core2, Nehalem, ..., the generic fallbacks), nil for names it does not know.
    public static func level(of core: String) -> Int? {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 3
        case "haswell", "zen", "excavator", "steamroller": return 2
        case "sandybridge", "bulldozer", "piledriver": return 1
        case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
            "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat":
            return 0
        default: return nil
        }
    }

    /// The strongest kernel `flags` support.
    public static func supportedCore(_ flags: CPUFlags) -> String? {
        requirements.first { $0.flags.isSubset(of: flags.flags) }?.core
    }

    /// Why a user's `OPENBLAS_CORETYPE` cannot run on this CPU (a kernel needing vector
    /// instructions the CPU lacks dies on its first product with an illegal instruction), or
    /// nil when it can (or is a name this table does not rank).
    public static func unrunnableUserSetting(_ setting: String, flags: CPUFlags) -> String? {
        guard let wanted = level(of: setting) else { return nil }
        let best = supportedCore(flags)
        guard wanted > (best.flatMap { level(of: $0) } ?? 0) else { return nil }
        let needs = ["AVX", "AVX2 and FMA", "AVX-512"][wanted - 1]
        return "OPENBLAS_CORETYPE=\(setting) needs \(needs), which this CPU lacks; unset it or set "
            + (best.map { "\($0) (the strongest kernel this CPU supports)" } ?? "Prescott")
    }

    /// What to do: the kernel to switch to (nil: keep), and why. A user's `OPENBLAS_CORETYPE`
    /// is always kept; otherwise OpenBLAS's pick is replaced only when it is weaker than what
    /// the CPU supports (a generic fallback for a CPU it does not recognise).
    public static func decide(flags: CPUFlags, reported: String, userSetting: String?)
        -> (switchTo: String?, action: BLASCoreChoice.Action, reason: String)
    {
        if let u = userSetting, !u.isEmpty {
            return (nil, .userSetting, "OPENBLAS_CORETYPE=\(u) set by the user")
        }
        guard let best = supportedCore(flags), let bestLevel = level(of: best) else {
            return (nil, .kept, "the CPU has no AVX: no faster kernel known")
        }
        guard let have = level(of: reported) else {
            return (nil, .kept, "OpenBLAS picked \(reported), a kernel this table does not rank")
        }
        if have >= bestLevel {
            return (nil, .kept, "OpenBLAS's \(reported) matches the CPU (best supported: \(best))")
        }
        return (best, .switched, "OpenBLAS fell back to \(reported); the CPU supports \(best)")
    }
}

extension BLAS {
    // The first selection's outcome, so that later calls report it instead of deciding again
    // (after a switch OPENBLAS_CORETYPE is set and would read as the user's). Mutex-protected.
    private static let selection = Mutex<BLASCoreChoice?>(nil)
    static let reexecMarker = "PRUNELAB_BLAS_REEXEC"

    /// Makes OpenBLAS use the kernel the CPU supports when it fell back to a weaker one and the
    /// user did not set `OPENBLAS_CORETYPE`. Call at program start, before any BLAS call and
    /// before other threads start (it calls `setenv`). Idempotent: later calls return the first
    /// outcome.
    ///
    /// The switch sets `OPENBLAS_CORETYPE` and re-initialises OpenBLAS's dispatch through its
    /// exported `gotoblas_dynamic_quit` / `gotoblas_dynamic_init` (DYNAMIC_ARCH builds, such as
    /// Debian's); without them, and when `allowReexec`, it re-executes `/proc/self/exe` with
    /// the same arguments (the new process then keeps the variable as a user setting).
    @discardableResult
    public static func selectCoreForCPU(flags: CPUFlags = .current(), allowReexec: Bool = true) -> BLASCoreChoice {
        selection.withLock { saved in
            if let saved { return saved }
            let reported = coreName
            let user = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
            var d = BLASCoreSelection.decide(flags: flags, reported: reported, userSetting: user)
            if d.action == .userSetting, getenv(reexecMarker) != nil {
                d.reason = "set by PruneLab before re-executing: \(d.reason)"
                d.action = .reexec
            }
            var choice = BLASCoreChoice(
                supported: BLASCoreSelection.supportedCore(flags), reported: reported,
                inUse: reported, action: d.action, reason: d.reason)
            if let target = d.switchTo {
                setenv("OPENBLAS_CORETYPE", target, 1)
                let rtldDefault = UnsafeMutableRawPointer(bitPattern: 0)
                if let quit = dlsym(rtldDefault, "gotoblas_dynamic_quit"),
                    let initialise = dlsym(rtldDefault, "gotoblas_dynamic_init")
                {
                    typealias Fn = @convention(c) () -> Void
                    unsafeBitCast(quit, to: Fn.self)()
                    unsafeBitCast(initialise, to: Fn.self)()
                    choice.inUse = coreName
                    if choice.inUse != target {
                        choice.reason += "; asked for \(target), OpenBLAS now reports \(choice.inUse)"
                    }
                } else if allowReexec, getenv(reexecMarker) == nil {
                    setenv(reexecMarker, "1", 1)
                    reexecSelf()
                    // only reached when exec failed
                    unsetenv("OPENBLAS_CORETYPE")
                    choice.action = .unavailable
                    choice.reason += "; re-exec failed, staying on \(reported)"
                } else {
                    unsetenv("OPENBLAS_CORETYPE")
                    choice.action = .unavailable
                    choice.reason += "; this OpenBLAS exports no dynamic re-init, staying on \(reported)"
                }
            }
            saved = choice
            return choice
        }
    }

    /// The outcome of `selectCoreForCPU()` if it ran, for reports.
    public static var coreChoice: BLASCoreChoice? { selection.withLock { $0 } }

    private static func reexecSelf() {
        var args = CommandLine.arguments.map { strdup($0) }
        args.append(nil)
        execv("/proc/self/exe", &args)
        for a in args { free(a) }
    }
}

/// One-line description of the BLAS kernel for reports: the kernel in use and, when
/// `selectCoreForCPU()` ran, what it did.
public enum BLASCoreReport {
    public static var current: String {
        if let c = BLAS.coreChoice { return "\(BLAS.coreName) (\(c.action.rawValue): \(c.reason))" }
        let user = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        return BLAS.coreName + (user.map { " (OPENBLAS_CORETYPE=\($0))" } ?? " (OpenBLAS's own pick)")
    }
}

extension BLAS {
    /// Puts OpenBLAS on `core` as if it had picked that kernel itself (sets the variable,
    /// re-initialises, unsets it): for the subprocess test of the switch. Needs a DYNAMIC_ARCH
    /// OpenBLAS; returns false without one. Call before `selectCoreForCPU()`.
    @discardableResult
    public static func simulateOwnPickForTesting(_ core: String) -> Bool {
        let rtldDefault = UnsafeMutableRawPointer(bitPattern: 0)
        guard let quit = dlsym(rtldDefault, "gotoblas_dynamic_quit"),
            let initialise = dlsym(rtldDefault, "gotoblas_dynamic_init")
        else { return false }
        typealias Fn = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", core, 1)
        unsafeBitCast(quit, to: Fn.self)()
        unsafeBitCast(initialise, to: Fn.self)()
        unsetenv("OPENBLAS_CORETYPE")
        return true
    }

    /// Largest absolute difference between SGEMM and a plain triple loop on a small odd-sized
    /// product (a sanity check of the kernel in use).
    public static func sgemmSelfCheck() -> Float {
        let m = 37, n = 29, k = 41
        var rng = RandomSource(seed: 5)
        let a = (0..<(m * k)).map { _ in Float(rng.nextUniform() - 0.5) }
        let b = (0..<(k * n)).map { _ in Float(rng.nextUniform() - 0.5) }
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    sgemm(transA: false, transB: false, m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                }
            }
        }
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for t in 0..<k { s += a[i * k + t] * b[t * n + j] }
                worst = max(worst, abs(s - c[i * n + j]))
            }
        }
        return worst
    }
}
