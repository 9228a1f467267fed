import Testing
import Foundation
import Schema
import Pruning
@testable import Experiments

@Suite struct ConfigTests {
    static let minimal = """
        {"name": "t", "data": {"format": "idx", "dir": "data/mnist"}, "model": {"preset": "lenet-300-100"}}
        """

    func decode(_ json: String, overrides: [String] = []) throws -> ExperimentConfig {
        try ConfigLoader.decode(Data(json.utf8), overrides: overrides)
    }

    func error(_ json: String, overrides: [String] = []) -> ConfigError? {
        do {
            _ = try decode(json, overrides: overrides)
            return nil
        } catch let e as ConfigError {
            return e
        } catch {
            Issue.record("expected a ConfigError, got \(error)")
            return nil
        }
    }

    @Test func defaultsAreFilledIn() throws {
        let c = try decode(Self.minimal)
        #expect(c.seed == 1)
        #expect(c.training.batchSize == .samples(128))
        #expect(c.training.epochs == 10)
        #expect(c.training.schedule.kind == .constant)
        #expect(c.model.initializer == .he)
    }

    @Test func canonicalJSONRoundTrips() throws {
        let c = try decode(Self.minimal, overrides: ["training.batch_size=\"full\"", "training.eval_every=\"100it\""])
        let again = try ConfigLoader.decode(try ConfigLoader.canonicalJSON(c))
        #expect(again == c)
        let text = String(decoding: try ConfigLoader.canonicalJSON(c), as: UTF8.self)
        #expect(text.contains("\"batch_size\" : \"full\""))
        #expect(text.contains("\"eval_every\" : \"100it\""))
    }

