import TensorCore
import NN

extension SGD: Checkpointable {
    public func save(into archive: StateArchive, prefix: String) {
        for (i, v) in velocity.enumerated() { archive.set("\(prefix)/velocity/\(i)", v.scalars) }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        for i in velocity.indices { velocity[i] = try archive.tensor("\(prefix)/velocity/\(i)", shape: velocity[i].shape) }
    }
}

extension Adam: Checkpointable {
    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/t", t)
        for i in m.indices {
            archive.set("\(prefix)/m/\(i)", m[i].scalars)
            archive.set("\(prefix)/v/\(i)", v[i].scalars)
        }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        t = try archive.int("\(prefix)/t")
        for i in m.indices {
            m[i] = try archive.tensor("\(prefix)/m/\(i)", shape: m[i].shape)
            v[i] = try archive.tensor("\(prefix)/v/\(i)", shape: v[i].shape)
        }
    }
}
