import Foundation

/// A scalar field on a rectangular grid rendered as a standalone SVG document: a filled heatmap, contour lines
/// (marching squares) over it, a colour bar, labelled axes, and an optional path and named points on top (an
/// optimiser's trajectory, the models a plane passes through).
public struct ContourPlot: Sendable {
    public struct Point: Sendable {
        public var name: String
        public var x: Double
        public var y: Double

        public init(name: String, x: Double, y: Double) {
            self.name = name
            self.x = x
            self.y = y
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// What the colours mean, under the colour bar.
    public var valueLabel: String
    public var x: [Double]
    public var y: [Double]
    /// `[ny][nx]` row-major: `values[j * nx + i]` at `(x[i], y[j])`; NaN cells are left grey.
    public var values: [Double]
    /// Colours and contour levels on a log10 scale (positive values only).
    public var logarithmic: Bool
    public var levelCount: Int
    /// Drawn as a connected line through the points, in order.
    public var path: [Point]
    /// Drawn as labelled dots.
    public var points: [Point]
    public var width = 760.0
    public var height = 600.0

    public init(title: String, xLabel: String, yLabel: String, valueLabel: String, x: [Double], y: [Double], values: [Double],
                logarithmic: Bool = false, levelCount: Int = 15, path: [Point] = [], points: [Point] = []) {
        precondition(x.count >= 2 && y.count >= 2 && values.count == x.count * y.count, "a contour plot needs an nx x ny grid, nx, ny >= 2")
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.valueLabel = valueLabel
        self.x = x
        self.y = y
        self.values = values
        self.logarithmic = logarithmic
        self.levelCount = levelCount
        self.path = path
        self.points = points
    }

    var frame: PlotFrame {
        PlotFrame(width: width - 90, height: height, x: Axis(values: x + path.map(\.x) + points.map(\.x), logarithmic: false),
                  y: Axis(values: y + path.map(\.y) + points.map(\.y), logarithmic: false))
    }

    /// The values the colours and levels are spaced in.
    private func scaled(_ value: Double) -> Double {
        guard logarithmic else { return value }
        return value > 0 ? Foundation.log10(value) : .nan
    }

    /// The colour range: the finite scaled values' extremes.
    var range: (low: Double, high: Double) {
        let finite = values.map(scaled).filter(\.isFinite)
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        return high > low ? (low, high) : (low - 0.5, high + 0.5)
    }

    /// The contour levels (in data units), evenly spaced strictly inside the range.
    public var levels: [Double] {
        let (low, high) = range
        return (1...max(1, levelCount)).map { k in
            let s = low + (high - low) * Double(k) / Double(levelCount + 1)
            return logarithmic ? pow(10, s) : s
        }
    }

    public func svg() -> String {
        let frame = frame
        let (low, high) = range
        var body = "<g class=\"heatmap\" shape-rendering=\"crispEdges\">\n"
        let (nx, ny) = (x.count, y.count)
        // Each cell spans halfway to its neighbours.
        func edges(_ axis: [Double]) -> [Double] {
            (0...axis.count).map { k in
                k == 0 ? axis[0] - (axis[1] - axis[0]) / 2 : k == axis.count ? axis[k - 1] + (axis[k - 1] - axis[k - 2]) / 2 : (axis[k - 1] + axis[k]) / 2
            }
        }
        let xEdges = edges(x).map(frame.xPixel), yEdges = edges(y).map(frame.yPixel)
        for j in 0..<ny {
            for i in 0..<nx {
                let value = scaled(values[j * nx + i])
                let colour = value.isFinite ? viridis((value - low) / (high - low)) : "#cccccc"
                let (x0, x1) = (min(xEdges[i], xEdges[i + 1]), max(xEdges[i], xEdges[i + 1]))
                let (y0, y1) = (min(yEdges[j], yEdges[j + 1]), max(yEdges[j], yEdges[j + 1]))
                body += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(x1 - x0 + 0.3))\" height=\"\(f(y1 - y0 + 0.3))\" fill=\"\(colour)\"/>\n"
            }
        }
        body += "</g>\n"
        for level in levels {
            let segments = contourSegments(at: level)
            guard !segments.isEmpty else { continue }
            let d = segments.map { "M\(f(frame.xPixel($0.0.x))) \(f(frame.yPixel($0.0.y)))L\(f(frame.xPixel($0.1.x))) \(f(frame.yPixel($0.1.y)))" }.joined()
            body += "<path class=\"contour\" data-level=\"\(level)\" d=\"\(d)\" fill=\"none\" stroke=\"white\" stroke-opacity=\"0.8\" stroke-width=\"0.9\"/>\n"
        }
        if !path.isEmpty {
            let list = path.map { "\(f(frame.xPixel($0.x))),\(f(frame.yPixel($0.y)))" }.joined(separator: " ")
            body += "<polyline class=\"path\" points=\"\(list)\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.8\"/>\n"
            for p in path { body += "<circle cx=\"\(f(frame.xPixel(p.x)))\" cy=\"\(f(frame.yPixel(p.y)))\" r=\"2.5\" fill=\"#d62728\"/>\n" }
        }
        for p in points {
            let (px, py) = (frame.xPixel(p.x), frame.yPixel(p.y))
            body += "<circle class=\"point\" cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"4\" fill=\"white\" stroke=\"black\"/>"
            body += "<text x=\"\(f(px + 6))\" y=\"\(f(py - 6))\" font-size=\"12\" fill=\"white\" stroke=\"black\" stroke-width=\"0.3\">\(escapeXML(p.name))</text>\n"
        }
        body += frame.axesSVG(title: title, xLabel: xLabel, yLabel: yLabel)
        body += colourBar(frame: frame, low: low, high: high)
        return document(width: width, height: height, body: body)
    }

