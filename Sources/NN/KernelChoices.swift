extension KernelChoices {
    /// The cached choices as flat integers, seven per key (rows, cols, batch, input gradient,
    /// band, im2col, sparse), for checkpoints: a resumed run keeps the kernels the interrupted
    /// one had chosen.
    public func exportChoices() -> [Int64] {
        state.withLock { s in
            s.choices.sorted { "\($0.key)" < "\($1.key)" }.flatMap { k, c in
                [k.rows, k.cols, k.batch, k.inputGradient ? 1 : 0, k.band, k.im2col ? 1 : 0, c == .sparse ? 1 : 0].map(Int64.init)
            }
        }
    }

    /// Adds exported choices to the cache (keys already measured in this process keep theirs).
    public func importChoices(_ flat: [Int64]) {
        guard flat.count % 7 == 0 else { return }
        state.withLock { s in
            for i in stride(from: 0, to: flat.count, by: 7) {
                let v = flat[i..<(i + 7)].map(Int.init)
                let key = KernelCrossover.Key(rows: v[0], cols: v[1], batch: v[2], inputGradient: v[3] == 1, band: v[4], im2col: v[5] == 1)
                if s.choices[key] == nil { s.choices[key] = v[6] == 1 ? .sparse : .dense }
            }
        }
    }
}
