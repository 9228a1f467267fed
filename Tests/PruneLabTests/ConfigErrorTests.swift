import Testing
import Foundation
import Schema
@testable import Experiments

/// Config errors name the key and say what was wrong, for values in the file and via `--set`.
@Suite struct ConfigErrorTests {
    static let base =
        #"{"data": {"format": "idx", "dir": "/nonexistent"}, "model": {"preset": "lenet-300-100"}, "training": {"epochs": 2}}"#

    func message(_ json: String = base, _ overrides: [String] = []) -> String? {
        thrownMessage { _ = try ConfigLoader.decode(Data(json.utf8), overrides: overrides) }
    }

    @Test(arguments: [
        ("seed=-1", "key 'seed': must be a non-negative integer, got -1"),
        ("seed=1.5", "key 'seed': must be a non-negative integer, got 1.5"),
        ("seed=1e30", "key 'seed': must be a non-negative integer from 0 to 18446744073709551615, got 1e+30"),
        (
            "seed=18446744073709551616",
            "key 'seed': must be a non-negative integer from 0 to 18446744073709551615, got 18446744073709551616"
        ),
        ("training.epochs=1.5", "key 'training.epochs': must be an integer, got 1.5"),
        ("training.epochs=1e30", "key 'training.epochs': must be an integer from -9223372036854775808 to 9223372036854775807, got 1e+30"),
        (
            "training.epochs=18446744073709551616",
            "key 'training.epochs': must be an integer from -9223372036854775808 to 9223372036854775807, got 18446744073709551616"
        ),
        ("pruning.han.rounds=2.5", "key 'pruning.han.rounds': must be an integer, got 2.5"),
        ("pruning.han.rounds=1000000", "key 'pruning.han.rounds': must be in 0...10000, got 1000000"),
        ("training.epochs=-1", "key 'training.epochs': must be >= 0, got -1"),
        ("data.train_limit=0.5", "key 'data.train_limit': must be an integer, got 0.5"),
        (#"model.layers=[{"type": "dense", "units": 2.5}]"#, "key 'model.layers[0].units': must be an integer, got 2.5"),
        ("training.optimizer=sgdx", #"key 'training.optimizer': must be one of sgd, adam; got "sgdx""#),
        ("data.format=csv", #"key 'data.format': must be one of idx, hdf5, cifar10, npy, npz, images; got "csv""#),
        ("training.schedule.kind=linear", #"key 'training.schedule.kind': must be one of constant, step, cosine; got "linear""#),
    ])
    func overrideErrorsNameTheKey(override: String, expected: String) {
        #expect(message(Self.base, [override]) == expected)
    }

    /// The same values written in the file itself.
    @Test func fileValuesNameTheKey() {
        let seed = #"{"seed": -1, "data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}}"#
        #expect(message(seed) == "key 'seed': must be a non-negative integer, got -1")
        let epochs = #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}, "training": {"epochs": 1e30}}"#
        #expect(message(epochs)?.hasPrefix("key 'training.epochs': must be an integer") == true)
    }

    @Test func largestSeedIsAccepted() throws {
        let c = try ConfigLoader.decode(Data(Self.base.utf8), overrides: ["seed=18446744073709551615"])
        #expect(c.seed == UInt64.max)
        var row = SummaryRow()
        row.seed = UInt64.max
        #expect(row.columns.first { $0.name == "seed" }.map { "\($0.value)" }?.contains("18446744073709551615") == true)
    }
}

@Suite struct DuplicateKeyTests {
    @Test(arguments: [
        (#"{"a": 1, "a": 2}"#, "a"),
        (#"{"training": {"epochs": 2, "lr": 1, "epochs": 20}}"#, "training.epochs"),
        (#"{"m": {"layers": [{"units": 1}, {"units": 2, "type": "x", "units": 3}]}}"#, "m.layers[1].units"),
        (#"{"a\u0062": 1, "ab": 2}"#, "ab"),
        (#"{"k\"q": 1, "k\"q": 2}"#, "k\"q"),
    ])
    func duplicateIsFound(json: String, path: String) {
        #expect(DuplicateKeys.first(in: Data(json.utf8)) == path)
    }

    @Test(arguments: [
        #"{"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 1}]}"#,
        #"{"a": "{\"a\": 1, \"a\": 2}", "b": ["a", "a"]}"#,
        #"{"x\\": 1, "x": 2}"#,
        #"[1, 2, {"a": [], "b": {}}]"#,
    ])
    func distinctKeysPass(json: String) {
        #expect(DuplicateKeys.first(in: Data(json.utf8)) == nil)
    }

    @Test func configAndOverrideDuplicatesAreErrors() {
        let file =
            #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}, "training": {"epochs": 2, "epochs": 20}}"#
        #expect(thrownMessage { _ = try ConfigLoader.decode(Data(file.utf8)) } == "key 'training.epochs': appears twice in one object")
        let ok = #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}}"#
        #expect(
            thrownMessage { _ = try ConfigLoader.decode(Data(ok.utf8), overrides: [#"training={"epochs": 1, "epochs": 2}"#]) }
                == "key 'training.epochs': appears twice in one object (in --set training=...)")
    }
}