    private func colourBar(frame: PlotFrame, low: Double, high: Double) -> String {
        let left = frame.right + 24, barWidth = 16.0, steps = 64
        var s = "<g class=\"colour-bar\">\n"
        for k in 0..<steps {
            let t0 = Double(k) / Double(steps), t1 = Double(k + 1) / Double(steps)
            let y1 = frame.bottom - t0 * (frame.bottom - frame.top), y0 = frame.bottom - t1 * (frame.bottom - frame.top)
            s += "<rect x=\"\(f(left))\" y=\"\(f(y0))\" width=\"\(f(barWidth))\" height=\"\(f(y1 - y0 + 0.3))\" fill=\"\(viridis((t0 + t1) / 2))\"/>"
        }
        s += "\n"
        let axis = Axis(values: [low, high], logarithmic: false)
        for tick in axis.ticks where tick >= low && tick <= high {
            let py = frame.bottom - (tick - low) / (high - low) * (frame.bottom - frame.top)
            let label = logarithmic ? String(format: "%g", pow(10, tick)) : axis.label(tick)
            s += "<text class=\"colour-tick\" x=\"\(f(left + barWidth + 3))\" y=\"\(f(py + 4))\" font-size=\"10\">\(label)</text>\n"
        }
        s += "<text class=\"value-label\" x=\"\(f(left + barWidth / 2))\" y=\"\(f(frame.top - 8))\" text-anchor=\"middle\" font-size=\"12\">\(escapeXML(valueLabel))</text>\n"
        return s + "</g>\n"
    }

    /// Marching squares: the segments where the bilinear surface crosses `level`, cell by cell (cells with a NaN
    /// corner are skipped; a saddle's four crossings are paired in edge order).
    func contourSegments(at level: Double) -> [((x: Double, y: Double), (x: Double, y: Double))] {
        let nx = x.count, target = scaled(level)
        var segments: [((x: Double, y: Double), (x: Double, y: Double))] = []
        for j in 0..<(y.count - 1) {
            for i in 0..<(nx - 1) {
                // Corners counter-clockwise from (i, j), each with its position and scaled value.
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)].map { ci, cj in
                    (x: x[ci], y: y[cj], v: scaled(values[cj * nx + ci]))
                }
                guard corners.allSatisfy({ $0.v.isFinite }) else { continue }
                var crossings: [(x: Double, y: Double)] = []
                for k in 0..<4 {
                    let p = corners[k], q = corners[(k + 1) % 4]
                    guard (p.v < target) != (q.v < target) else { continue }
                    let t = (target - p.v) / (q.v - p.v)
                    crossings.append((p.x + t * (q.x - p.x), p.y + t * (q.y - p.y)))
                }
                if crossings.count >= 2 { segments.append((crossings[0], crossings[1])) }
                if crossings.count == 4 { segments.append((crossings[2], crossings[3])) }
            }
        }
        return segments
    }
}

/// Matplotlib's viridis colour map, piecewise linear through nine of its colours, at `t` in [0, 1].
func viridis(_ t: Double) -> String {
    let anchors: [(Double, Double, Double)] = [
        (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141), (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
    ]
    let u = min(1, max(0, t.isFinite ? t : 0)) * Double(anchors.count - 1)
    let k = min(anchors.count - 2, Int(u)), w = u - Double(k)
    let (a, b) = (anchors[k], anchors[k + 1])
    let channel = { (p: Double, q: Double) in Int((p + w * (q - p)).rounded()) }
    return String(format: "#%02x%02x%02x", channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
}
