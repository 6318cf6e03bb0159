import Foundation

/// How far one stage of a long loop has come: `done` of `total` items (points, probes, products, layers).
public struct ProgressCount: Sendable, Equatable {
    /// What is running: "landscape", "lanczos (top)", "trace", "htsr".
    public var stage: String
    public var done: Int
    public var total: Int
    /// The items, plural: "points", "probes", "products", "layers".
    public var unit: String
    /// True when `total` is a budget the stage may stop short of (an eigensolver's product limit).
    public var isLimit: Bool
    /// What else the stage knows of its state, shown after the count ("residuals 3.1e-03 4.2e-06 ...").
    public var detail: String?

    public init(stage: String, done: Int, total: Int, unit: String, isLimit: Bool = false, detail: String? = nil) {
        self.stage = stage
        self.done = done
        self.total = total
        self.unit = unit
        self.isLimit = isLimit
        self.detail = detail
    }
}

/// An event of an analysis's progress that may carry a count: the events of every analysis conform, so one meter
/// draws them all.
public protocol ProgressEvent: CustomStringConvertible, Sendable {
    /// The count this event reports, or nil for a message (a stage starting, a resume).
    var count: ProgressCount? { get }
    /// True for a message about the running stage (an eigensolver's restart): a line of its own that leaves the
    /// stage running, where other messages end it.
    var isWithinStage: Bool { get }
}

extension ProgressEvent {
    public var isWithinStage: Bool { false }
}

/// Turns progress events into the text for stderr: on a terminal, one bar redrawn in place with the rate and the
/// time left; in a file (a batch job's log), a line when a stage ends and at most one a minute while it runs;
/// messages as lines in both. It keeps the time per stage and returns text; the caller writes it.
public struct ProgressMeter: Sendable {
    public enum Style: Sendable {
        /// A terminal: the bar is redrawn in place, at most ten times a second.
        case bar
        /// A file: whole lines only.
        case lines
    }

    public let style: Style
    /// Seconds between lines in `.lines` style while a stage runs.
    public var lineInterval: Double
    private var stage: (count: ProgressCount, started: Double, firstDone: Int)?
    private var lastOutput = -Double.infinity
    private var barShown = false

    public init(style: Style, lineInterval: Double = 60) {
        self.style = style
        self.lineInterval = lineInterval
    }

    /// The text to write for `event` at time `now` (seconds, monotonic), or "" when nothing is due.
    public mutating func text(for event: some ProgressEvent, now: Double) -> String {
        guard let count = event.count else {
            if event.isWithinStage, stage != nil {
                if style == .lines { lastOutput = now }
                return clearBar() + event.description + "\n"
            }
            return finishStage(now: now) + clearBar() + event.description + "\n"
        }
        var text = ""
        if let current = stage, current.count.stage != count.stage || count.done < current.count.done {
            text += finishStage(now: now)
        }
        if stage == nil {
            stage = (count, now, count.done)
            if style == .lines { lastOutput = now }  // the first line comes after a whole interval, or at the end
        }
        stage!.count = count
        let finished = count.done >= count.total
        switch style {
        case .bar:
            if finished || now - lastOutput >= 0.1 {
                text += "\r" + bar(count, started: stage!.started, firstDone: stage!.firstDone, now: now) + "\u{1B}[K"
                barShown = true
                lastOutput = now
            }
        case .lines:
            if !finished, now - lastOutput >= lineInterval {
                text += line(count, started: stage!.started, firstDone: stage!.firstDone, now: now) + "\n"
                lastOutput = now
            }
        }
        if finished { text += finishStage(now: now) }
        return text
    }

    /// What ends the display: the last stage's line and a cleared bar.
    public mutating func finish(now: Double) -> String { finishStage(now: now) + clearBar() }

    private mutating func finishStage(now: Double) -> String {
        guard let current = stage else { return "" }
        stage = nil
        let count = current.count
        // A stage that ended short of its total (an eigensolver converging before its budget) gets its final line.
        let summary = "\(count.stage): \(count.done) \(count.unit) in \(Self.duration(now - current.started))"
        switch style {
        case .bar:
            barShown = false
            return "\r" + summary + "\u{1B}[K\n"
        case .lines:
            lastOutput = -.infinity
            return summary + "\n"
        }
    }

    private mutating func clearBar() -> String {
        guard barShown else { return "" }
        barShown = false
        return "\r\u{1B}[K"
    }

    private func rate(_ count: ProgressCount, started: Double, firstDone: Int, now: Double) -> (perSecond: Double, left: Double?) {
        let elapsed = now - started, done = count.done - firstDone
        guard elapsed > 0, done > 0 else { return (0, nil) }
        let perSecond = Double(done) / elapsed
        return (perSecond, count.isLimit ? nil : Double(count.total - count.done) / perSecond)
    }

    private func bar(_ count: ProgressCount, started: Double, firstDone: Int, now: Double) -> String {
        let width = 24
        let fraction = count.total > 0 ? min(1, Double(count.done) / Double(count.total)) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let (perSecond, left) = rate(count, started: started, firstDone: firstDone, now: now)
        return "\(count.stage) [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] " +
            "\(count.done)/\(count.isLimit ? "<=" : "")\(count.total) \(count.unit)" +
            (perSecond > 0 ? "  \(Self.rate(perSecond))/s" : "") + (left.map { "  \(Self.duration($0)) left" } ?? "") +
            (count.detail.map { "  \($0)" } ?? "")
    }

    private func line(_ count: ProgressCount, started: Double, firstDone: Int, now: Double) -> String {
        let (perSecond, left) = rate(count, started: started, firstDone: firstDone, now: now)
        return "\(count.stage): \(count.done)/\(count.isLimit ? "at most " : "")\(count.total) \(count.unit) after \(Self.duration(now - started))" +
            (perSecond > 0 ? ", \(Self.rate(perSecond))/s" : "") + (left.map { ", \(Self.duration($0)) left" } ?? "") +
            (count.detail.map { ", \($0)" } ?? "")
    }

    /// "0.42 s", "12.3 s", "4:05", "1:02:03".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        if seconds < 10 { return String(format: "%.2f s", seconds) }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }

    static func rate(_ perSecond: Double) -> String {
        perSecond >= 100 ? String(format: "%.0f", perSecond) : perSecond >= 1 ? String(format: "%.1f", perSecond) : String(format: "%.3f", perSecond)
    }
}

/// A progress message with no count: a stage starting, a resume, an epoch.
public struct ProgressMessage: ProgressEvent {
    public var description: String
    public var count: ProgressCount? { nil }

    public init(_ description: String) { self.description = description }
}
