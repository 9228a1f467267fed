import Foundation
import TensorCore
import Training

/// What a PruneLab process sets up before any other work (the CLI's first call), so the CLI
/// needs no lower module.
public enum ProcessSetup {
    /// `selectBLAS` false leaves the kernel choice to a later call (the bench command's test
    /// hook simulates OpenBLAS's own pick first).
    /// A user's `OPENBLAS_CORETYPE` that the CPU cannot run throws `ProcessSetupError` before
    /// anything calls BLAS (the caller reports it and stops), instead of an illegal
    /// instruction inside OpenBLAS later.
    public static func prepare(selectBLAS: Bool = true) throws {
        if let setting = getenv("OPENBLAS_CORETYPE").map({ String(cString: $0) }),
            let problem = BLASCoreSelection.unrunnableUserSetting(setting, flags: .current())
        {
            throw ProcessSetupError.unrunnableBLASCore(problem)
        }
        if selectBLAS { BLAS.selectCoreForCPU() }
        Allocator.retainFreedMemory()
        Interruption.install()
    }
}

/// A process setting PruneLab cannot work under.
public enum ProcessSetupError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `OPENBLAS_CORETYPE` names a kernel this CPU cannot run; the text says which and what to set.
    case unrunnableBLASCore(String)

    public var description: String {
        switch self {
        case .unrunnableBLASCore(let problem): problem
        }
    }
}
