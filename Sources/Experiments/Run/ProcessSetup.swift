import TensorCore
import Training

/// What a PruneLab process sets up before any other work (the CLI's first call), so the CLI
/// needs no lower module.
public enum ProcessSetup {
    public static func prepare() {
        Allocator.retainFreedMemory()
        Interruption.install()
    }
}
