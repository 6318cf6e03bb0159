// swift-tools-version: 6.1
// A package that depends on Curvature as users will: by a git URL and a version. scripts/checks/consumer.sh
// replaces CURVATURE_URL with a tagged local clone and builds and runs it; SwiftPM refuses a dependency with unsafe
// flags here, which a path dependency or the package's own build would not reveal.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(url: "CURVATURE_URL", from: "1.0.0")],
    targets: [
        .executableTarget(name: "Consumer", dependencies: [
            .product(name: "CurvatureSpectra", package: "Curvature"),
            .product(name: "CurvatureHTSR", package: "Curvature"),
            // The umbrella too: it holds every library target, so an unsafe flag anywhere is caught.
            .product(name: "Curvature", package: "Curvature"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