    @Test func unknownKeysAreRejectedWithTheirPath() {
        let e = error(#"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}, "training": {"lerning_rate": 0.1}}"#)
        #expect(e?.path == "training.lerning_rate")
        #expect(e?.message.contains("unknown key") == true)
        let nested = error(
            #"{"data": {"format": "idx", "dir": "d"}, "model": {"layers": [{"units": 3, "activation": "softmax", "bias": true}]}}"#)
        #expect(nested?.path == "model.layers[0].bias")
        let top = error(#"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}, "sed": 3}"#)
        #expect(top?.path == "sed")
    }

    @Test func wrongTypesNameThePath() {
        let e = error(Self.minimal, overrides: ["training.epochs=\"ten\""])
        #expect(e?.path == "training.epochs")
        let f = error(
            #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}, "training": {"learning_rate": null}}"#)
        #expect(f?.path == "training.learning_rate")
        #expect(f?.message.contains("null") == true)
    }

    @Test(arguments: [
        ("training.learning_rate=-0.1", "training.learning_rate"),
        ("training.batch_size=0", "training.batch_size"),
        ("training.batch_size=\"half\"", "training.batch_size"),
        ("training.momentum=1.5", "training.momentum"),
        ("training.epochs=-1", "training.epochs"),
        ("training.eval_every=\"3 epochs\"", "training.eval_every"),
        ("model.preset=\"lenet-9000\"", "model.preset"),
        ("data.format=\"csv\"", "data.format"),
        ("data.train_limit=-5", "data.train_limit"),
    ])
    func outOfRangeValuesAreRejected(override: String, path: String) {
        let e = error(Self.minimal, overrides: [override])
        #expect(e?.path == path, "\(override) gave \(String(describing: e))")
    }

    @Test func malformedJSONAndMissingFile() {
        let e = error("{\"name\": ")
        #expect(e?.message.hasPrefix("invalid JSON") == true)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/x.json") }
        do { _ = try ConfigLoader.load(path: "/nonexistent/x.json") } catch {
            #expect("\(error)" == "/nonexistent/x.json: no such file")
        }
    }

    @Test func overridesCreateAndReplaceValues() throws {
        let c = try decode(Self.minimal, overrides: ["seed=7", "training.schedule.kind=cosine", "name=run-a"])
        #expect(c.seed == 7)
        #expect(c.training.schedule.kind == .cosine)
        #expect(c.name == "run-a")
        let unset = try decode(Self.minimal, overrides: ["training.epochs=3", "training.epochs=null"])
        #expect(unset.training.epochs == 10)
        #expect(error(Self.minimal, overrides: ["seed"])?.message.contains("key.path=value") == true)
    }

    @Test func durations() throws {
        #expect(try Duration(parsing: "2ep") == Duration(2, .epochs))
        #expect(try Duration(parsing: "500it").steps(perEpoch: 10) == 500)
        #expect(try Duration(parsing: "3ep").steps(perEpoch: 10) == 30)
        #expect(throws: ConfigError.self) { try Duration(parsing: "12") }
    }

    @Test func sigmoidOutputNeedsOneUnit() {
        let e = error(
            #"{"data": {"format": "idx", "dir": "d"}, "model": {"layers": [{"units": 4, "activation": "relu"}, {"units": 2, "activation": "sigmoid"}]}}"#
        )
        #expect(e?.path == "model.layers[1].units")
    }

    @Test func everyShippedConfigDecodes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        for f in files {
            _ = try ConfigLoader.load(path: dir.appendingPathComponent(f).path)
        }
    }

    static func layers(_ l: String) -> String {
        #"{"data": {"format": "idx", "dir": "d"}, "model": {"layers": "# + l + "}}"
    }

    @Test func convLayerSpecsDecodeWithDefaults() throws {
        let c = try decode(
            Self.layers(
                #"[{"type": "conv", "filters": 4, "kernel": 3}, {"type": "pool", "kernel": 2}, {"type": "flatten"}, {"units": 10, "activation": "softmax"}]"#
            ))
        let l = try #require(c.model.layers)
        #expect(l[0] == .conv(filters: 4, kernel: 3, stride: 1, padding: 0, activation: .none))
        #expect(l[1] == .pool(kernel: 2, stride: 2))
        #expect(l[2] == .flatten)
    }

    @Test(arguments: [
        (#"[{"type": "conv", "filters": 4, "kernel": 3, "units": 3}, {"units": 10, "activation": "softmax"}]"#, "model.layers[0].units"),
        (#"[{"type": "pool", "kernel": 2, "activation": "relu"}, {"units": 10, "activation": "softmax"}]"#, "model.layers[0].activation"),
        (#"[{"type": "conv", "filters": 0, "kernel": 3}, {"units": 10, "activation": "softmax"}]"#, "model.layers[0].filters"),
        (
            #"[{"type": "conv", "filters": 2, "kernel": 3, "padding": -1}, {"units": 10, "activation": "softmax"}]"#,
            "model.layers[0].padding"
        ),
        (#"[{"type": "conv", "filters": 2}, {"units": 10, "activation": "softmax"}]"#, "model.layers[0].kernel"),
        (#"[{"units": 10, "activation": "softmax"}, {"type": "conv", "filters": 2, "kernel": 3}]"#, "model.layers[0].activation"),
    ])
    func badConvSpecsNameTheKey(_ json: String, _ path: String) {
        #expect(error(Self.layers(json))?.path == path)
    }

    @Test func shapeErrorsNameTheLayerWhenTheModelIsBuilt() throws {
        let c = try decode(
            Self.layers(
                #"[{"type": "conv", "filters": 2, "kernel": 5}, {"type": "pool", "kernel": 2}, {"type": "conv", "filters": 2, "kernel": 13}, {"units": 10, "activation": "softmax"}]"#
            ))
        #expect(throws: ConfigError(path: "model.layers[2]", "kernel 13 is larger than its input 12x12")) {
            try ModelRegistry.build(c.model, inputShape: [1, 28, 28], classCount: 10)
        }
        let flat = try decode(
            Self.layers(#"[{"units": 8, "activation": "relu"}, {"type": "pool", "kernel": 2}, {"units": 10, "activation": "softmax"}]"#))
        #expect(throws: ConfigError.self) { try ModelRegistry.build(flat.model, inputShape: [1, 28, 28], classCount: 10) }
        let lenet5 = try ModelRegistry.build(
            try decode(#"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-5"}}"#).model,
            inputShape: [1, 28, 28], classCount: 10)
        #expect(lenet5.layers.map(\.name) == ["conv1", "pool1", "conv2", "pool2", "flatten1", "fc1", "act5", "fc2"])
        #expect(lenet5.weightCounts.total == 430_500)
        #expect(lenet5.parameters.reduce(0) { $0 + $1.value.count } == 431_080)
    }

    @Test func structuredKeysAreChecked() {
        let base =
            #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-5"}, "pruning": {"method": "structured", "structured": "#
        #expect(error(base + #"{"ratio": 1}}}"#)?.path == "pruning.structured.ratio")
        #expect(error(base + #"{"criterion": "l2"}}}"#)?.path == "pruning.structured.criterion")
        #expect(error(base + #"{"every": "0ep"}}}"#)?.path == "pruning.structured.every")
        #expect(error(base + #"{"ratios": 0.5}}}"#)?.path == "pruning.structured.ratios")
    }
}

@Suite struct MethodSectionTests {
    static func pruning(_ p: String) -> String {
        #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}, "pruning": "# + p + "}"
    }

    func error(_ json: String, overrides: [String] = []) -> ConfigError? {
        do {
            _ = try ConfigLoader.decode(Data(json.utf8), overrides: overrides)
            return nil
        } catch let e as ConfigError { return e } catch {
            Issue.record("expected a ConfigError, got \(error)")
            return nil
        }
    }

    /// Every key the flat pruning block had is refused with the key's new home.
    @Test(arguments: PruningConfig.movedKeys.sorted { $0.key < $1.key })
    func movedKeysNameTheirNewPlace(_ moved: (key: String, value: String)) {
        let e = error(Self.pruning(#"{"method": "han", "\#(moved.key)": 1}"#))
        #expect(e?.path == "pruning.\(moved.key)")
        #expect(e?.message.contains(moved.value) == true, "\(String(describing: e))")
    }

    @Test func noneIsNowDense() {
        #expect(error(Self.pruning(#"{"method": "none"}"#))?.message.contains("\"dense\"") == true)
    }

    /// Each error lists every registered name of its registry.
    @Test func unknownMethodCriterionAndScheduleListTheKnownOnes() {
        let m = error(Self.pruning(#"{"method": "obd"}"#))
        for name in MethodRegistry.names { #expect(m?.message.contains(name) == true, "\(name): \(m?.message ?? "")") }
        let c = error(Self.pruning(#"{"method": "dynamic", "dynamic": {"criterion": "obs"}}"#))
        #expect(c?.path == "pruning.dynamic.criterion")
        for name in CriterionRegistry.names { #expect(c?.message.contains(name) == true, "\(name): \(c?.message ?? "")") }
        let s = error(Self.pruning(#"{"method": "dynamic", "dynamic": {"schedule": "linear-ramp"}}"#))
        #expect(s?.path == "pruning.dynamic.schedule")
        for name in ScheduleRegistry.names { #expect(s?.message.contains(name) == true, "\(name): \(s?.message ?? "")") }
    }

    @Test func pluginSectionsAreStrictAndRangeChecked() {
        let base = #"{"method": "dynamic", "dynamic": {"criterion": "linear", "#
        #expect(error(Self.pruning(base + #""linear": {"windw": 3}}}"#))?.path == "pruning.dynamic.linear.windw")
        #expect(error(Self.pruning(base + #""linear": {"r2_threshold": 2}}}"#))?.path == "pruning.dynamic.linear.r2_threshold")
        #expect(error(Self.pruning(base + #""cubic": {"max_per_check": 0}}}"#))?.path == "pruning.dynamic.cubic.max_per_check")
        // a section of a plug-in not chosen is still checked
        #expect(error(Self.pruning(base + #""stalled": {"fraction": -1}}}"#))?.path == "pruning.dynamic.stalled.fraction")
        #expect(error(Self.pruning(#"{"method": "dense", "han": {"rounds": -1}}"#))?.path == "pruning.han.rounds")
    }

    /// A schedule that needs finished decisions with a criterion that makes none: the error
    /// names every criterion that does.
    @Test func adaptiveNeedsACriterionThatDecidesFinished() throws {
        let other = try #require(CriterionRegistry.all.first { !$0.decidesFinished })
        let e = error(Self.pruning(#"{"method": "dynamic", "dynamic": {"criterion": "\#(other.name)", "schedule": "adaptive"}}"#))
        #expect(e?.path == "pruning.dynamic.schedule")
        for c in CriterionRegistry.all where c.decidesFinished {
            #expect(e?.message.contains(c.name) == true, "\(c.name): \(e?.message ?? "")")
        }
    }

    /// config.json keeps the chosen method's section only, and decodes back to the same config.
    @Test func canonicalConfigKeepsOnlyTheChosenSections() throws {
        let c = try ConfigLoader.decode(
            Data(
                Self.pruning(#"{"method": "dynamic", "han": {"rounds": 2}, "dynamic": {"criterion": "stalled", "linear": {"window": 3}}}"#)
                    .utf8))
        let text = String(decoding: try ConfigLoader.canonicalJSON(c), as: UTF8.self)
        #expect(!text.contains("\"han\"") && !text.contains("\"linear\""))
        #expect(text.contains("\"stalled\"") && text.contains("\"cubic\""))
        #expect(try ConfigLoader.decode(try ConfigLoader.canonicalJSON(c)) == c)
    }
}
