import Foundation
import Testing
@testable import Reporting

@Suite struct ProgressMeterTests {
    func points(_ done: Int, of total: Int = 100) -> some ProgressEvent {
        struct Points: ProgressEvent {
            var done, total: Int
            var description: String { "points \(done)/\(total)" }
            var count: ProgressCount? { ProgressCount(stage: "landscape", done: done, total: total, unit: "points") }
        }
        return Points(done: done, total: total)
    }

    @Test func aFileGetsALineAMinuteAndOnePerStage() {
        var meter = ProgressMeter(style: .lines)
        #expect(meter.text(for: ProgressMessage("landscape: random axes"), now: 0) == "landscape: random axes\n")
        #expect(meter.text(for: points(1), now: 1) == "")
        #expect(meter.text(for: points(30), now: 30) == "")
        #expect(meter.text(for: points(50), now: 61) == "landscape: 50/100 points after 1:00, 0.817/s, 1:01 left\n")
        #expect(meter.text(for: points(60), now: 90) == "")
        #expect(meter.text(for: points(100), now: 121) == "landscape: 100 points in 2:00\n")
        #expect(meter.finish(now: 130) == "")
    }

    @Test func aTerminalGetsOneBarRedrawnAtMostTenTimesASecond() {
        var meter = ProgressMeter(style: .bar)
        #expect(meter.text(for: points(0, of: 8), now: 0) == "\rlandscape [------------------------] 0/8 points\u{1B}[K")
        #expect(meter.text(for: points(1, of: 8), now: 0.05) == "")
        #expect(meter.text(for: points(2, of: 8), now: 2) == "\rlandscape [######------------------] 2/8 points  1.0/s  6.00 s left\u{1B}[K")
        // A message clears the bar and ends the stage with its line; a finished stage leaves its summary.
        #expect(meter.text(for: ProgressMessage("resumed"), now: 3) == "\rlandscape: 2 points in 3.00 s\u{1B}[K\nresumed\n")
        let end = meter.text(for: points(8, of: 8), now: 4)
        #expect(end.hasSuffix("\rlandscape: 8 points in 0.00 s\u{1B}[K\n"))
        #expect(meter.finish(now: 5) == "")
    }

    @Test func aStagesDetailFollowsItsCount() {
        struct Products: ProgressEvent {
            var done: Int
            var description: String { "lanczos \(done)" }
            var count: ProgressCount? {
                ProgressCount(stage: "lanczos (largest)", done: done, total: 5000, unit: "products", isLimit: true, detail: "residuals 1.0e-03")
            }
        }
        var lines = ProgressMeter(style: .lines)
        #expect(lines.text(for: Products(done: 1), now: 0) == "")
        #expect(lines.text(for: Products(done: 31), now: 60) ==
            "lanczos (largest): 31/at most 5000 products after 1:00, 0.500/s, residuals 1.0e-03\n")
        // A message within the stage is a line of its own and the stage goes on.
        struct Restart: ProgressEvent {
            var description: String { "lanczos (largest): restart 1" }
            var count: ProgressCount? { nil }
            var isWithinStage: Bool { true }
        }
        #expect(lines.text(for: Restart(), now: 70) == "lanczos (largest): restart 1\n")
        #expect(lines.text(for: Products(done: 41), now: 80) == "")
        #expect(lines.finish(now: 90) == "lanczos (largest): 41 products in 1:30\n")
        var bar = ProgressMeter(style: .bar)
        #expect(bar.text(for: Products(done: 0), now: 0) ==
            "\rlanczos (largest) [------------------------] 0/<=5000 products  residuals 1.0e-03\u{1B}[K")
        #expect(bar.text(for: Restart(), now: 0.5) == "\r\u{1B}[Klanczos (largest): restart 1\n")
        #expect(bar.text(for: Products(done: 2), now: 1).hasPrefix("\rlanczos (largest) [------------------------] 2/<=5000 products  2.0/s"))
    }

    @Test func durationsReadAsPeopleWriteThem() {
        #expect(ProgressMeter.duration(0.42) == "0.42 s" && ProgressMeter.duration(12.34) == "12.3 s")
        #expect(ProgressMeter.duration(245) == "4:05" && ProgressMeter.duration(3723) == "1:02:03")
    }
}

@Suite struct HTMLPageTests {
    @Test func everythingIsEscapedAndPlotsAreInlined() {
        let page = HTMLPage(title: "a <b> & \"c\"", settings: [("seed", "7"), ("name", "x\u{1B}[31mred")], sections: [
            HTMLPage.Section("Layers", [.table(TableContent(header: ["name", "alpha"], rows: [["<w>", "2.5"]], rightAligned: [1])),
                                        .svg("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"),
                                        .text(["one", "two & three"])]),
        ]).html()
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"))
        #expect(page.contains("<dt>seed</dt><dd>7</dd>") && page.contains("<dd>x\u{FFFD}[31mred</dd>"))
        #expect(page.contains("<td>&lt;w&gt;</td><td class=\"number\">2.5</td>"))
        #expect(page.contains("<figure><svg xmlns=\"http://www.w3.org/2000/svg\"></svg></figure>") && !page.contains("<?xml"))
        #expect(page.contains("<p>two &amp; three</p>") && !page.contains("<script") && !page.contains("src="))
    }

    @Test func tablesRenderAsTextTheSame() {
        let table = TableContent(header: ["a", "b"], rows: [["1", "22"]], rightAligned: [1])
        #expect(table.text() == Rendering.table(header: ["a", "b"], rows: [["1", "22"]], rightAligned: [1]))
    }
}
