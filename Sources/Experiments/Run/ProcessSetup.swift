import TensorCore
import Training

/// What a PruneLab process sets up before any other work (the CLI's first call), so the CLI
/// needs no lower module.
public enum ProcessSetup {
    /// `selectBLAS` false leaves the kernel choice to a later call (the bench command's test
    /// hook simulates OpenBLAS's own pick first).
    public static func prepare(selectBLAS: Bool = true) {
        if selectBLAS { BLAS.selectCoreForCPU() }
        Allocator.retainFreedMemory()
        Interruption.install()
    }
}
