import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One epoch's measurements, as logged for the training curves.
public struct CurvePoint: Equatable, Sendable {
    /// The epoch, from 1.
    public var epoch: Int
    /// The mean training loss of the epoch.
    public var trainLoss: Double
    /// The loss on the held-out data (test or validation set) after the epoch.
    public var testLoss: Double
    /// The objective's metric on the held-out data: accuracy (a fraction), or bits per character.
    public var metric: Double
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
    /// Wall-clock seconds the epoch's training took.
    public var seconds: Double
    /// Images or characters per second.
    public var examplesPerSecond: Double

    /// One epoch's measurements; `Curves.parse` drops any that no real epoch could produce.
    public init(epoch: Int, trainLoss: Double, testLoss: Double, metric: Double, learningRate: Double,
                seconds: Double, examplesPerSecond: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.testLoss = testLoss
        self.metric = metric
        self.learningRate = learningRate
        self.seconds = seconds
        self.examplesPerSecond = examplesPerSecond
    }

    /// Whether every field is one a real epoch can produce. A diverged epoch never gets logged (training
    /// stops first), so anything else came from a damaged or edited checkpoint.
    func isPlausible(_ kind: CurveMetric) -> Bool {
        RunSettings.epochRange.contains(epoch)
            && [trainLoss, testLoss, learningRate, seconds, examplesPerSecond].allSatisfy { $0.isFinite && $0 >= 0 && $0 < 1e30 }
            && kind.range.contains(metric)
    }
}

/// The metric a run's curves show, with its CSV header and plot axis.
public enum CurveMetric: Sendable, CaseIterable {
    /// A classifier's test accuracy, a fraction plotted in percent.
    case accuracy
    /// A language model's validation loss in bits per character.
    case bitsPerCharacter
    /// An autoencoder's test reconstruction error, the mean squared error per value.
    case meanSquaredError
    /// An RBM's pseudo-likelihood estimate on the test images (a log-probability: at most 0).
    case pseudoLikelihood

    /// The key of the metric in an `Evaluation`'s metrics.
    public var key: String {
        switch self {
        case .accuracy: return "accuracy"
        case .bitsPerCharacter: return LanguageModelling.bitsPerCharacter
        case .meanSquaredError: return LayerwiseReconstruction.meanSquaredError
        case .pseudoLikelihood: return ContrastiveDivergence.pseudoLikelihood
        }
    }

    /// The CSV header line, which also tells `Curves.parse` which metric a file holds.
    var header: String {
        switch self {
        case .accuracy: return "epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds,images_per_second"
        case .bitsPerCharacter:
            return "epoch,train_loss,validation_loss,validation_bits_per_character,learning_rate,seconds,characters_per_second"
        case .meanSquaredError:
            return "epoch,train_loss,test_loss,test_mean_squared_error,learning_rate,seconds,images_per_second"
        case .pseudoLikelihood:
            return "epoch,train_loss,test_loss,test_pseudo_likelihood,learning_rate,seconds,images_per_second"
        }
    }

    /// The values an epoch can produce (a character set of up to 2^32 symbols has at most 32 bits each).
    var range: ClosedRange<Double> {
        switch self {
        case .accuracy: return 0...1
        case .bitsPerCharacter: return 0...32
        case .meanSquaredError: return 0...1e30
        case .pseudoLikelihood: return -1e30...0
        }
    }

    var axisLabel: String {
        switch self {
        case .accuracy: return "test accuracy (%)"
        case .bitsPerCharacter: return "validation bits per character"
        case .meanSquaredError: return "test mean squared error per value"
        case .pseudoLikelihood: return "test pseudo-likelihood"
        }
    }

    var lossLabel: String { self == .bitsPerCharacter ? "validation" : "test" }
    var displayScale: Double { self == .accuracy ? 100 : 1 }

    /// The metric's value in a report line: `test accuracy 91.20%`.
    public func describe(_ value: Double) -> String {
        switch self {
        case .accuracy: return String(format: "test accuracy %.2f%%", 100 * value)
        case .bitsPerCharacter: return String(format: "validation %.4f bits per character", value)
        case .meanSquaredError: return String(format: "test mean squared error %.4f", value)
        case .pseudoLikelihood: return String(format: "test pseudo-likelihood %.2f", value)
        }
    }
}

