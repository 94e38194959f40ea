import Foundation
import Synapse

/// How `synapse train` shows and records a run of epochs: the progress bar, the line per epoch, the checkpoint's
/// metadata and the curves (CSV and SVG) next to it.
struct EpochRecorder {
    /// The metric shown per epoch and plotted.
    let metric: CurveMetric
    /// The unit of throughput: `img/s`, `char/s`.
    let unit: String
    /// Where the curves go: `<base>.csv` and `<base>.svg`.
    let curvesBase: String
    /// The plot's title.
    let title: String
    /// Put before `epoch e/n` in the progress bar and the epoch's line (`layer 1: `), or empty.
    let prefix: String
    /// The checkpoint's metadata besides the curves: the settings and what the data needs (normalisation, vocabulary).
    let metadata: [String: String]

    /// Trains `trainer` until `epochs` epochs are done, or sooner when `converged` says of an epoch's report that
    /// nothing is left to learn, saving `checkpoint` after each; `points` holds the curves of the epochs before (read
    /// back from the checkpoint on resume) and gains one per epoch. Returns whether `converged` ended the run.
    @discardableResult
    func fit(_ trainer: Trainer, epochs: Int, checkpoint: String, points: inout [CurvePoint],
             converged: ((EpochReport) -> Bool)? = nil) throws -> Bool {
        struct Converged: Error {}
        var bar: ProgressBar?
        var recorded = points
        func point(_ report: EpochReport, _ e: Evaluation) -> CurvePoint {
            CurvePoint(epoch: report.epoch, trainLoss: report.trainLoss, testLoss: e.loss, metric: e.metrics[metric.key] ?? 0,
                       learningRate: Double(report.learningRate), seconds: report.seconds,
                       examplesPerSecond: report.examplesPerSecond)
        }
        defer { points = recorded }
        if trainer.epoch >= epochs { restoreCurves(points, epochs: trainer.epoch, metric: metric, base: curvesBase, title: title) }
        do {
            try trainer.fit(epochs: epochs, checkpoint: checkpoint,
                            metadata: { report, evaluation in
                                metadata.merging(["curves": Curves.csv(recorded + [point(report, evaluation!)], metric: metric)]) { $1 }
                            },
                            progress: { p in
                                if bar == nil { bar = ProgressBar(title: "\(prefix)epoch \(p.epoch)/\(epochs)", total: p.batches, unit: unit) }
                                bar?.update(done: p.batch, loss: p.meanLoss, imagesPerSecond: p.examplesPerSecond, elapsed: p.elapsed)
                            },
                            epochDone: { report, evaluation in
                                let e = evaluation!
                                bar?.finish(String(format: "%@epoch %d/%d  train loss %.4f  %@ loss %.4f  %@  %.1f s  %.0f %@  lr %.3g",
                                                   prefix, report.epoch, epochs, report.trainLoss,
                                                   metric == .bitsPerCharacter ? "validation" : "test", e.loss,
                                                   metric.describe(e.metrics[metric.key] ?? 0), report.seconds,
                                                   report.examplesPerSecond, unit, report.learningRate))
                                bar = nil
                                recorded.append(point(report, e))
                                writeCurves(recorded, metric: metric, base: curvesBase, title: title)
                                if converged?(report) == true { throw Converged() }
                            })
        } catch is Converged {
            return true
        }
        return false
    }
}

/// Says that the run resumes from `checkpoint` after `epochs` epochs and returns the curves its `metadata` keeps
/// for them, with a note when some are missing (an edited or damaged file: the plot goes on without them).
func resumedCurves(_ metadata: [String: String]?, checkpoint: String, epochs: Int) -> [CurvePoint] {
    let points = Curves.parse(metadata?["curves"] ?? "", through: epochs)
    print("resumed from \(checkpoint) after epoch \(epochs)")
    if points.count < epochs {
        print("note: the checkpoint's curves hold \(points.count) of its \(epochs) epoch\(epochs == 1 ? "" : "s"); the others are left out of the plot")
    }
    return points
}

/// For a resumed run with nothing left to train: a run killed between saving its checkpoint and writing its curves
/// left them an epoch behind (and a temporary file), so they are written again from the checkpoint's copy, when
/// that holds all `epochs`; a copy that lacks some would replace better curves, and they are left as they are.
func restoreCurves(_ points: [CurvePoint], epochs: Int, metric: CurveMetric, base: String, title: String) {
    guard epochs > 0, points.count == epochs else { return }
    writeCurves(points, metric: metric, base: base, title: title)
}

/// The curves as `<base>.csv` and `<base>.svg`, after the checkpoint; a failure is a warning, not the run's end.
func writeCurves(_ points: [CurvePoint], metric: CurveMetric, base: String, title: String) {
    do {
        try Curves.write(Curves.csv(points, metric: metric), to: base + ".csv")
        try Curves.write(Curves.svg(points, metric: metric, title: title), to: base + ".svg")
    } catch {
        print("warning: could not write the curves: \(error)")
    }
}

/// The optimizer `settings` name, with their momentum, decay and Nesterov flag.
func makeOptimizer(_ settings: RunSettings) throws -> Optimizer {
    switch settings.optimizer {
    case "sgd": return try SGD(momentum: settings.momentum, weightDecay: settings.weightDecay, nesterov: settings.nesterov)
    case "adam": return try Adam(weightDecay: settings.weightDecay)
    default:
        throw NNError.invalidSetting(name: "--optimizer", message: "unknown optimizer '\(settings.optimizer)'; available: sgd, adam")
    }
}
