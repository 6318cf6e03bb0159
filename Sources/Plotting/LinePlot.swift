import Foundation

/// A line chart rendered as a standalone SVG document: labelled axes with ticks, linear or base-10 logarithmic
/// scales, several series, and vertical markers (outliers, thresholds).
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public var color: String
        /// Draw points as dots instead of a connected line.
        public var dots: Bool

        public init(name: String, x: [Double], y: [Double], color: String = "#1f77b4", dots: Bool = false) {
            precondition(x.count == y.count, "a series needs as many x as y values")
            self.name = name
            self.x = x
            self.y = y
            self.color = color
            self.dots = dots
        }
    }

    /// A vertical line at `x` with a short label.
    public struct Marker: Sendable {
        public var x: Double
        public var label: String
        public var color: String

        public init(x: Double, label: String, color: String = "#d62728") {
            self.x = x
            self.label = label
            self.color = color
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logX: Bool
    public var logY: Bool
    public var series: [Series]
    public var markers: [Marker]
    /// Horizontal lines at these y values, labelled (thresholds).
    public var horizontalLines: [(y: Double, label: String)]
    public var width = 720.0
    public var height = 440.0

    public init(title: String, xLabel: String, yLabel: String, logX: Bool = false, logY: Bool = false,
                series: [Series] = [], markers: [Marker] = [], horizontalLines: [(y: Double, label: String)] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logX = logX
        self.logY = logY
        self.series = series
        self.markers = markers
        self.horizontalLines = horizontalLines
    }

    var frame: PlotFrame {
        let xs = series.flatMap(\.x) + markers.map(\.x)
        let ys = series.flatMap(\.y) + horizontalLines.map(\.y)
        return PlotFrame(width: width, height: height,
                         x: Axis(values: xs, logarithmic: logX), y: Axis(values: ys, logarithmic: logY, fromZero: !logY))
    }

    /// The horizontal pixel of a data x value (for tests and overlays).
    public func xPixel(_ x: Double) -> Double { frame.xPixel(x) }
    /// The vertical pixel of a data y value.
    public func yPixel(_ y: Double) -> Double { frame.yPixel(y) }

    public func svg() -> String {
        let frame = frame
        var body = frame.axesSVG(title: title, xLabel: xLabel, yLabel: yLabel)
        for line in horizontalLines where frame.y.contains(line.y) {
            let py = frame.yPixel(line.y)
            body += "<line class=\"threshold\" x1=\"\(f(frame.left))\" y1=\"\(f(py))\" x2=\"\(f(frame.right))\" y2=\"\(f(py))\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>\n"
            body += "<text x=\"\(f(frame.right - 4))\" y=\"\(f(py - 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">\(escapeXML(line.label))</text>\n"
        }
        for s in series {
            let points = zip(s.x, s.y).filter { frame.x.contains($0.0) && frame.y.contains($0.1) }
            if s.dots {
                body += "<g class=\"series\" data-name=\"\(escapeXML(s.name))\" fill=\"\(s.color)\">\n"
                for (x, y) in points { body += "<circle cx=\"\(f(frame.xPixel(x)))\" cy=\"\(f(frame.yPixel(y)))\" r=\"2.5\"/>\n" }
                body += "</g>\n"
            } else {
                let list = points.map { "\(f(frame.xPixel($0.0))),\(f(frame.yPixel($0.1)))" }.joined(separator: " ")
                body += "<polyline class=\"series\" data-name=\"\(escapeXML(s.name))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\" points=\"\(list)\"/>\n"
            }
        }
        for marker in markers where frame.x.contains(marker.x) {
            let px = frame.xPixel(marker.x)
            body += "<line class=\"marker\" x1=\"\(f(px))\" y1=\"\(f(frame.top))\" x2=\"\(f(px))\" y2=\"\(f(frame.bottom))\" stroke=\"\(marker.color)\" stroke-width=\"1\" stroke-dasharray=\"3 3\"/>\n"
            body += "<text x=\"\(f(px + 3))\" y=\"\(f(frame.top + 12))\" font-size=\"11\" fill=\"\(marker.color)\">\(escapeXML(marker.label))</text>\n"
        }
        if series.count > 1 {
            for (i, s) in series.enumerated() {
                let y = frame.top + 16 + Double(i) * 16
                body += "<text x=\"\(f(frame.right - 8))\" y=\"\(f(y))\" text-anchor=\"end\" font-size=\"12\" fill=\"\(s.color)\">\(escapeXML(s.name))</text>\n"
            }
        }
        return document(width: width, height: height, body: body)
    }
}

/// One axis: its data range (padded, or in decades for a log axis) and ticks.
struct Axis: Sendable {
    var low: Double
    var high: Double
    var logarithmic: Bool

    init(values: [Double], logarithmic: Bool, fromZero: Bool = false) {
        self.logarithmic = logarithmic
        let usable = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
        var low = usable.min() ?? (logarithmic ? 1 : 0), high = usable.max() ?? (logarithmic ? 10 : 1)
        if fromZero { low = min(low, 0); high = max(high, 0) }
        if logarithmic {
            low = Foundation.log10(low)
            high = Foundation.log10(high)
        }
        if high - low < 1e-12 * max(1, abs(high)) { low -= 0.5; high += 0.5 }
        if !logarithmic && !fromZero {
            let pad = 0.02 * (high - low)
            low -= pad
            high += pad
        } else if !logarithmic {
            high += 0.05 * (high - low)
        }
        self.low = low
        self.high = high
    }

    /// Position in [0, 1] of a data value.
    func fraction(_ value: Double) -> Double {
        ((logarithmic ? Foundation.log10(value) : value) - low) / (high - low)
    }

    func contains(_ value: Double) -> Bool { value.isFinite && (!logarithmic || value > 0) }

    /// Tick values: 1-2-5 steps, or decades on a log axis.
    var ticks: [Double] {
        if logarithmic {
            let first = Int(low.rounded(.up)), last = Int(high.rounded(.down))
            let step = max(1, (last - first + 1) / 8)
            return stride(from: first, through: last, by: step).map { pow(10, Double($0)) }
        }
        let rough = (high - low) / 6
        let magnitude = pow(10, (Foundation.log10(rough)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = (low / step).rounded(.up)
        return stride(from: first * step, through: high + 1e-9 * step, by: step).map { abs($0) < 1e-12 * step ? 0 : $0 }
    }

    func label(_ value: Double) -> String {
        if logarithmic { return "1e\(Int(Foundation.log10(value).rounded()))" }
        return String(format: "%g", value)
    }
}

/// The plotting area inside the margins and its data-to-pixel maps.
struct PlotFrame: Sendable {
    var width: Double
    var height: Double
    var x: Axis
    var y: Axis
    let left = 78.0, top = 36.0
    var right: Double { width - 20 }
    var bottom: Double { height - 56 }

    func xPixel(_ value: Double) -> Double { left + x.fraction(value) * (right - left) }
    func yPixel(_ value: Double) -> Double { bottom - y.fraction(value) * (bottom - top) }

    func axesSVG(title: String, xLabel: String, yLabel: String) -> String {
        var s = "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text class=\"title\" x=\"\(f((left + right) / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escapeXML(title))</text>\n"
        s += "<text class=\"x-label\" x=\"\(f((left + right) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\" font-size=\"13\">\(escapeXML(xLabel))</text>\n"
        s += "<text class=\"y-label\" x=\"16\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 16 \(f((top + bottom) / 2)))\">\(escapeXML(yLabel))</text>\n"
        for tick in x.ticks {
            let px = xPixel(tick)
            s += "<line x1=\"\(f(px))\" y1=\"\(f(bottom))\" x2=\"\(f(px))\" y2=\"\(f(bottom + 5))\" stroke=\"#333\"/>"
            s += "<text class=\"x-tick\" x=\"\(f(px))\" y=\"\(f(bottom + 19))\" text-anchor=\"middle\" font-size=\"11\">\(x.label(tick))</text>\n"
        }
        for tick in y.ticks {
            let py = yPixel(tick)
            s += "<line x1=\"\(f(left - 5))\" y1=\"\(f(py))\" x2=\"\(f(left))\" y2=\"\(f(py))\" stroke=\"#333\"/>"
            s += "<text class=\"y-tick\" x=\"\(f(left - 8))\" y=\"\(f(py + 4))\" text-anchor=\"end\" font-size=\"11\">\(y.label(tick))</text>\n"
        }
        return s
    }
}

func f(_ value: Double) -> String { String(format: "%.2f", value) }

func escapeXML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

func document(width: Double, height: Double, body: String) -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" +
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\">\n" +
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
}
