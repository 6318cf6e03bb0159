// swift-tools-version: 6.1
// Benchmarks live in their own package so `swift build` and `swift test` at the root never compile them.
import PackageDescription

let package = Package(
    name: "CurvatureBenchmarks",
    dependencies: [.package(name: "Curvature", path: "../")],
    targets: [
        .executableTarget(
            name: "CurvatureBenchmarks",
            dependencies: [.product(name: "Curvature", package: "Curvature")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
