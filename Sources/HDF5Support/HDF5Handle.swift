import CHDF5

/// An owned HDF5 identifier of one kind, closed with the matching `H5?close` in `deinit`.
///
/// Only created from a non-negative id (see `HDF5Handle.make`); keep the handle in a local
/// `let` for as long as its `id` is used, so its lifetime covers every C call that takes it.
final class HDF5Handle {
    enum Kind {
        case group, dataset, dataspace, datatype, attribute, object, propertyList
    }

    let id: hid_t
    let kind: Kind

    private init(id: hid_t, kind: Kind) {
        self.id = id
        self.kind = kind
    }

    /// Wraps `id`, or throws an `HDF5Error` naming `call` when it is negative (a failed call).
    static func make(
        _ id: hid_t, _ kind: Kind, file: String, _ subject: HDF5Error.Subject,
        call: String
    ) throws -> HDF5Handle {
        guard id >= 0 else { throw HDF5Library.failure(file, subject, call) }
        return HDF5Handle(id: id, kind: kind)
    }

    deinit {
        let id = self.id
        let kind = self.kind
        HDF5Library.locked {
            switch kind {
            case .group: _ = H5Gclose(id)
            case .dataset: _ = H5Dclose(id)
            case .dataspace: _ = H5Sclose(id)
            case .datatype: _ = H5Tclose(id)
            case .attribute: _ = H5Aclose(id)
            case .object: _ = H5Oclose(id)
            case .propertyList: _ = H5Pclose(id)
            }
        }
    }
}

/// Throws an `HDF5Error` naming `call` when an `herr_t`/`htri_t` status is negative.
@discardableResult
func checkStatus<S: BinaryInteger>(
    _ status: S, file: String, _ subject: HDF5Error.Subject,
    call: String
) throws -> S {
    guard status >= 0 else { throw HDF5Library.failure(file, subject, call) }
    return status
}
