/// The files a sweep or comparison folder holds beside its run folders. They live here, below
/// the Sweeps module, because `OutputFolder` must recognise a sweep folder's own files.
public enum SweepFiles {
    /// Every point of the sweep with its config (`SweepPlan`).
    public static let plan = "sweep-plan.json"
    /// The SLURM array script of a `--backend slurm` sweep.
    public static let slurmScript = "sweep.sbatch"
    /// Files a sweep (or a comparison) writes beside its run folders.
    public static let own: Set<String> = [
        plan, "logs", slurmScript, "runs.csv", "aggregate.csv", "aggregate.md", "curve.csv",
        "comparison.csv", "comparison.md", "timing.csv",
    ]
}
