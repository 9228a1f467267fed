import Foundation
import Testing
import TensorCore

/// The OpenBLAS kernel choice: the pure decision on hand-made flag sets, this machine's
/// /proc/cpuinfo, and the real switch in a subprocess with OPENBLAS_CORETYPE unset.
@Suite struct BLASCoreTests {
    static let sse: Set<String> = ["fpu", "sse", "sse2", "ssse3", "sse4_1", "sse4_2", "popcnt"]
    static let avx = sse.union(["avx", "xsave"])
    static let avx2 = avx.union(["avx2", "fma", "bmi2"])
    static let avx512 = avx2.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])

    @Test func supportedCoreFollowsTheFlags() {
        #expect(BLASCoreSelection.supportedCore(CPUFlags(Self.sse)) == nil)
        #expect(BLASCoreSelection.supportedCore(CPUFlags(Self.avx)) == "Sandybridge")
        #expect(BLASCoreSelection.supportedCore(CPUFlags(Self.avx2)) == "Haswell")
        #expect(BLASCoreSelection.supportedCore(CPUFlags(Self.avx512)) == "SkylakeX")
        // AVX2 without FMA is not enough for Haswell; AVX-512F alone (Knights Landing has no
        // BW/DQ/VL) is not enough for SkylakeX
        #expect(BLASCoreSelection.supportedCore(CPUFlags(Self.avx.union(["avx2"]))) == "Sandybridge")
        #expect(BLASCoreSelection.supportedCore(CPUFlags(Self.avx2.union(["avx512f", "avx512cd"]))) == "Haswell")
    }

    @Test func fallbacksAreReplacedAndGoodPicksKept() {
        func decide(_ flags: Set<String>, _ reported: String, user: String? = nil) -> String? {
            BLASCoreSelection.decide(flags: CPUFlags(flags), reported: reported, userSetting: user).switchTo
        }
        // Intel Xeon, cpuid family 6 model 207: AVX-512, OpenBLAS 0.3.21 falls back to Prescott
        #expect(decide(Self.avx512, "Prescott") == "SkylakeX")
        #expect(decide(Self.avx512, "Nehalem") == "SkylakeX")
        #expect(decide(Self.avx2, "Core2") == "Haswell")
        #expect(decide(Self.avx, "Prescott") == "Sandybridge")
        #expect(decide(Self.avx512, "Sandybridge") == "SkylakeX")
        // OpenBLAS's own good picks stay
        #expect(decide(Self.avx512, "SkylakeX") == nil)
        #expect(decide(Self.avx512, "Cooperlake") == nil)
        #expect(decide(Self.avx2, "Zen") == nil)
        #expect(decide(Self.avx2, "Haswell") == nil)
        // nothing better on an SSE-only CPU; unknown names are left alone
        #expect(decide(Self.sse, "Prescott") == nil)
        #expect(decide(Self.avx512, "SomethingNew") == nil)
        // a user's setting is kept as given, even a weak one
        let d = BLASCoreSelection.decide(flags: CPUFlags(Self.avx512), reported: "Prescott", userSetting: "Prescott")
        #expect(d.switchTo == nil && d.action == .userSetting)
    }

    @Test func aUserKernelTheCPUCannotRunIsNamed() {
        let skx = BLASCoreSelection.unrunnableUserSetting("SkylakeX", flags: CPUFlags(Self.avx2))
        #expect(
            skx == "OPENBLAS_CORETYPE=SkylakeX needs AVX-512, which this CPU lacks; "
                + "unset it or set Haswell (the strongest kernel this CPU supports)")
        #expect(BLASCoreSelection.unrunnableUserSetting("haswell", flags: CPUFlags(Self.avx))?.contains("needs AVX2 and FMA") == true)
        #expect(BLASCoreSelection.unrunnableUserSetting("Sandybridge", flags: CPUFlags(Self.sse))?.hasSuffix("or set Prescott") == true)
        // runnable, weaker, or unknown to the table: left to the user
        #expect(BLASCoreSelection.unrunnableUserSetting("SkylakeX", flags: CPUFlags(Self.avx512)) == nil)
        #expect(BLASCoreSelection.unrunnableUserSetting("Prescott", flags: CPUFlags(Self.avx2)) == nil)
        #expect(BLASCoreSelection.unrunnableUserSetting("Zen", flags: CPUFlags(Self.avx2)) == nil)
        #expect(BLASCoreSelection.unrunnableUserSetting("SomethingNew", flags: CPUFlags(Self.sse)) == nil)
    }

    @Test func parsesProcCpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: none\n"
        #expect(CPUFlags.parse(cpuinfo: text).flags == ["fpu", "sse2", "avx", "avx2", "fma"])
        #expect(CPUFlags.parse(cpuinfo: "no flags here").flags.isEmpty)
    }

    /// On this machine: the choice from /proc/cpuinfo agrees with the flags read independently.
    @Test func thisMachine() throws {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: ":")[1].split(separator: " ").map(String.init))
        #expect(CPUFlags.current().flags == flags)
        let expected: String? =
            flags.contains("avx512bw") && flags.contains("avx512vl") && flags.contains("avx512dq")
                && flags.contains("avx512cd") && flags.contains("fma")
            ? "SkylakeX"
            : flags.contains("avx2") && flags.contains("fma") ? "Haswell" : flags.contains("avx") ? "Sandybridge" : nil
        #expect(BLASCoreSelection.supportedCore(CPUFlags.current()) == expected)
    }

    static var prunelab: URL? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for d in [dir, dir.deletingLastPathComponent()] {
            let u = d.appendingPathComponent("prunelab")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return nil
    }

    /// The prunelab executable on `args` with the test's environment minus `unset` plus `set`.
    static func launch(_ args: [String], unset: [String] = [], set: [String: String] = [:]) throws
        -> (status: Int32, exited: Bool, stdout: String, stderr: String)
    {
        let exe = try #require(prunelab, "the prunelab executable beside the test bundle")
        var env = ProcessInfo.processInfo.environment
        for k in unset { env.removeValue(forKey: k) }
        for (k, v) in set { env[k] = v }
        let r = try TestSupport.run(exe.path, args, environment: env)
        return (r.status, r.exited, r.output, r.errors)
    }

    static func run(_ args: [String], unset: [String], set: [String: String] = [:]) throws -> [String: Any] {
        let r = try launch(["bench", "--print-blas-core"] + args, unset: unset, set: set)
        #expect(r.status == 0)
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    /// With OPENBLAS_CORETYPE unset and OpenBLAS started on the generic Prescott kernel (as on
    /// a CPU it does not recognise), the selection switches to the CPU's kernel in process, and
    /// SGEMM on it is right.
    @Test func switchesAwayFromAFallbackInASubprocess() throws {
        let out = try Self.run(["--simulate-blas-pick", "Prescott"], unset: ["OPENBLAS_CORETYPE"])
        let choice = try #require(out["choice"] as? [String: Any])
        let expected = BLASCoreSelection.supportedCore(CPUFlags.current())
        #expect(choice["reported"] as? String == "Prescott")
        if let expected {
            #expect(choice["action"] as? String == "switched")
            #expect(out["core_name"] as? String == expected)
        }
        #expect((out["sgemm_max_error"] as? Double ?? 1) < 1e-4)
    }

    /// A user's OPENBLAS_CORETYPE is kept as given.
    @Test func keepsTheUsersSettingInASubprocess() throws {
        let out = try Self.run([], unset: [], set: ["OPENBLAS_CORETYPE": "Sandybridge"])
        let choice = try #require(out["choice"] as? [String: Any])
        #expect(choice["action"] as? String == "user_setting")
        #expect(out["core_name"] as? String == "Sandybridge")
    }

    /// A user's OPENBLAS_CORETYPE this CPU cannot run: one error line and exit 1 before any
    /// BLAS call (it used to die of SIGILL inside OpenBLAS's first product). Only where such a
    /// kernel exists, i.e. on a CPU without AVX-512.
    @Test func refusesAUserKernelTheCPUCannotRunInASubprocess() throws {
        guard BLASCoreSelection.supportedCore(CPUFlags.current()) != "SkylakeX" else { return }
        let r = try Self.launch(["bench", "--print-blas-core", "--sgemm-rate"], set: ["OPENBLAS_CORETYPE": "SkylakeX"])
        #expect(r.exited && r.status == 1)
        #expect(r.stderr.hasPrefix("prunelab: error: OPENBLAS_CORETYPE=SkylakeX needs AVX-512, which this CPU lacks"))
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
    }

    /// Help and version still print under such a setting (they call no BLAS), exit 0.
    @Test(arguments: [["--help"], ["run", "--help"], ["help", "compare"], ["--version"]])
    func helpIgnoresAnUnrunnableUserKernel(arguments: [String]) throws {
        guard BLASCoreSelection.supportedCore(CPUFlags.current()) != "SkylakeX" else { return }
        let r = try Self.launch(arguments, set: ["OPENBLAS_CORETYPE": "SkylakeX"])
        #expect(r.exited && r.status == 0, "\(arguments)")
        #expect(arguments == ["--version"] ? !r.stdout.isEmpty : r.stdout.contains("USAGE:"), "\(arguments): \(r.stdout)")
    }

    /// As a user gets it (variable unset, OpenBLAS's own pick): whatever OpenBLAS picked, the
    /// kernel in use afterwards is at least as strong as what the CPU supports.
    @Test func asShippedInASubprocess() throws {
        let out = try Self.run([], unset: ["OPENBLAS_CORETYPE"])
        let name = try #require(out["core_name"] as? String)
        let best = BLASCoreSelection.supportedCore(CPUFlags.current()).flatMap(BLASCoreSelection.level) ?? 0
        #expect((BLASCoreSelection.level(of: name) ?? 0) >= best, "in use: \(name)")
    }
}
