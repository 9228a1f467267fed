import ArgumentParser

/// The flags of the commands that train (`run`, `compare`): config overrides, replacing
/// finished runs, and the progress display.
struct RunFlags: ParsableArguments {
    @Option(name: .customLong("set"), help: "Override a config value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "Replace finished run folders (PruneLab removes only the files it wrote).")
    var force = false

    @Flag(name: .customLong("no-progress"), help: "Do not draw progress bars (the per-run lines stay).")
    var noProgress = false
}
