import Foundation
import TensorCore
import Training

/// What a PruneLab process sets up before any other work (the CLI's first call), so the CLI
/// needs no lower module.
public enum ProcessSetup {
    /// `selectBLAS` false leaves the kernel choice to a later call (the bench command's test
    /// hook simulates OpenBLAS's own pick first).
    /// A user's `OPENBLAS_CORETYPE` that the CPU cannot run ends the process here with one
    /// line and exit status 1, instead of an illegal instruction inside OpenBLAS later.
    public static func prepare(selectBLAS: Bool = true) {
        if let setting = getenv("OPENBLAS_CORETYPE").map({ String(cString: $0) }),
            let problem = BLASCoreSelection.unrunnableUserSetting(setting, flags: .current())
        {
            FileHandle.standardError.write(Data("prunelab: error: \(problem)\n".utf8))
            exit(1)
        }
        if selectBLAS { BLAS.selectCoreForCPU() }
        Allocator.retainFreedMemory()
        Interruption.install()
    }
}
