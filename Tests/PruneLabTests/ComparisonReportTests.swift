import Testing
import TensorCore
@testable import Experiments
@testable import Sweeps

@Suite("ComparisonReport")
struct ComparisonReportTests {
    // MARK: t quantiles

    /// Reference values from scipy 1.17.1: `scipy.stats.t.ppf(0.975, df)`.
    static let scipyT975: [(df: Int, t: Double)] = [
        (1, 12.706204736174694), (2, 4.302652729749462), (5, 2.5705818356363146),
        (10, 2.228138851986274), (30, 2.0422724563012378), (60, 2.0002978220142604),
        (120, 1.9799304050824402), (1000, 1.9623390808264083),
    ]

    @Test("t quantile matches scipy at df 1, 2, 5, 10, 30, 60, 120, 1000")
    func tQuantileMatchesScipy() {
        for (df, t) in Self.scipyT975 {
            let got = Statistics.tQuantile975(degreesOfFreedom: df)
            #expect(abs(got - t) < 1e-3, "df \(df): got \(got), scipy \(t)")
        }
    }

    @Test("t quantile is decreasing in df and tends to the normal quantile")
    func tQuantileMonotoneAndLimit() {
        var last = Double.infinity
        for df in 1...500 {
            let t = Statistics.tQuantile975(degreesOfFreedom: df)
            #expect(t < last, "not decreasing at df \(df)")
            last = t
        }
        #expect(abs(Statistics.tQuantile975(degreesOfFreedom: 1_000_000) - 1.959964) < 1e-5)
    }

    // MARK: Jaccard

