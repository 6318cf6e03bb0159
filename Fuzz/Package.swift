// swift-tools-version: 6.1
import PackageDescription

// Coverage-guided fuzzing of Curvature's readers with libFuzzer (scripts/checks/fuzz.sh builds and runs it):
// `swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer`. A package of its own, so
// that the sanitizer flags never touch the product's build and the product keeps no fuzzing code.
let package = Package(
    name: "CurvatureFuzz",
    dependencies: [.package(name: "Curvature", path: "..")],
    targets: [
        .executableTarget(name: "curvature-fuzz", dependencies: [
            .product(name: "CurvatureModels", package: "Curvature"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
