import TensorCore

/// OpenBLAS as the CLI sees it (the CLI imports only Experiments): the kernel choice of
/// `BLAS.selectCoreForCPU` and the numbers benchmarks report.
public typealias BLASCoreChoice = TensorCore.BLASCoreChoice

public enum BLASInfo {
    /// Switches OpenBLAS from a generic fallback to the CPU's kernel (once; later calls return
    /// the first answer). Must run before any BLAS call.
    @discardableResult
    public static func selectCoreForCPU() -> BLASCoreChoice { BLAS.selectCoreForCPU() }
    /// Test hook: pretend OpenBLAS picked `core` by itself.
    @discardableResult
    public static func simulateOwnPickForTesting(_ core: String) -> Bool { BLAS.simulateOwnPickForTesting(core) }
    public static var coreName: String { BLAS.coreName }
    public static var threads: Int {
        get { BLAS.threads }
        set { BLAS.threads = newValue }
    }
    public static func sgemmSelfCheck() -> Float { BLAS.sgemmSelfCheck() }
}