    static func mask(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, scalars: values) }

    @Test("Jaccard of pruned sets: disjoint 0, identical 1, hand-computed 2/5")
    func jaccardHandCases() throws {
        let a = ["w": Self.mask([4], [0, 0, 1, 1])]
        let b = ["w": Self.mask([4], [1, 1, 0, 0])]
        #expect(Statistics.jaccard(a, b) == 0)
        #expect(Statistics.jaccard(a, a) == 1)

        // Pruned in A: w[0], w[1], v[0]; pruned in B: w[1], w[2], v[0], v[1].
        // A ∩ B = {w[1], v[0]} (2), A ∪ B = {w[0], w[1], w[2], v[0], v[1]} (5).
        let c = ["w": Self.mask([2, 2], [0, 0, 1, 1]), "v": Self.mask([3], [0, 1, 1])]
        let d = ["w": Self.mask([2, 2], [1, 0, 0, 1]), "v": Self.mask([3], [0, 0, 1])]
        let j = try #require(Statistics.jaccard(c, d))
        #expect(abs(j - 2.0 / 5.0) < 1e-12)
        #expect(Statistics.jaccard(d, c) == j)
    }

    @Test("Jaccard ignores shape mismatches and unshared names; nil without a common parameter")
    func jaccardIgnoresMismatches() throws {
        let a = ["w": Self.mask([4], [0, 0, 1, 1]), "x": Self.mask([2], [0, 0]), "only.a": Self.mask([1], [0])]
        let b = ["w": Self.mask([4], [0, 1, 1, 1]), "x": Self.mask([1, 2], [1, 1]), "only.b": Self.mask([1], [0])]
        // Only "w" counts: A = {0, 1}, B = {0} → 1/2.
        let j = try #require(Statistics.jaccard(a, b))
        #expect(abs(j - 0.5) < 1e-12)

        #expect(Statistics.jaccard(["x": Self.mask([2], [0, 1])], ["x": Self.mask([2, 1], [0, 1])]) == nil)
        #expect(Statistics.jaccard(["a": Self.mask([1], [0])], ["b": Self.mask([1], [0])]) == nil)
        #expect(Statistics.jaccard([:], [:]) == nil)
    }

    @Test("Jaccard is 1 when neither side prunes anything")
    func jaccardNothingPruned() {
        let a = ["w": Self.mask([3], [1, 1, 1])]
        #expect(Statistics.jaccard(a, a) == 1)
    }

    // MARK: Markdown

    /// han and gmp over seeds 1, 2, 3.
    ///
    /// test_accuracy: han 0.90, 0.92, 0.94 → mean 0.9200, std 0.0200.
    /// gmp 0.91, 0.94, 0.95 → mean 0.93333, std √((0.07² + 0.02² + 0.05²)/9 / 2) = √(78/180000) = 0.020817.
    /// Paired gmp − han: 0.01, 0.02, 0.01 → Δ = 0.013333, s_d = √(3/90000) = 0.0057735,
    /// s_d/√3 = 1/300, t(0.975, 2) = 4.302653 → half-width 0.0143422 → [-0.0010, 0.0277].
    /// train_flops: gmp 3.0, 3.2, 3.1 G (mean 3.1, std 0.1); han 4.0, 4.1, 4.5 G;
    /// differences -1.0, -0.9, -1.4 → Δ = -1.1, CI [-1.757, -0.443] → "[-1.8G, -0.4G]".
    static let rows: [ComparisonRow] = [
        ComparisonRow(method: "han", seed: 1, values: ["test_accuracy": 0.90, "train_flops": 4.0e9, "wall_seconds": 10]),
        ComparisonRow(method: "han", seed: 2, values: ["test_accuracy": 0.92, "train_flops": 4.1e9, "wall_seconds": 12]),
        ComparisonRow(method: "han", seed: 3, values: ["test_accuracy": 0.94, "train_flops": 4.5e9, "wall_seconds": 14]),
        ComparisonRow(method: "gmp", seed: 1, values: ["test_accuracy": 0.91, "train_flops": 3.0e9, "wall_seconds": 5]),
        ComparisonRow(method: "gmp", seed: 2, values: ["test_accuracy": 0.94, "train_flops": 3.2e9, "wall_seconds": 6]),
        ComparisonRow(method: "gmp", seed: 3, values: ["test_accuracy": 0.95, "train_flops": 3.1e9, "wall_seconds": 7]),
    ]

    static func line(_ md: String, section: String, method: String) -> String? {
        guard let start = md.range(of: "## \(section)") else { return nil }
        let rest = md[start.upperBound...]
        let end = rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex
        return rest[..<end].split(separator: "\n").first { $0.hasPrefix("| \(method) |") }.map(String.init)
    }

    @Test("markdown shows n, mean ± std and the paired-difference t-interval")
    func markdownHandComputed() throws {
        let md = ComparisonReport.markdown(
            Self.rows, metrics: ["test_accuracy", "train_flops", "wall_seconds"],
            baseline: "han", title: "hand")
        #expect(md.hasPrefix("# hand\n"))
        let han = try #require(Self.line(md, section: "test_accuracy", method: "han"))
        #expect(han == "| han | 3 | 0.9200 ± 0.0200 | baseline |  |  |")
        let gmp = try #require(Self.line(md, section: "test_accuracy", method: "gmp"))
        #expect(gmp == "| gmp | 3 | 0.9333 ± 0.0208 | +0.0133 | [-0.0010, 0.0277] | 3 |")

        let flops = try #require(Self.line(md, section: "train_flops", method: "gmp"))
        #expect(flops == "| gmp | 3 | 3.1G ± 0.1G | -1.1G | [-1.8G, -0.4G] | 3 |")

        // wall_seconds: gmp − han = -5, -6, -7 → Δ = -6, s_d = 1, half-width 4.302653/√3 = 2.4841.
        let wall = try #require(Self.line(md, section: "wall_seconds", method: "gmp"))
        #expect(wall == "| gmp | 3 | 6.00 ± 1.00 | -6.00 | [-8.48, -3.52] | 3 |")

        // Methods in first-appearance order; an explanatory note closes the report.
        let hanAt = try #require(md.range(of: "| han |")).lowerBound
        let gmpAt = try #require(md.range(of: "| gmp |")).lowerBound
        #expect(hanAt < gmpAt)
        #expect(md.contains("t(0.975, n − 1)"))
        #expect(
            md
                == ComparisonReport.markdown(
                    Self.rows, metrics: ["test_accuracy", "train_flops", "wall_seconds"],
                    baseline: "han", title: "hand"))
    }

    @Test("markdown leaves unpaired seeds out of the differences but not out of mean ± std")
    func markdownUnpairedSeeds() throws {
        let extra =
            Self.rows + [
                ComparisonRow(method: "gmp", seed: 4, values: ["test_accuracy": 0.50]),
                ComparisonRow(method: "han", seed: 5, values: ["test_accuracy": 0.10]),
            ]
        let md = ComparisonReport.markdown(extra, metrics: ["test_accuracy"], title: "unpaired")
        // gmp over 4 seeds: 0.91, 0.94, 0.95, 0.50 → mean 0.8250; the difference is unchanged.
        let gmp = try #require(Self.line(md, section: "test_accuracy", method: "gmp"))
        #expect(gmp.hasPrefix("| gmp | 4 | 0.8250 ± "))
        #expect(gmp.hasSuffix("| +0.0133 | [-0.0010, 0.0277] | 3 |"))
        // han over 4 seeds: 0.90, 0.92, 0.94, 0.10 → mean 2.86 / 4 = 0.7150.
        let han = try #require(Self.line(md, section: "test_accuracy", method: "han"))
        #expect(han.hasPrefix("| han | 4 | 0.7150 ± "))
    }

    @Test("markdown with one pair, no pairs, no baseline, no values")
    func markdownEdgeCases() throws {
        let rows = [
            ComparisonRow(method: "han", seed: 1, values: ["test_accuracy": 0.90]),
            ComparisonRow(method: "gmp", seed: 1, values: ["test_accuracy": 0.93]),
            ComparisonRow(method: "dense", seed: 2, values: ["test_accuracy": 0.97]),
        ]
        let md = ComparisonReport.markdown(rows, metrics: ["test_accuracy", "sparsity"], title: "edge")
        let gmp = try #require(Self.line(md, section: "test_accuracy", method: "gmp"))
        #expect(gmp == "| gmp | 1 | 0.9300 ± 0.0000 | +0.0300 | n=1, no interval | 1 |")
        let dense = try #require(Self.line(md, section: "test_accuracy", method: "dense"))
        #expect(dense == "| dense | 1 | 0.9700 ± 0.0000 | — | no paired seeds | 0 |")
        #expect(md.contains("## sparsity\n\n_no values_\n"))

        let noBase = ComparisonReport.markdown(Array(rows.dropFirst()), metrics: ["test_accuracy"], title: "x")
        let g = try #require(Self.line(noBase, section: "test_accuracy", method: "gmp"))
        #expect(g == "| gmp | 1 | 0.9300 ± 0.0000 | — | no baseline |  |")
    }

    // MARK: CSV

    @Test("csv has method, seed, then the given columns; missing values are empty cells")
    func csvColumnsAndEmptyCells() {
        let rows = [
            ComparisonRow(method: "han", seed: 1, values: ["test_accuracy": 0.5, "sparsity": 0.9]),
            ComparisonRow(method: "gmp", seed: 2, values: ["sparsity": 0.25, "ignored": 3]),
        ]
        let t = ComparisonReport.csv(rows, columns: ["test_accuracy", "sparsity", "jaccard_vs_han"])
        #expect(t.columns == ["method", "seed", "test_accuracy", "sparsity", "jaccard_vs_han"])
        #expect(t.rows == [["han", "1", "0.5", "0.9", ""], ["gmp", "2", "", "0.25", ""]])
        #expect(t.text == "method,seed,test_accuracy,sparsity,jaccard_vs_han\nhan,1,0.5,0.9,\ngmp,2,,0.25,\n")
    }
}
