import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Plotting

/// Every element of an SVG document with its attributes and text, in order.
final class SVGElements: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String], text: String)] = []
    private var open: [Int] = []
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        open.append(elements.count)
        elements.append((name, attributes, ""))
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let current = open.last { elements[current].text += string }
    }

    static func parse(_ svg: String) -> SVGElements? {
        let parser = XMLParser(data: Data(svg.utf8))
        let delegate = SVGElements()
        parser.delegate = delegate
        return parser.parse() ? delegate : nil
    }

    func text(ofClass name: String) -> [String] { elements.filter { $0.attributes["class"] == name }.map(\.text) }
}

@Suite struct LinePlotTests {
    let x = (0..<200).map { Double($0) / 20 - 2 }
    var y: [Double] { x.map { exp(-($0 - 3) * ($0 - 3)) } }

    @Test(arguments: [false, true])
    func parsesWithLabelledAxesAndItsPeakWhereTheDataPeaks(logY: Bool) throws {
        let plot = LinePlot(title: "A <title> & more", xLabel: "eigenvalue", yLabel: "density", logY: logY,
                            series: [.init(name: "slq", x: x, y: y)], markers: [.init(x: 5, label: "outlier")])
        let svg = try #require(SVGElements.parse(plot.svg()))
        #expect(svg.elements.first?.name == "svg")
        #expect(svg.text(ofClass: "title") == ["A <title> & more"])
        #expect(svg.text(ofClass: "x-label") == ["eigenvalue"])
        #expect(svg.text(ofClass: "y-label") == ["density"])
        #expect(svg.text(ofClass: "x-tick").count >= 3 && svg.text(ofClass: "y-tick").count >= 2)
        if logY { #expect(svg.text(ofClass: "y-tick").allSatisfy { $0.hasPrefix("1e") }) }
        // The highest point of the curve (smallest SVG y) sits at the data's peak, x = 3.
        let points = try #require(svg.elements.first { $0.attributes["class"] == "series" }?.attributes["points"])
        let pairs = points.split(separator: " ").map { $0.split(separator: ",").map { Double($0)! } }
        let top = pairs.min { $0[1] < $1[1] }!
        #expect(abs(top[0] - plot.xPixel(3)) < 0.01)
        #expect(abs(top[1] - plot.yPixel(1)) < 0.01)
        #expect(svg.elements.contains { $0.attributes["class"] == "marker" })
    }

    @Test func ticksAreRoundNumbersInsideTheRange() {
        let axis = Axis(values: [-0.37, 4.2], logarithmic: false)
        #expect(axis.ticks.allSatisfy { $0 >= axis.low && $0 <= axis.high })
        #expect(axis.ticks.contains(0) && axis.ticks.contains(2))
        let logarithmic = Axis(values: [3e-5, 20], logarithmic: true)
        #expect(logarithmic.ticks == [1e-4, 1e-3, 1e-2, 1e-1, 1, 10])
    }
}
