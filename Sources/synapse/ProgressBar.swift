import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line per epoch that redraws in place on a terminal and degrades to plain periodic lines otherwise.
///
/// On a terminal the line is rewritten with `\r` and cleared to its end, so a shorter redraw leaves no
/// stale characters. In a pipe or CI log carriage returns would pile up as garbage, so there it prints
/// a full line at every tenth of the batches instead.
final class ProgressBar {
    private let title: String
    private let total: Int
    private let interactive: Bool
    /// Cells in the terminal bar: wide enough to show progress, short enough for an 80-column line.
    private let width = 30
    /// `elapsed` at the last terminal redraw, for throttling; redrawing every batch would cost more
    /// terminal time than the batch itself when batches are fast.
    private var lastDraw = -Double.infinity
    /// Whether a terminal line is open, so `finish` knows it must end it.
    private var drawn = false
    /// Tenths of the batches reported so far in plain mode.
    private var reportedTenths = 0

    init(title: String, total: Int, interactive: Bool = ProgressBar.standardOutputIsTerminal) {
        self.title = title
        self.total = total
        self.interactive = interactive
    }

    /// Whether redrawing in place will work: stdout is a terminal that understands the escape codes.
    static var standardOutputIsTerminal: Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Batches done so far, the running mean loss, throughput and elapsed seconds; ETA is derived.
    func update(done: Int, loss: Float, imagesPerSecond: Double, elapsed: Double) {
        let last = done >= total
        if interactive {
            // At most ~10 redraws a second, but always the last one so the line ends complete.
            guard last || elapsed - lastDraw >= 0.1 else { return }
            lastDraw = elapsed
            drawn = true
            print("\r" + line(done: done, loss: loss, imagesPerSecond: imagesPerSecond, elapsed: elapsed, bar: true)
                  + "\u{1B}[K", terminator: "")
            fflush(stdout)
        } else {
            // Only the last batch reaches ten tenths, so it is always printed.
            let tenths = total > 0 ? min(10, done * 10 / total) : 10
            guard tenths > reportedTenths else { return }
            reportedTenths = tenths
            print(line(done: done, loss: loss, imagesPerSecond: imagesPerSecond, elapsed: elapsed, bar: false))
            fflush(stdout)
        }
    }

    /// Ends the line (terminal) and prints `summary` on its own line.
    func finish(_ summary: String) {
        if drawn {
            print("")
            drawn = false
        }
        print(summary)
        fflush(stdout)
    }

    /// `epoch 3/15 [=========>     ] 312/469  loss 0.4123  5234 img/s  ETA 0:07`; the bar only on a terminal.
    private func line(done: Int, loss: Float, imagesPerSecond: Double, elapsed: Double, bar: Bool) -> String {
        // Pad the count to the width of the total so the fields after it do not jitter as it grows.
        let count = String(done).leftPadded(to: String(total).count) + "/\(total)"
        let eta = done > 0 ? ProgressBar.clock(elapsed * Double(total - done) / Double(done)) : "-:--"
        let stats = "\(count)  loss \(String(format: "%.4f", loss))  "
            + "\(String(format: "%.0f", imagesPerSecond)) img/s  ETA \(eta)"
        return bar ? "\(title) [\(cells(done: done))] \(stats)" : "\(title) \(stats)"
    }

    /// The bar's inside: `=` for work done, a `>` head while unfinished, spaces for the rest.
    private func cells(done: Int) -> String {
        let filled = total > 0 ? min(width, max(0, done * width / total)) : width
        if filled == width { return String(repeating: "=", count: width) }
        return String(repeating: "=", count: filled) + ">" + String(repeating: " ", count: width - filled - 1)
    }

    /// Seconds as `m:ss`, or `h:mm:ss` from an hour up; `-:--` when there is nothing sensible to show.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-:--" }
        // Capped below 100 hours so the conversion to Int can never trap.
        let total = Int(min(seconds, 359_999).rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        let ss = String(secs).leftPadded(to: 2, with: "0")
        return hours > 0 ? "\(hours):\(String(minutes).leftPadded(to: 2, with: "0")):\(ss)" : "\(minutes):\(ss)"
    }
}

private extension String {
    func leftPadded(to width: Int, with pad: Character = " ") -> String {
        String(repeating: pad, count: max(0, width - count)) + self
    }
}