/// Training curves as CSV (for other tools) and as a self-contained SVG plot (to look at).
public enum Curves {
    /// The points as CSV: the metric's header line, then one row per epoch, each value written so that it reads
    /// back exactly.
    public static func csv(_ points: [CurvePoint], metric: CurveMetric = .accuracy) -> String {
        var text = metric.header + "\n"
        for p in points {
            let values = [p.trainLoss, p.testLoss, p.metric, p.learningRate, p.seconds, p.examplesPerSecond]
            // `description` is the shortest text that reads back as the same Double, so nothing is lost.
            text += "\(p.epoch)," + values.map(\.description).joined(separator: ",") + "\n"
        }
        return text
    }

    /// Reads back what `csv` wrote, so a run resumed after epoch `last` keeps its earlier epochs: one point per
    /// epoch in `1...last`, in order. The header (which says which metric the file holds) and any row that does
    /// not parse, holds values no epoch can produce, or repeats or lies beyond those epochs are skipped rather than
    /// failing the resume over a plot.
    public static func parse(_ csv: String, through last: Int) -> [CurvePoint] {
        let rows = csv.split(whereSeparator: \.isNewline)
        let metric = CurveMetric.allCases.first { $0.header == rows.first.map(String.init) } ?? .accuracy
        var byEpoch: [Int: CurvePoint] = [:]
        for row in rows {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            let v = fields.dropFirst().compactMap { Double($0) }
            guard fields.count == 7, let epoch = Int(fields[0]), epoch >= 1, epoch <= last, v.count == 6 else { continue }
            let point = CurvePoint(epoch: epoch, trainLoss: v[0], testLoss: v[1], metric: v[2], learningRate: v[3],
                                   seconds: v[4], examplesPerSecond: v[5])
            if point.isPlausible(metric), byEpoch[epoch] == nil { byEpoch[epoch] = point }
        }
        return byEpoch.sorted { $0.key < $1.key }.map(\.value)
    }

