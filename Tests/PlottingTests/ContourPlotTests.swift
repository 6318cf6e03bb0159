import Foundation
import Testing
@testable import Plotting

@Suite struct ContourPlotTests {
    let axis = (0..<41).map { Double($0) / 20 - 1 }
    var paraboloid: [Double] { axis.flatMap { y in axis.map { x in x * x + 4 * y * y } } }

    @Test func contoursOfAParaboloidAreItsEllipses() {
        let plot = ContourPlot(title: "t", xLabel: "a", yLabel: "b", valueLabel: "loss", x: axis, y: axis, values: paraboloid)
        for level in plot.levels {
            let segments = plot.contourSegments(at: level)
            #expect(!segments.isEmpty)
            // Linear interpolation along cell edges: within a cell's curvature error of the ellipse x^2 + 4 y^2 = level.
            for (p, q) in segments {
                for point in [p, q] { #expect(abs(point.x * point.x + 4 * point.y * point.y - level) < 0.02) }
            }
        }
    }

    @Test(arguments: [false, true])
    func parsesWithLabelledAxesAHeatmapAndThePath(logarithmic: Bool) throws {
        var values = paraboloid.map { $0 + 0.01 }
        values[7] = .nan
        let plot = ContourPlot(title: "loss landscape", xLabel: "x (||d|| = 1)", yLabel: "y", valueLabel: "loss", x: axis, y: axis,
                               values: values, logarithmic: logarithmic, path: [.init(name: "0", x: -0.8, y: 0.5), .init(name: "1", x: 0, y: 0)],
                               points: [.init(name: "model 2", x: 1, y: 0)])
        let svg = try #require(SVGElements.parse(plot.svg()))
        #expect(svg.text(ofClass: "title") == ["loss landscape"])
        #expect(svg.text(ofClass: "x-label") == ["x (||d|| = 1)"] && svg.text(ofClass: "y-label") == ["y"])
        #expect(svg.text(ofClass: "x-tick").count >= 3 && svg.text(ofClass: "y-tick").count >= 3)
        #expect(svg.text(ofClass: "value-label") == ["loss"] && svg.text(ofClass: "colour-tick").count >= 2)
        #expect(svg.elements.filter { $0.name == "rect" && $0.attributes["fill"] == "#cccccc" }.count == 1)
        #expect(svg.elements.filter { $0.attributes["class"] == "contour" }.count == plot.levels.count)
        #expect(svg.elements.contains { $0.attributes["class"] == "path" } && svg.elements.contains { $0.attributes["class"] == "point" })
        if logarithmic {
            // Log levels are geometrically spaced.
            let levels = plot.levels
            #expect(abs(levels[2] / levels[1] - levels[1] / levels[0]) < 1e-9)
        }
    }
}
