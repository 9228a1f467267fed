/// A failed HDF5 operation: names the file, the object inside it and the failing call.
///
/// `description` is one line, `"<file>: <subject>: <message>"`, for example
/// `data/x.h5: dataset 'X_train': H5Dread failed: <innermost HDF5 error>`; the subject part is
/// left out for file-level failures (`data/x.h5: not an HDF5 file`).
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// What inside the file the failure concerns.
    public enum Subject: Equatable, Sendable, CustomStringConvertible {
        case file
        case dataset(String)
        case group(String)
        /// An object of unknown kind (a dataset or group an attribute hangs on).
        case object(String)
        case attribute(String, on: String)

        public var description: String {
            switch self {
            case .file: return "file"
            case .dataset(let name): return "dataset '\(name)'"
            case .group(let name): return "group '\(name)'"
            case .object(let name): return "object '\(name)'"
            case .attribute(let name, let path): return "attribute '\(name)' on '\(path)'"
            }
        }
    }

    public var file: String
    public var subject: Subject
    public var message: String

    public init(file: String, _ subject: Subject, _ message: String) {
        self.file = file
        self.subject = subject
        self.message = message
    }

    public var description: String {
        subject == .file ? "\(file): \(message)" : "\(file): \(subject): \(message)"
    }
}