    /// An 800x360 chart: loss (train and held-out) on the left, the metric on the right.
    public static func svg(_ points: [CurvePoint], metric kind: CurveMetric = .accuracy, title: String) -> String {
        let epochs = points.map { Double($0.epoch) }
        let x = Axis(epochs, limits: 0 ... .infinity, integral: true)
        let loss = Axis(finite(points.map(\.trainLoss) + points.map(\.testLoss)), limits: 0 ... .infinity)
        let metricValues = points.map { $0.metric * kind.displayScale }
        let metric = Axis(finite(metricValues),
                          limits: kind.range.lowerBound * kind.displayScale ... kind.range.upperBound * kind.displayScale)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="800" height="360" viewBox="0 0 800 360" \
            font-family="sans-serif" font-size="11">
            <title>\(escape(title))</title>
            <rect width="800" height="360" fill="white"/>
            <text x="400" y="20" text-anchor="middle" font-size="15">\(escape(title))</text>

            """
        svg += panel(left: 55, label: "loss", x: x, y: loss, series: [
            ("train", "#1f77b4", Array(zip(epochs, points.map(\.trainLoss)))),
            (kind.lossLabel, "#d62728", Array(zip(epochs, points.map(\.testLoss)))),
        ], empty: points.isEmpty)
        svg += panel(left: 455, label: kind.axisLabel, x: x, y: metric, series: [
            (kind.lossLabel, "#2ca02c", Array(zip(epochs, metricValues))),
        ], empty: points.isEmpty)
        return svg + "</svg>\n"
    }

    /// Writes text atomically (`AtomicFile`), so a crash never leaves half a file.
    public static func write(_ text: String, to path: String) throws {
        try AtomicFile.write(to: path, fail: { NNError.dataFile(path: path, message: $0) }) { try $0.write(Array(text.utf8)) }
    }

    /// Plot area of each panel: `plotWidth` pixels from its `left`, between `top` and `bottom`; the
    /// margins around it hold the title, tick labels and axis name.
    private static let plotWidth = 330.0, top = 50.0, bottom = 310.0

    /// One panel: frame, grid with tick labels, the series as lines with dots, and a legend when
    /// there is more than one series to tell apart.
    private static func panel(left: Double, label: String, x: Axis, y: Axis,
                              series: [(name: String, colour: String, points: [(Double, Double)])],
                              empty: Bool) -> String {
        let right = left + plotWidth, middle = left + plotWidth / 2
        func px(_ v: Double) -> String { format(left + (v - x.lo) / (x.hi - x.lo) * plotWidth) }
        func py(_ v: Double) -> String { format(bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top)) }
        var s = "<text x=\"\(format(middle))\" y=\"42\" text-anchor=\"middle\" font-size=\"13\">\(label)</text>\n"
        for t in y.ticks {
            s += "<line x1=\"\(format(left))\" y1=\"\(py(t))\" x2=\"\(format(right))\" y2=\"\(py(t))\" "
                + "stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(format(left - 6))\" y=\"\(py(t))\" dy=\"4\" text-anchor=\"end\">\(y.label(t))</text>\n"
        }
        for t in x.ticks {
            s += "<line x1=\"\(px(t))\" y1=\"\(format(top))\" x2=\"\(px(t))\" y2=\"\(format(bottom))\" "
                + "stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(format(bottom + 16))\" text-anchor=\"middle\">\(x.label(t))</text>\n"
        }
        s += "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(plotWidth))\" "
            + "height=\"\(format(bottom - top))\" fill=\"none\" stroke=\"#888\"/>\n"
        s += "<text x=\"\(format(middle))\" y=\"\(format(bottom + 34))\" text-anchor=\"middle\">epoch</text>\n"
        for (index, line) in series.enumerated() {
            // A diverged run logs NaN or infinite losses: skip those points rather than draw off the chart.
            let shown = line.points.filter { $0.1.isFinite }
            let coordinates = shown.map { "\(px($0.0)),\(py($0.1))" }
            s += "<polyline fill=\"none\" stroke=\"\(line.colour)\" stroke-width=\"2\" "
                + "points=\"\(coordinates.joined(separator: " "))\"/>\n"
            // Dots keep a single epoch visible, since a one-point polyline draws nothing.
            for c in shown {
                s += "<circle cx=\"\(px(c.0))\" cy=\"\(py(c.1))\" r=\"2.5\" fill=\"\(line.colour)\"/>"
            }
            if series.count > 1 {
                let ly = format(top + 14 + 16 * Double(index))
                s += "<line x1=\"\(format(right - 70))\" y1=\"\(ly)\" x2=\"\(format(right - 50))\" y2=\"\(ly)\" "
                    + "stroke=\"\(line.colour)\" stroke-width=\"2\"/>"
                s += "<text x=\"\(format(right - 44))\" y=\"\(ly)\" dy=\"4\">\(line.name)</text>"
            }
            s += "\n"
        }
        if empty {
            s += "<text x=\"\(format(middle))\" y=\"\(format((top + bottom) / 2))\" text-anchor=\"middle\" "
                + "font-size=\"14\" fill=\"#888\">no data</text>\n"
        }
        return s
    }

    private static func finite(_ values: [Double]) -> [Double] { values.filter(\.isFinite) }

    private static func format(_ v: Double) -> String { String(format: "%.1f", v) }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A value range widened to round numbers, with the round tick step that produced it.
private struct Axis {
    var lo: Double, hi: Double, step: Double

    /// `limits` keeps rounding from inventing impossible values (negative loss, accuracy over 100 %);
    /// `integral` keeps ticks on whole numbers (epochs).
    init(_ values: [Double], limits: ClosedRange<Double>, integral: Bool = false) {
        // Only finite values reach here, but their range may still overflow (1e308 - -1e308); then, or when
        // there is nothing to show, the axis falls back to 0...1.
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if !(hi - lo).isFinite { (lo, hi) = (0, 1) }
        if hi <= lo {  // One distinct value: widen around it so the scale never divides by zero.
            let pad = integral || lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        // About five intervals, each 1, 2 or 5 times a power of ten.
        let raw = (hi - lo) / 5, magnitude = pow(10, log10(raw).rounded(.down))
        let nice = ([1.0, 2, 5].first { $0 * magnitude >= raw } ?? 10) * magnitude
        step = integral ? max(1, nice.rounded(.up)) : nice
        let (floor, ceiling) = ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
        // Clamp only data that respects the limits, so out-of-range input still gets a non-empty range.
        let inside = values.allSatisfy(limits.contains)
        self.lo = inside ? max(floor, limits.lowerBound) : floor
        self.hi = inside ? min(ceiling, limits.upperBound) : ceiling
        // Values too close together for Double's precision can still leave no usable scale.
        let intervals = (self.hi - self.lo) / step
        if !(step > 0) || !(self.hi > self.lo) || !(intervals >= 1 && intervals <= 1000) { (self.lo, self.hi, step) = (0, 1, 0.2) }
    }

    /// Counted, not stepped: adding a step to a value far larger than it changes nothing, and a loop that
    /// waits for it would never end.
    var ticks: [Double] {
        let intervals = min(50, Int(((hi - lo) / step + 1e-6).rounded(.down)))
        return (0...max(0, intervals)).map { lo + Double($0) * step }
    }

    /// Enough decimals to tell neighbouring ticks apart, and no more.
    func label(_ value: Double) -> String {
        String(format: "%.\(max(0, -Int((log10(step) + 1e-9).rounded(.down))))f", value)
    }
}
