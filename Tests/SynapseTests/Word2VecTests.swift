import Foundation
import Synapse
import XCTest

/// word2vec: the Huffman tree, the noise distribution, the objectives' gradients, the batched path's parity and
/// repeatability, learning planted structure, the vector files, queries and evaluation, and bad input.
final class Word2VecTests: SynapseTestCase {
    /// A file in a fresh temporary directory holding `text`.
    func file(_ name: String, _ text: String) throws -> String {
        try file(name, Array(text.utf8))
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-w2v-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Two groups of words that only ever share a sentence with their own group.
    func plantedCorpus(sentences: Int = 3000) throws -> String {
        var random = TestRandom(seed: 71)
        var lines: [String] = []
        for s in 0..<sentences {
            let group = s % 2 == 0 ? "a" : "b"
            lines.append((0..<12).map { _ in "\(group)\(random.int(below: 10))" }.joined(separator: " "))
        }
        return try file("planted.txt", lines.joined(separator: "\n") + "\n")
    }

    // MARK: Tree and sampling

    /// Codes are prefix-free, paths start at the root and lie within the inner nodes, and the total weighted code
    /// length equals the optimum found by merging the two lightest weights (Huffman's cost) with a heap.
    func testHuffmanCodesArePrefixFreeAndOptimal() throws {
        var random = TestRandom(seed: 72)
        for counts in [[5, 4, 3, 2, 1], [1, 1], [100, 1, 1, 1, 1, 1, 1, 1], (0..<300).map { _ in random.int(below: 1000) + 1 }] {
            let counts = counts.sorted(by: >)
            let tree = try HuffmanTree(counts: counts)
            XCTAssertEqual(tree.innerNodes, counts.count - 1)
            let codes = counts.indices.map { tree.codes($0).map { String($0) }.joined() }
            for (i, a) in codes.enumerated() {
                XCTAssertFalse(a.isEmpty)
                for (j, b) in codes.enumerated() where i != j { XCTAssertFalse(b.hasPrefix(a), "code \(a) of word \(i) prefixes \(b) of \(j)") }
                let points = tree.points(i)
                XCTAssertEqual(points.first, Int32(counts.count - 2), "a path starts at the root")
                XCTAssertTrue(points.allSatisfy { (0..<Int32(counts.count - 1)).contains($0) })
            }
            var heap = counts
            var optimum = 0
            while heap.count > 1 {
                heap.sort(by: >)
                let merged = heap.removeLast() + heap.removeLast()
                optimum += merged
                heap.append(merged)
            }
            let cost = counts.indices.reduce(0) { $0 + counts[$1] * codes[$1].count }
            XCTAssertEqual(cost, optimum, "weighted code length for \(counts.count) words")
        }
        XCTAssertEqual(try HuffmanTree(counts: [5, 4, 3, 2, 1]).codes(0).count, 2)
        assertNNError(contains: ["at least 2 words"]) { _ = try HuffmanTree(counts: [3]) }
    }

    /// The alias table holds count^0.75 exactly, and a million draws land within 5 standard deviations of it.
    func testNoiseDistributionFollowsCountsToThePowerThreeQuarters() throws {
        let counts = [5000, 1200, 700, 300, 100, 40, 9, 3, 1, 1]
        let noise = try NoiseDistribution(counts: counts)
        let weights = counts.map { pow(Double($0), 0.75) }
        let total = weights.reduce(0, +)
        for (p, w) in zip(noise.probabilities, weights) { XCTAssertEqual(p, w / total, accuracy: 1e-9) }
        let draws = 1_000_000
        let bits = Philox.words(PhiloxAddress(seed: 3, stream: 1), count: 2 * draws)
        var seen = [Int](repeating: 0, count: counts.count)
        for n in 0..<draws { seen[Int(noise.sample(UInt64(bits[2 * n]) << 32 | UInt64(bits[2 * n + 1])))] += 1 }
        for (i, w) in weights.enumerated() {
            let p = w / total, expected = p * Double(draws)
            XCTAssertLessThan(abs(Double(seen[i]) - expected), 5 * (expected * (1 - p)).squareRoot() + 1,
                              "word \(i): \(seen[i]) draws, expected \(expected)")
        }
    }

    // MARK: Objectives and the batched path

    /// One (center, context) prediction, skip-gram and CBOW, hierarchical softmax and negative sampling: a step of
    /// rate 1 moves every parameter by minus its gradient, which central differences of the loss confirm on every
    /// backend. (CBOW adds the mean's whole update to each context word, as word2vec.c does: count times the
    /// gradient of each.)
    func testObjectivesGradientCheckOnEveryBackend() throws {
        let corpus = try EncodedCorpus(path: try plantedCorpus(sentences: 40), format: .text, minCount: 1)
        let v = corpus.vocabulary.count
        forEachBackend { backend in
            for architecture in Word2VecSettings.Architecture.allCases {
                for output in [Word2VecSettings.OutputLayer.hierarchicalSoftmax, .negativeSampling(3)] {
                    var settings = Word2VecSettings()
                    settings.architecture = architecture
                    settings.output = output
                    settings.dimension = 6
                    settings.minCount = 1
                    let model = try BatchedWord2Vec(backend: backend, corpus: corpus, settings: settings)
                    var batch = Word2VecBatch()
                    let context: [Int32] = architecture == .cbow ? [1, 4, 7] : [4]
                    batch.contextWords = context
                    batch.contextUnits = [Int32](repeating: 0, count: context.count)
                    batch.unitScales = [1 / Float(context.count)]
                    let target = 2
                    if case .hierarchicalSoftmax = output {
                        let tree = try HuffmanTree(counts: corpus.vocabulary.counts)
                        batch.pairRows = Array(tree.points(target))
                        batch.pairLabels = tree.codes(target).map { 1 - Float($0) }
                    } else {
                        batch.pairRows = [Int32(target), 0, 9]
                        batch.pairLabels = [1, 0, 0]
                    }
                    batch.pairUnits = [Int32](repeating: 0, count: batch.pairRows.count)
                    var random = TestRandom(seed: 73)
                    let (input, outputValues) = try model.tableValues()
                    let start = (random.floats(input.count, in: -0.6...0.6), random.floats(outputValues.count, in: -0.6...0.6))
                    try model.setTables(input: start.0, output: start.1)
                    try model.step(batch, rate: 1)
                    let after = try model.tableValues()
                    let call = OpCall(backend, "word2vec step", "\(architecture.rawValue), \(output)")
                    func loss(_ inputValues: [Float], _ outputValues: [Float]) throws -> Double {
                        try model.setTables(input: inputValues, output: outputValues)
                        return try model.losses(batch).reduce(0) { $0 + Double($1) }
                    }
                    let h: Float = 1e-2
                    var checked = 0
                    for row in Set(context.map(Int.init)) {
                        for k in 0..<settings.dimension {
                            let i = row * settings.dimension + k
                            var plus = start.0, minus = start.0
                            plus[i] += h
                            minus[i] -= h
                            let numeric = (try loss(plus, start.1) - loss(minus, start.1)) / Double(2 * h)
                            let scale = architecture == .cbow ? Double(context.count) : 1
                            let analytic = Double(start.0[i] - after.input[i]) / scale
                            XCTAssertEqual(analytic, numeric, accuracy: 1e-2 * max(1, abs(numeric)), "\(call): input row \(row), \(k)")
                            checked += 1
                        }
                    }
                    for row in Set(batch.pairRows.map(Int.init)) {
                        for k in 0..<settings.dimension {
                            let i = row * settings.dimension + k
                            var plus = start.1, minus = start.1
                            plus[i] += h
                            minus[i] -= h
                            let numeric = (try loss(start.0, plus) - loss(start.0, minus)) / Double(2 * h)
                            XCTAssertEqual(Double(start.1[i] - after.output[i]), numeric, accuracy: 1e-2 * max(1, abs(numeric)),
                                           "\(call): output row \(row), \(k)")
                            checked += 1
                        }
                    }
                    // Rows the batch does not name stay as they were.
                    let named = Set(context.map(Int.init))
                    for row in 0..<v where !named.contains(row) {
                        let r = row * settings.dimension..<(row + 1) * settings.dimension
                        XCTAssertEqual(Array(after.input[r]), Array(start.0[r]), "\(call): row \(row) changed")
                    }
                    XCTAssertGreaterThan(checked, 2 * settings.dimension)
                }
            }
        }
    }

    /// The batched path: the same seed gives the same bits run after run on a device, and CPU and OpenCL agree to
    /// a float tolerance after many batches.
    func testBatchedPathParityAndRepeatability() throws {
        let corpus = try EncodedCorpus(path: try plantedCorpus(sentences: 300), format: .text, minCount: 1)
        for architecture in Word2VecSettings.Architecture.allCases {
            var settings = Word2VecSettings()
            settings.architecture = architecture
            settings.output = architecture == .cbow ? .hierarchicalSoftmax : .negativeSampling(4)
            settings.dimension = 16
            settings.minCount = 1
            settings.epochs = 2
            var reference: [Float]?
            forEachBackend { backend in
                let first = try BatchedWord2Vec(backend: backend, corpus: corpus, settings: settings, batchPositions: 64).train().values
                let second = try BatchedWord2Vec(backend: backend, corpus: corpus, settings: settings, batchPositions: 64).train().values
                XCTAssertEqual(first.map(\.bitPattern), second.map(\.bitPattern), "\(backend.name) \(architecture.rawValue): two runs differ")
                if let reference {
                    let worst = zip(first, reference).map { abs($0 - $1) / (1e-3 + abs($1)) }.max() ?? 0
                    XCTAssertLessThan(worst, 1e-2, "\(backend.name) \(architecture.rawValue) vs cpu after \(corpus.trainWords * 2) words")
                } else {
                    reference = first
                }
            }
        }
    }

    /// On a corpus of two groups of words that never meet, every word's five nearest neighbours are of its own
    /// group: the threaded path (skip-gram, negative sampling; CBOW, hierarchical softmax) and the batched path on
    /// every backend.
    func testPlantedGroupsBecomeNeighbours() throws {
        let corpus = try EncodedCorpus(path: try plantedCorpus(), format: .text, minCount: 1)
        XCTAssertEqual(corpus.vocabulary.count, 20)
        func check(_ vectors: WordVectors, _ what: String) throws {
            let neighbours = WordNeighbours(vectors)
            for word in vectors.vocabulary.words {
                let near = try neighbours.similar(to: word, count: 5).map(\.word)
                XCTAssertTrue(near.allSatisfy { $0.first == word.first }, "\(what): \(word)'s neighbours \(near)")
            }
        }
        var settings = Word2VecSettings()
        settings.dimension = 20
        settings.minCount = 1
        settings.window = 3
        settings.epochs = 3
        try check(try ThreadedWord2Vec.train(corpus: corpus, settings: settings, threads: 2), "threaded skip-gram")
        var cbow = settings
        cbow.architecture = .cbow
        cbow.output = .hierarchicalSoftmax
        try check(try ThreadedWord2Vec.train(corpus: corpus, settings: cbow, threads: 2), "threaded CBOW")
        forEachBackend { backend in
            try check(try BatchedWord2Vec(backend: backend, corpus: corpus, settings: settings, batchPositions: 256).train(),
                      "batched on \(backend.name)")
        }
    }

    // MARK: Corpora

    func testGCIDEMarkupIsStrippedAndSentencesEndAtBlankLines() throws {
        let entry = """
        Affect \\Af*fect"\\, v. t. [imp. & p. p. {Affected}; p. pr.]
           1. To act upon; to produce an effect. [Obs.]
              [1913 Webster]

                 As might affect the earth with cold heat. --Milton.
              [1913 Webster]

        """
        var sentences: [String] = []
        try WordFormat.gcide.forEachSentence(path: try file("sample.dict", entry)) {
            sentences.append($0.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "))
        }
        XCTAssertEqual(sentences, ["affect v t to act upon to produce an effect", "as might affect the earth with cold heat"])
        XCTAssertEqual(WordFormat.guess(path: "/usr/share/dictd/gcide.dict.dz"), .gcide)
        XCTAssertEqual(WordFormat.guess(path: "corpus.txt.gz"), .text)
    }

    func testCorpusCountsAndBadCorpora() throws {
        let corpus = try EncodedCorpus(path: try file("c.txt", "b a b c\nb a\n"), format: .text, minCount: 2)
        XCTAssertEqual(corpus.vocabulary.words, ["b", "a"])
        XCTAssertEqual(corpus.vocabulary.counts, [3, 2])
        XCTAssertEqual(corpus.wordsRead, 6)
        XCTAssertEqual(corpus.trainWords, 5)
        assertNNError(contains: ["empty.txt", "holds no words"]) {
            _ = try EncodedCorpus(path: try self.file("empty.txt", " \n\n"), format: .text, minCount: 1)
        }
        assertNNError(contains: ["rare.txt", "no word occurs 5 times", "'b'", "3 times"]) {
            _ = try EncodedCorpus(path: try self.file("rare.txt", "b a b c\nb a\n"), format: .text, minCount: 5)
        }
        assertNNError(contains: ["garbage.bin", "NUL byte", "not a text file"]) {
            _ = try EncodedCorpus(path: try self.file("garbage.bin", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x00, 0x01]), format: .text, minCount: 1)
        }
        assertNNError(contains: ["latin1.txt", "not UTF-8"]) {
            _ = try EncodedCorpus(path: try self.file("latin1.txt", [0x63, 0x61, 0x66, 0xE9, 0x20, 0x61]), format: .text, minCount: 1)
        }
        assertNNError(contains: ["long.txt", "more than 255 bytes"]) {
            _ = try EncodedCorpus(path: try self.file("long.txt", String(repeating: "x", count: 300)), format: .text, minCount: 1)
        }
        assertNNError(contains: ["missing.txt", "no such file"]) {
            _ = try EncodedCorpus(path: "/nonexistent/missing.txt", format: .text, minCount: 1)
        }
    }

    /// Words are told apart byte for byte, as word2vec.c and gensim tell them: "café" precomposed and with a
    /// combining accent are two words, although Swift's strings call them equal.
    func testWordsAreComparedByteForByte() throws {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let corpus = try EncodedCorpus(path: try file("nf.txt", "\(composed) \(decomposed) \(composed)\n"), format: .text, minCount: 1)
        XCTAssertEqual(corpus.vocabulary.count, 2)
        XCTAssertEqual(corpus.vocabulary.counts, [2, 1])
        XCTAssertEqual(corpus.vocabulary.id(decomposed), 1)
        let vectors = try WordVectors.read(from: try file("nf.txt.vec", "2 1\n\(composed) 1\n\(decomposed) 2\n"))
        XCTAssertEqual(vectors.vocabulary.words.map { Array($0.utf8) }, [Array(composed.utf8), Array(decomposed.utf8)])
    }

    func testNothingToLearnIsAnError() throws {
        let corpus = try EncodedCorpus(path: try file("single.txt", "a\nb\na\nb\n"), format: .text, minCount: 1)
        var settings = Word2VecSettings()
        settings.minCount = 1
        settings.dimension = 4
        assertNNError(contains: ["single.txt", "nothing to learn"]) {
            _ = try ThreadedWord2Vec.train(corpus: corpus, settings: settings, threads: 1)
        }
        let backend = try CPUBackend()
        assertNNError(contains: ["single.txt", "nothing to learn"]) {
            _ = try BatchedWord2Vec(backend: backend, corpus: corpus, settings: settings).train()
        }
    }

    // MARK: Vector files

    func sampleVectors() throws -> WordVectors {
        try WordVectors(vocabulary: WordVocabulary(words: ["king", "queen", "man", "woman", "über"], counts: [9, 7, 5, 3, 1]),
                        dimension: 3, values: [0.5, 1, -2, 0.25, 1e-7, 3e5, -1, 0, 1, 2, 2, 2, 0.125, -0.5, 7])
    }

    func testVectorFilesRoundTrip() throws {
        let vectors = try sampleVectors()
        for format in WordVectors.FileFormat.allCases {
            let path = try file("vectors" + (format == .binary ? ".bin" : format == .safetensors ? ".safetensors" : ".txt"), "")
            try vectors.write(to: path, format: format)
            let back = try WordVectors.read(from: path)
            XCTAssertEqual(back.vocabulary.words, vectors.vocabulary.words, "\(format)")
            XCTAssertEqual(back.values, vectors.values, "\(format): values")
            XCTAssertEqual(back.vocabulary.counts, format == .safetensors ? vectors.vocabulary.counts : [0, 0, 0, 0, 0])
        }
    }

    /// gensim writes the binary format without word2vec.c's line break after each vector; both read the same, also
    /// from a file named other than `.bin`.
    func testReadsTheBinaryFormatOfOtherTools() throws {
        let vectors = try sampleVectors()
        for lineBreaks in [false, true] {
            var bytes = Array("5 3\n".utf8)
            for (row, word) in vectors.vocabulary.words.enumerated() {
                bytes += Array(word.utf8) + [0x20]
                for value in vectors.vector(row) { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
                if lineBreaks { bytes.append(0x0A) }
            }
            let back = try WordVectors.read(from: try file("other.w2v", bytes))
            XCTAssertEqual(back.vocabulary.words, vectors.vocabulary.words)
            XCTAssertEqual(back.values, vectors.values)
        }
    }

    /// What other tools write: gzip (fastText's `.vec.gz`), a byte-order mark, tabs, no final line break.
    func testReadsCompressedAndLooseTextFiles() throws {
        let text = "\u{FEFF}2 3\na\t1 0 0\nb 0 1.5 0"
        let plain = try WordVectors.read(from: try file("loose.vec", text))
        XCTAssertEqual(plain.vocabulary.words, ["a", "b"])
        XCTAssertEqual(plain.values, [1, 0, 0, 0, 1.5, 0])
        let path = try file("loose.vec", text)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-f", path]
        try gzip.run()
        gzip.waitUntilExit()
        XCTAssertEqual(try WordVectors.read(from: path + ".gz").values, plain.values)
    }

    func testBadVectorFilesAreRefusedByName() throws {
        let vectors = try sampleVectors()
        let binary = try file("v.bin", "")
        try vectors.write(to: binary, format: .binary)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: binary)))
        assertNNError(contains: ["cut.bin", "truncated", "'über'"]) {
            _ = try WordVectors.read(from: try self.file("cut.bin", Array(bytes.dropLast(6))))
        }
        assertNNError(contains: ["tiny.bin", "claims 5 words of 3 dimensions, more than its 40 bytes"]) {
            _ = try WordVectors.read(from: try self.file("tiny.bin", Array(bytes.prefix(40))))
        }
        assertNNError(contains: ["lies.bin", "more than its"]) {
            _ = try WordVectors.read(from: try self.file("lies.bin", Array("900000 300\n".utf8) + bytes.dropFirst(4)))
        }
        assertNNError(contains: ["few.bin", "more than the 4 words"]) {
            _ = try WordVectors.read(from: try self.file("few.bin", Array("4 3\n".utf8) + bytes.dropFirst(4)))
        }
        assertNNError(contains: ["short.txt", "line 3", "2 values, the header says 3"]) {
            _ = try WordVectors.read(from: try self.file("short.txt", "2 3\na 1 2 3\nb 1.5 2.5\n"))
        }
        assertNNError(contains: ["nan.txt", "'nan'"]) { _ = try WordVectors.read(from: try self.file("nan.txt", "1 2\na 1 nan\n")) }
        assertNNError(contains: ["noheader.txt", "not a word2vec vectors file"]) {
            _ = try WordVectors.read(from: try self.file("noheader.txt", "hello world\n"))
        }
        assertNNError(contains: ["twice.txt", "'a' twice"]) { _ = try WordVectors.read(from: try self.file("twice.txt", "2 1\na 1\na 2\n")) }
        assertNNError(contains: ["empty.txt", "empty"]) { _ = try WordVectors.read(from: try self.file("empty.txt", "")) }
    }

    /// Python's gensim reads both formats as written, and Synapse reads what gensim writes.
    func testGensimReadsAndWritesTheSameFiles() throws {
        try Python.requireModule("gensim")
        let vectors = try sampleVectors()
        let binary = try file("v.bin", ""), text = try file("v.txt", ""), fromGensim = try file("g.bin", "")
        try vectors.write(to: binary, format: .binary)
        try vectors.write(to: text, format: .text)
        let output = try Python.output("""
            import sys
            from gensim.models import KeyedVectors
            b = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
            t = KeyedVectors.load_word2vec_format(sys.argv[2], binary=False)
            assert list(b.index_to_key) == list(t.index_to_key)
            assert (b.vectors == t.vectors).all()
            b.save_word2vec_format(sys.argv[3], binary=True)
            print(' '.join(b.index_to_key), ' '.join(repr(float(x)) for x in b.vectors.ravel()))
            """, [binary, text, fromGensim])
        XCTAssertTrue(output.hasPrefix("king queen man woman über "), output)
        let back = try WordVectors.read(from: fromGensim)
        XCTAssertEqual(back.values, vectors.values)
        XCTAssertEqual(back.vocabulary.words, vectors.vocabulary.words)
    }

    // MARK: Queries and evaluation

    func testQueriesAndUnknownWords() throws {
        let words = ["king", "queen", "man", "woman", "apple"]
        let values: [Float] = [1, 1, 0, /* queen */ 1, -1, 0, /* man */ 0, 1, 0.1, /* woman */ 0, -1, 0.1, /* apple */ 0, 0, 1]
        let neighbours = WordNeighbours(try WordVectors(vocabulary: WordVocabulary(words: words, counts: [5, 4, 3, 2, 1]),
                                                        dimension: 3, values: values))
        XCTAssertEqual(try neighbours.analogy("man", "king", "woman", count: 1).first?.word, "queen")
        assertNNError(contains: ["'King' is not in the vocabulary", "it has 'king'"]) { _ = try neighbours.similar(to: "King", count: 3) }
        let zero = WordNeighbours(try WordVectors(vocabulary: WordVocabulary(words: ["a", "b"], counts: [1, 1]), dimension: 2,
                                                  values: [0, 0, 1e-30, 3e-30]))
        assertNNError(contains: ["'a' has a zero vector"]) { _ = try zero.similar(to: "a", count: 1) }
        XCTAssertEqual(try zero.related(to: ["b"], count: 1).first?.similarity, 0, "a zero vector is similar to nothing")
        XCTAssertEqual(try neighbours.similar(to: "king", count: 1).first?.word, "man")
        let related = try neighbours.related(to: ["king", "queen"], count: 4).map(\.word)
        XCTAssertFalse(related.contains("king") || related.contains("queen"))
        XCTAssertEqual(related.count, 3)
        assertNNError(contains: ["'kingdom' is not in the vocabulary"]) { _ = try neighbours.similar(to: "kingdom", count: 3) }
        assertNNError(contains: ["'x', 'y' are not in the vocabulary"]) { _ = try neighbours.related(to: ["king", "x", "y"], count: 3) }
    }

    func testAnalogyAccuracyAndSpearman() throws {
        let words = ["king", "queen", "man", "woman", "apple"]
        let values: [Float] = [1, 1, 0, 1, -1, 0, 0, 1, 0.1, 0, -1, 0.1, 0, 0, 1]
        let evaluation = WordEvaluation(try WordVectors(vocabulary: WordVocabulary(words: words, counts: [5, 4, 3, 2, 1]),
                                                        dimension: 3, values: values))
        let questions = try file("q.txt", ": family\nMan King Woman Queen\nman woman king apple\nman king unknown queen\n")
        let sections = try evaluation.analogies(path: questions)
        XCTAssertEqual(sections.count, 1)
        XCTAssertEqual(sections[0].name, "family")
        XCTAssertEqual(sections[0].questions, 3)
        XCTAssertEqual(sections[0].answered, 2)
        XCTAssertEqual(sections[0].correct, 1)
        XCTAssertEqual(try evaluation.analogies(path: questions, among: 3)[0].answered, 0, "queen is not among the 3 most frequent")
        let pairs = try file("s.tsv", "# comment\nking\tqueen\t9\nking\tman\t5\nking\tapple\t1\nking\tnone\t3\n")
        let result = try evaluation.similarities(path: pairs)
        XCTAssertEqual(result.pairs, 3)
        XCTAssertEqual(result.total, 4)
        XCTAssertEqual(spearman([1, 2, 3, 4], [10, 20, 30, 40])!, 1, accuracy: 1e-12)
        XCTAssertEqual(spearman([1, 2, 3, 4], [4, 3, 2, 1])!, -1, accuracy: 1e-12)
        XCTAssertEqual(spearman([1, 2, 2, 3], [1, 2, 3, 4])!, 0.9486832980505138, accuracy: 1e-12)
        XCTAssertNil(spearman([1], [2]), "one pair has no correlation")
        XCTAssertNil(spearman([1, 2, 3], [5, 5, 5]), "nor a constant side")
        let crlf = try file("crlf.txt", ": family\r\nMan King Woman Queen\r\n")
        XCTAssertEqual(try evaluation.analogies(path: crlf).map(\.correct), [1])
        let simlex = try file("SimLex-999.txt", "word1\tword2\tPOS\tSimLex999\r\nking\tqueen\tN\t9\r\nking\tman\tN\t5\r\n")
        XCTAssertEqual(try evaluation.similarities(path: simlex).pairs, 2)
        let csv = try file("combined.csv", "Word 1,Word 2,Human (mean)\nking,man,9\nking,apple,1\n")
        XCTAssertEqual(try evaluation.similarities(path: csv).spearman!, 1, accuracy: 1e-12)
        assertNNError(contains: ["bad.txt", "line 2", "4"]) { _ = try evaluation.analogies(path: try self.file("bad.txt", ": x\na b c\n")) }
        assertNNError(contains: ["bad.tsv", "line 1", "'word word score'"]) {
            _ = try evaluation.similarities(path: try self.file("bad.tsv", "a b\n"))
        }
        assertNNError(contains: ["sections.txt", "holds no analogy questions"]) {
            _ = try evaluation.analogies(path: try self.file("sections.txt", ": only\n: another\n"))
        }
    }
}
