// swift-tools-version:6.0
import PackageDescription

// Module layout and dependency direction: see docs in README ("Design").
// C libraries sit at the bottom, each behind one system-library target found through
// pkg-config and installed from Debian (see .ci/run).
let package = Package(
    name: "PruneLab",
    products: [
        .executable(name: "prunelab", targets: ["PruneLabCLI"]),
        .library(name: "Experiments", targets: ["Experiments", "Sweeps", "Reports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),

        .target(name: "CAllocator"),
        // JPEG/PNG decoding with libjpeg's setjmp error handling, which Swift cannot express.
        .target(name: "CImageDecode", dependencies: ["CJPEG", "CPNG"]),
        // Sparse kernels for pruned layers (AVX-512 / AVX2 / portable paths chosen at run time).
        // No unsafeFlags (they make the package unusable as a dependency): these two targets
        // used to pass -O3, but a release build at SwiftPM's own -O2 is as fast. Checked on
        // 2026-12-06 with `prunelab bench --sparsity 0.92 --kernels sparse --repeats 5`, release
        // builds with and without -O3 run alternately three times each under nice -n 10, on 2
        // cores that another build was loading (load average 1.5-2.8): median epoch 0.130 s
        // (-O3) vs 0.125 s (-O2), fc1 sparse step 0.113 ms in both; the spread between runs of
        // one build (0.119-0.139 s) is larger than the difference.
        .target(name: "CSparseKernels"),
        // The trajectory-statistics update behind the dynamic criteria (same three paths).
        .target(name: "CTrajectoryKernels", dependencies: ["CSparseKernels"]),
        .target(name: "TensorCore", dependencies: ["CBLAS", "CAllocator"]),
        .target(name: "NN", dependencies: ["TensorCore", "CSparseKernels"]),
        // The CPU's spin-wait hint for the data-parallel worker team.
        .target(name: "CSpinWait"),
        .target(name: "Training", dependencies: ["TensorCore", "NN", "CSpinWait"]),
        .target(name: "Schema"),
        .target(name: "Pruning", dependencies: ["TensorCore", "NN", "Schema", "CTrajectoryKernels"]),
        // Post-training quantization and binarization of weight tensors: codes, scales, packing.
        .target(name: "Quantization"),
        .target(name: "HDF5Support", dependencies: ["CHDF5"]),
        .target(name: "Datasets", dependencies: ["TensorCore", "HDF5Support", "CZlib", "CImageDecode"]),
        // ONNX models from PruneLab's layers: the protobuf schema's generated messages (see
        // Sources/ONNX/README.md) and the graph builder.
        .target(name: "ONNX",
                dependencies: ["TensorCore", "NN", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["README.md"]),
        .target(name: "Experiments",
                dependencies: [
                    "Schema", "TensorCore", "NN", "Training", "Pruning", "Quantization", "HDF5Support", "Datasets",
                    "ONNX", "Charts",
                ]),
        // SVG charts (axes, scales, marks, a palette): the report's and the predictability figures.
        .target(name: "Charts"),
        // Sweeps and comparisons: plans, points, SLURM, status, aggregates, comparison tables.
        .target(name: "Sweeps", dependencies: ["Schema", "Experiments", "Charts"]),
        // The HTML report and `inspect`: read run, compare and sweep folders, present them.
        .target(name: "Reports", dependencies: ["Schema", "Experiments", "Sweeps", "Charts"]),
        .executableTarget(name: "PruneLabCLI", dependencies: [
            "Experiments", "Sweeps", "Reports",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "PruneLabTests",
                    dependencies: ["Schema", "TensorCore", "NN", "Training", "Pruning", "Quantization",
                                   "HDF5Support", "Datasets", "Experiments", "Sweeps", "Reports", "Charts", "ONNX",
                                   "CTrajectoryKernels", "CSparseKernels"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
