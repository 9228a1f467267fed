import Foundation

/// A linear map from a data interval (the domain) to a pixel interval (the range), with "nice"
/// tick positions.
///
/// `nice(_:_:)` widens a domain outward to multiples of a 1-2-5 step, so the axis starts and ends
/// on a tick; `ticks(count:)` returns the multiples of that step inside the domain (about
/// `count` of them, never more than `2 * count + 1`). A zero-width domain is widened to ±0.5
/// (or ±1% of the value) so that a constant series still gets an axis.
package struct LinearScale {
    package var domain: (lo: Double, hi: Double)
    package var range: (lo: Double, hi: Double)

    package init(domain: (Double, Double), range: (Double, Double)) {
        var (lo, hi) = domain
        if !(hi > lo) {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.01
            (lo, hi) = (lo - pad, hi + pad)
        }
        self.domain = (lo, hi)
        self.range = range
    }

    /// Pixel position of data value `x` (values outside the domain map outside the range).
    package func callAsFunction(_ x: Double) -> Double {
        range.lo + (x - domain.lo) / (domain.hi - domain.lo) * (range.hi - range.lo)
    }

    /// The 1-2-5 step giving about `count` intervals over `span`.
    package static func step(span: Double, count: Int) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        let f = raw / magnitude
        let nice: Double = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10
        return nice * magnitude
    }

    /// `domain` widened outward to whole steps of about `count` intervals.
    package static func nice(_ lo: Double, _ hi: Double, count: Int = 5) -> (Double, Double) {
        let s = LinearScale(domain: (lo, hi), range: (0, 1))
        let step = step(span: s.domain.hi - s.domain.lo, count: count)
        // the tolerance keeps an end that sits on a multiple (up to rounding) there; an end just
        // past the multiple the tolerance rounded it to gets the next step out
        var niceLo = floor(s.domain.lo / step + 1e-9) * step, niceHi = ceil(s.domain.hi / step - 1e-9) * step
        if niceLo > s.domain.lo { niceLo -= step }
        if niceHi < s.domain.hi { niceHi += step }
        return (niceLo, niceHi)
    }

    /// Tick values: the multiples of the 1-2-5 step inside the domain.
    package func ticks(count: Int = 5) -> [Double] {
        let step = LinearScale.step(span: domain.hi - domain.lo, count: count)
        let first = ceil(domain.lo / step - 1e-9)
        let last = floor(domain.hi / step + 1e-9)
        guard last >= first, last - first < 1000 else { return [domain.lo, domain.hi] }
        return stride(from: first, through: last, by: 1).map { ($0 * step).roundedToStep(step) }
    }

    /// A tick label for `x` with just enough decimals for the tick step.
    package func label(_ x: Double, count: Int = 5) -> String {
        let step = LinearScale.step(span: domain.hi - domain.lo, count: count)
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", x == 0 ? 0 : x)
    }
}

extension Double {
    /// The value with the floating-point noise of `k * step` removed (0.30000000000000004 → 0.3).
    fileprivate func roundedToStep(_ step: Double) -> Double {
        let decimals = max(0, -floor(log10(step))) + 2
        let p = pow(10, decimals)
        return (self * p).rounded() / p
    }
}

/// How a quantity is shown on an axis: its name, unit, and the factor from stored to shown value
/// (fractions are shown in percent, FLOPs in GFLOP or TFLOP, bytes in KB or MB).
package struct AxisUnit {
    package var name: String
    package var unit: String
    package var factor: Double = 1
    /// A quantity that starts at 0 (steps, FLOPs spent): an axis derived from the data includes 0.
    package var fromZero = false

    package init(name: String, unit: String, factor: Double = 1, fromZero: Bool = false) {
        self.name = name
        self.unit = unit
        self.factor = factor
        self.fromZero = fromZero
    }

    /// "name (unit)", or the name alone without a unit.
    package var title: String { unit.isEmpty ? name : "\(name) (\(unit))" }

    package static func percent(_ name: String) -> AxisUnit { AxisUnit(name: name, unit: "%", factor: 100) }
    package static let steps = AxisUnit(name: "training step", unit: "optimizer steps", fromZero: true)

    /// FLOPs in the largest of GFLOP, TFLOP, PFLOP that keeps `maximum` at 1 or more.
    package static func flops(_ name: String, maximum: Double) -> AxisUnit {
        if maximum >= 1e15 { return AxisUnit(name: name, unit: "PFLOP", factor: 1e-15, fromZero: true) }
        if maximum >= 1e12 { return AxisUnit(name: name, unit: "TFLOP", factor: 1e-12, fromZero: true) }
        if maximum >= 1e9 { return AxisUnit(name: name, unit: "GFLOP", factor: 1e-9, fromZero: true) }
        return AxisUnit(name: name, unit: "MFLOP", factor: 1e-6, fromZero: true)
    }
}
