import Schema

/// Prune once, at initialisation: before the first optimizer step each layer goes straight to
/// its final target (`layer_sparsity` or `target_sparsity`) by the criterion's scores, and the
/// mask then holds for the whole run. With `snip` this is SNIP (Lee et al. 2019); with
/// `grasp`, GraSP; with `random`, random pruning at initialisation.
public final class InitSchedule: Schedule {
    public static let name = "init"
    public static let summary = "prune to the target once before training (SNIP / GraSP style), then train the sparse net"

    public init(settings: NoSettings, context: ScheduleContext) {}

    public var checksAtInitialization: Bool { true }

    public func isCheck(step t: Int) -> Bool { t == 0 }

    public func request(step t: Int, layer: LayerState) -> PruneRequest {
        let keep = ExactCount.kept(layer.total, sparsity: layer.finalTarget)
        return .lowest(max(0, layer.alive - keep), target: layer.finalTarget)
    }

    /// The only check is at step 0.
    public func isFinished(after t: Int, layers: [LayerState]) -> Bool { true }
}
