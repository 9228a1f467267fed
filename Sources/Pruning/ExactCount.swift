/// Weight counts from fractions (`floor(n · f)`, `ceil(n · f)`) in integer arithmetic.
///
/// `ceil(Double(n) * (1 - 0.7))` is 70,561 for n = 235,200, not 70,560: `1 - 0.7` is
/// 0.30000000000000004 in binary floating point, so a layer pruned "to 0.7" kept one weight
/// too many. Here a fraction is first rounded to the nearest multiple of 1e-9 (`p / 10^9`, so
/// every fraction a config can sensibly state, 0.7, 0.92, 0.9204, is represented exactly) and
/// then `n · p / 10^9` is computed exactly on 128-bit products. Fractions outside [0, 1] are
/// clamped; NaN is a programmer error.
public enum ExactCount {
    /// The fixed denominator fractions are rounded to.
    public static let denominator: UInt64 = 1_000_000_000

    /// `f` as a numerator over `denominator`, clamped to [0, denominator].
    public static func numerator(_ f: Double) -> UInt64 {
        precondition(!f.isNaN, "fraction is NaN")
        let scaled = (min(max(f, 0), 1) * Double(denominator)).rounded()
        return UInt64(scaled)
    }

    /// `n · f` as an exact quotient and remainder over `denominator`.
    private static func divide(_ n: Int, _ f: Double) -> (quotient: Int, remainder: UInt64) {
        precondition(n >= 0, "negative count \(n)")
        let product = UInt64(n).multipliedFullWidth(by: numerator(f))
        let (q, r) = denominator.dividingFullWidth(product)
        return (Int(q), r)  // q <= n since the numerator <= denominator
    }

    /// `floor(n · f)`: e.g. how many of `n` weights sparsity `f` prunes.
    public static func floor(_ n: Int, times f: Double) -> Int { divide(n, f).quotient }

    /// `ceil(n · f)`: e.g. how many of `n` weights density `f` keeps at least.
    public static func ceil(_ n: Int, times f: Double) -> Int {
        let (q, r) = divide(n, f)
        return r > 0 ? q + 1 : q
    }

    /// Weights of `n` left unmasked at sparsity `s`: `n - floor(n · s)`.
    public static func kept(_ n: Int, sparsity s: Double) -> Int { n - floor(n, times: s) }
}
