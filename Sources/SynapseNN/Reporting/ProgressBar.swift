import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line per epoch that redraws in place on a terminal and degrades to plain periodic lines otherwise.
///
/// On a terminal the line is rewritten with `\r` and cleared to its end, so a shorter redraw leaves no
/// stale characters, and it is fitted to the terminal's width at every redraw (a line that wrapped would
/// scroll at every redraw instead). In a pipe or CI log carriage returns would pile up as garbage, so
/// there it prints a full line at every tenth of the batches instead.
public final class ProgressBar {
    private let title: String
    private let total: Int
    /// What the throughput counts, per second: `img/s`, `char/s`.
    private let unit: String
    private let interactive: Bool
    /// The terminal's width in columns, asked at every redraw since the window may be resized.
    private let columns: () -> Int
    /// The most cells the bar takes when the terminal is wide.
    private let maximumBarWidth = 30
    /// Below this many cells a bar shows too little to be worth its room; it is left out.
    private let minimumBarWidth = 10
    /// `elapsed` at the last terminal redraw, for throttling; redrawing every batch would cost more
    /// terminal time than the batch itself when batches are fast.
    private var lastDraw = -Double.infinity
    /// Whether a terminal line is open, so `finish` knows it must end it.
    private var drawn = false
    /// Tenths of the batches reported so far in plain mode.
    private var reportedTenths = 0
    /// What the caller wants shown besides the standard fields.
    private var detail: String?

    /// A bar for `total` batches, titled `title` (`epoch 3/15`), showing throughput in `unit`. By default it redraws
    /// in place when stdout is a terminal, fitted to the terminal's width.
    public init(title: String, total: Int, unit: String = "img/s", interactive: Bool = ProgressBar.standardOutputIsTerminal,
                columns: @escaping () -> Int = ProgressBar.terminalColumns) {
        self.title = title
        self.total = total
        self.unit = unit
        self.interactive = interactive
        self.columns = columns
    }

    /// Whether redrawing in place will work: stdout is a terminal that understands the escape codes.
    public static var standardOutputIsTerminal: Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// The width of the terminal on stdout, else `$COLUMNS`, else 80.
    public static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 0 { return columns }
        return 80
    }

    /// Batches done so far, the running mean loss, throughput and elapsed seconds; ETA is derived. `detail`
    /// (`lr 0.0213`) is shown before the ETA.
    public func update(done: Int, loss: Float, imagesPerSecond: Double, elapsed: Double, detail: String? = nil) {
        self.detail = detail
        let last = done >= total
        if interactive {
            // At most ~10 redraws a second, but always the last one so the line ends complete.
            guard last || elapsed - lastDraw >= 0.1 else { return }
            lastDraw = elapsed
            drawn = true
            print("\r" + terminalLine(done: done, loss: loss, imagesPerSecond: imagesPerSecond, elapsed: elapsed,
                                      columns: columns()) + "\u{1B}[K", terminator: "")
            fflush(nil)
        } else {
            // Only the last batch reaches ten tenths, so it is always printed.
            let tenths = total > 0 ? min(10, done * 10 / total) : 10
            guard tenths > reportedTenths else { return }
            reportedTenths = tenths
            print("\(title) " + stats(done: done, loss: loss, imagesPerSecond: imagesPerSecond, elapsed: elapsed))
            fflush(nil)
        }
    }

    /// Ends the line (terminal) and prints `summary` on its own line.
    public func finish(_ summary: String) {
        if drawn {
            print("")
            drawn = false
        }
        print(summary)
        fflush(nil)
    }

    /// `epoch 3/15 [=========>     ] 312/469  loss 0.4123  5234 img/s  ETA 0:07`, in fewer than `columns`
    /// characters (a character in the last column makes some terminals wrap): the bar shrinks first, then
    /// goes, then the line is cut.
    public func terminalLine(done: Int, loss: Float, imagesPerSecond: Double, elapsed: Double, columns: Int) -> String {
        let stats = stats(done: done, loss: loss, imagesPerSecond: imagesPerSecond, elapsed: elapsed)
        let room = columns - 1
        let barWidth = min(maximumBarWidth, room - title.count - stats.count - 4)
        let line = barWidth >= minimumBarWidth ? "\(title) [\(cells(done: done, width: barWidth))] \(stats)" : "\(title) \(stats)"
        return String(line.prefix(max(0, room)))
    }

    /// `312/469  loss 0.4123  5234 img/s  ETA 0:07`
    private func stats(done: Int, loss: Float, imagesPerSecond: Double, elapsed: Double) -> String {
        // Pad the count to the width of the total so the fields after it do not jitter as it grows.
        let count = String(done).leftPadded(to: String(total).count) + "/\(total)"
        let eta = done > 0 ? ProgressBar.clock(elapsed * Double(total - done) / Double(done)) : "-:--"
        return "\(count)  loss \(String(format: "%.4f", loss))  "
            + "\(String(format: "%.0f", imagesPerSecond)) \(unit)  \(detail.map { "\($0)  " } ?? "")ETA \(eta)"
    }

    /// The bar's inside: `=` for work done, a `>` head while unfinished, spaces for the rest.
    private func cells(done: Int, width: Int) -> String {
        let filled = total > 0 ? min(width, max(0, done * width / total)) : width
        if filled == width { return String(repeating: "=", count: width) }
        return String(repeating: "=", count: filled) + ">" + String(repeating: " ", count: width - filled - 1)
    }

    /// Seconds as `m:ss`, or `h:mm:ss` from an hour up; `-:--` when there is nothing sensible to show.
    public static func clock(_ seconds: Double) -> String {
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
