import Foundation
import Synapse
import XCTest

// What training shows a person: the progress line and the curves' plot.

final class ReportingTests: XCTestCase {
    /// Defect 6: on an 80-column terminal the line was 85-87 characters and every redraw wrapped and
    /// scrolled. It now fits any width, keeping the bar while there is room for it.
    func testProgressLineFitsTheTerminal() {
        let bar = ProgressBar(title: "epoch 15/15", total: 938, interactive: true)
        for columns in [200, 120, 80, 72, 60, 40, 20, 1] {
            for done in [0, 1, 469, 937, 938] {
                let line = bar.terminalLine(done: done, loss: 12.3456, imagesPerSecond: 123_456, elapsed: 3599,
                                            columns: columns)
                XCTAssertLessThan(line.count, max(columns, 1), "\(columns) columns: '\(line)'")
                XCTAssertTrue(columns < 30 || line.hasPrefix("epoch 15/15 "), "'\(line)'")
            }
        }
        let wide = bar.terminalLine(done: 469, loss: 0.4, imagesPerSecond: 5000, elapsed: 10, columns: 80)
        XCTAssertTrue(wide.contains("[") && wide.contains("]") && wide.contains("ETA"), "80 columns keep bar and ETA: '\(wide)'")
        let narrow = bar.terminalLine(done: 469, loss: 0.4, imagesPerSecond: 5000, elapsed: 10, columns: 50)
        XCTAssertFalse(narrow.contains("["), "no room for a useful bar: '\(narrow)'")
    }

    /// Defect 2: curves holding 1e308 and -1e308 (from an edited checkpoint) made the plot's tick loop spin
    /// forever, so the checkpoint after the epoch was never saved. Parsing drops values no epoch produces,
    /// and the plot ends for any finite input.
    func testAbsurdCurvesNeitherHangNorReachThePlot() {
        let csv = """
            epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds,images_per_second
            1,0.5,0.4,0.85,0.02,10,5000
            2,1e308,-1e308,0.9,0.02,10,5000
            3,nan,0.3,0.9,0.02,10,5000
            4,0.3,0.3,7,0.02,10,5000
            9223372036854775807,0.3,0.3,0.9,0.02,10,5000
            5,0.3,0.3,0.9,0.02,10
            """
        XCTAssertEqual(Curves.parse(csv, through: 5).map(\.epoch), [1])
        // A resumed run keeps one row per epoch it has done, in order.
        let shuffled = """
            epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds,images_per_second
            2,0.4,0.4,0.86,0.02,10,5000
            1,0.5,0.4,0.85,0.02,10,5000
            2,0.3,0.3,0.87,0.02,10,5000
            3,0.3,0.3,0.88,0.02,10,5000
            """
        XCTAssertEqual(Curves.parse(shuffled, through: 2).map(\.epoch), [1, 2])
        XCTAssertEqual(Curves.parse(shuffled, through: 2).last?.trainLoss, 0.4, "the first row of an epoch counts")

        let extremes: [[Double]] = [[1e308, -1e308], [Double.greatestFiniteMagnitude, 0], [Double.leastNonzeroMagnitude, 3 * Double.leastNonzeroMagnitude],
                                    [1, 1 + 1e-15], [-5e300, 5e300], [0, 0]]
        for values in extremes {
            let points = values.enumerated().map { i, v in
                CurvePoint(epoch: i + 1, trainLoss: v, testLoss: -v, metric: v, learningRate: 0, seconds: 0,
                           examplesPerSecond: 0)
            }
            let finished = DispatchSemaphore(value: 0)
            let svg = Box()
            Thread {
                svg.value = Curves.svg(points, title: "t")
                finished.signal()
            }.start()
            XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the plot of \(values) did not finish")
            XCTAssertLessThan(svg.value.count, 100_000, "\(values)")
        }
    }

    final class Box: @unchecked Sendable { var value = "" }
}
