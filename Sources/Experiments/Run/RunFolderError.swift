import Foundation

/// Why a folder cannot be used as asked: the failures a caller can act on (pick another
/// folder, pass `--force`, wait for the other process, restore a config value), as cases a
/// sweep, a compare or a script can match instead of parsing a message. `description` is the
/// one line the CLI prints.
public enum RunFolderError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `path` exists and is a file.
    case notAFolder(path: String)
    /// `path` holds files and is not a run folder; `shown` names some of them.
    case notEmpty(path: String, shown: String)
    /// `path` holds no `run.json`.
    case notARunFolder(path: String)
    /// `path` holds a finished run and `--force` was not given.
    case holdsFinishedRun(path: String)
    /// `path` holds a run of another config; `key` is the first key that differs.
    case holdsOtherConfig(path: String, key: String, there: String, now: String)
    /// Another live process holds `path`'s lock.
    case inUse(path: String, pid: String)
    /// `--resume` on a completed run.
    case alreadyComplete(path: String)
    /// The folder's `config.json` (at `configPath`) was edited after its checkpoint was taken.
    case configEditedSinceCheckpoint(configPath: String, key: String, checkpoint: String, now: String)
    /// A file named `path` exists that PruneLab did not write (it is not listed in `list`).
    case foreignFile(path: String, list: String)

    public var description: String {
        switch self {
        case .notAFolder(let path): "\(path): exists and is not a folder"
        case .notEmpty(let path, let shown):
            "\(path): not empty and not a PruneLab run folder (holds \(shown)); give a new or empty folder"
        case .notARunFolder(let path): "\(path): not a PruneLab run folder (no run.json)"
        case .holdsFinishedRun(let path): "\(path): holds a finished run; pass --force to replace it"
        case .holdsOtherConfig(let path, let key, let there, let now):
            "\(path): holds a run of another config (key '\(key)' is \(there) there, \(now) now); pass --force to replace it"
        case .inUse(let path, let pid): "\(path): in use by another prunelab run (pid \(pid))"
        case .alreadyComplete(let path): "\(path): the run is complete; nothing to resume"
        case .configEditedSinceCheckpoint(let configPath, let key, let checkpoint, let now):
            "\(configPath): key '\(key)' is \(now), but the run's checkpoint was taken with \(checkpoint); a resumed run "
                + "keeps its config: restore the value, or start a new run (another --out, or --force)"
        case .foreignFile(let path, let list):
            "\(path): exists and is not a file PruneLab wrote (not listed in \(list)); left untouched: "
                + "move it away or write elsewhere"
        }
    }
}
