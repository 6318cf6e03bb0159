// swift-tools-version: 6.1
import PackageDescription

// No unsafe flags: SwiftPM refuses them in a package used as a versioned dependency. The project's scripts build
// and test in release mode instead (`-c release -Xswiftc -enable-testing`), since unoptimised generic tensor loops
// run 10-50x slower.
let package = Package(
    name: "Curvature",
    products: [
        // Everything, or only the part a user needs: weight files, HTSR (no data, no autodiff), spectra of any
        // linear operator, or models and their curvature.
        .library(name: "Curvature", targets: ["Curvature"]),
        .library(name: "CurvatureWeightFiles", targets: ["ModelFormats"]),
        .library(name: "CurvatureHTSR", targets: ["HTSR"]),
        .library(name: "CurvatureSpectra", targets: ["Spectra"]),
        .library(name: "CurvatureModels", targets: ["ModelImport", "SpectrumAnalysis", "Landscape"]),
        .executable(name: "curvature", targets: ["CurvatureCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.30.0"),
        // `swift package generate-documentation` (scripts/checks/docs-catalog.sh builds the DocC catalog in CI).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // System-library shims: Debian's libopenblas-dev, liblapacke-dev, libfftw3-dev.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CFFTW3", pkgConfig: "fftw3",
                       providers: [.apt(["libfftw3-dev"])]),
        // Debian's libopenmpi-dev (Open MPI): data-parallel runs under mpirun or srun.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        // Debian's libhdf5-dev: loss-landscape's surface and direction files, Keras weight files.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),

        .target(name: "LinearAlgebra", dependencies: ["CBLAS", "CLAPACKE", "CFFTW3"]),
        .target(name: "ModelFormats", dependencies: [
            "LinearAlgebra", "Reporting", "CHDF5",
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "HTSR", dependencies: ["LinearAlgebra", "ModelFormats", "Plotting", "Reporting"]),
        .target(name: "Autodiff", dependencies: ["LinearAlgebra"]),
        .target(name: "NeuralNetworks", dependencies: ["LinearAlgebra", "Autodiff"]),
        .target(name: "Spectra", dependencies: ["LinearAlgebra"]),
        .target(name: "SpectrumAnalysis", dependencies: ["LinearAlgebra", "ModelFormats", "NeuralNetworks", "ModelImport", "Spectra", "Plotting", "Reporting"]),
        .target(name: "Plotting"),
        .target(name: "Reporting"),
        .target(name: "Distributed", dependencies: ["CMPI", "NeuralNetworks", "ModelImport", "HTSR", "Landscape"]),
        .target(name: "Landscape", dependencies: ["LinearAlgebra", "ModelFormats", "NeuralNetworks", "ModelImport", "Spectra", "Plotting", "Reporting"]),
        .target(name: "ModelImport", dependencies: ["LinearAlgebra", "ModelFormats", "Autodiff", "NeuralNetworks", "Reporting"],
                resources: [.copy("Resources/digits.npz")]),
        .target(name: "Curvature", dependencies: ["LinearAlgebra", "ModelFormats", "HTSR", "Autodiff", "NeuralNetworks", "ModelImport", "Spectra", "Plotting", "Reporting", "SpectrumAnalysis", "Landscape", "Distributed"]),
        .executableTarget(name: "CurvatureCLI", dependencies: [
            "Curvature",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Runnable examples of the library API (docs/examples.md); scripts/test.sh builds and runs them.
        .executableTarget(name: "SpectrumOfASwiftModel", dependencies: ["Curvature"], path: "Examples/SpectrumOfASwiftModel"),
        .executableTarget(name: "HTSROfSafetensors", dependencies: ["Curvature"], path: "Examples/HTSROfSafetensors"),
        .executableTarget(name: "HessianLandscape", dependencies: ["Curvature"], path: "Examples/HessianLandscape"),
        .executableTarget(name: "SagunOutliers", dependencies: ["Curvature"], path: "Examples/SagunOutliers"),
        .executableTarget(name: "ResumableSpectrum", dependencies: ["Curvature"], path: "Examples/ResumableSpectrum"),

        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "ModelFormatsTests", dependencies: [
                        "ModelFormats", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                    ],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "HTSRTests", dependencies: ["HTSR"]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff"]),
        .testTarget(name: "NeuralNetworksTests", dependencies: ["NeuralNetworks", "ModelFormats"]),
        .testTarget(name: "ModelImportTests", dependencies: ["ModelImport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SpectraTests", dependencies: ["Spectra", "NeuralNetworks"]),
        .testTarget(name: "SpectrumAnalysisTests", dependencies: ["SpectrumAnalysis", "ModelImport", "Spectra"]),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting"]),
        .testTarget(name: "LandscapeTests", dependencies: ["Landscape", "NeuralNetworks", "ModelImport", "Reporting"]),
        .testTarget(name: "CurvatureCLITests", dependencies: ["CurvatureCLI", "Curvature"]),
    ],
    swiftLanguageModes: [.v6]
)
