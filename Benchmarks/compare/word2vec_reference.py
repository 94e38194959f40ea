"""The references of Benchmarks/compare/word2vec.sh: gensim's Word2Vec and fastText trained on a text corpus (a
sentence per line, words between spaces) with word2vec.c's settings, and gensim's evaluators scoring word vectors.

  gensim    trains gensim's Word2Vec (negative sampling), timing build_vocab and train apart.
  fasttext  runs fastText (subwords off, so plain word2vec), timed by its own training clock.
  evaluate  scores vector files: analogy accuracy on questions-words.txt among the 30,000 most frequent words, and the
            Spearman correlation on WordSim-353 (both files from gensim's test data).

The training commands measure words/s as Synapse does: passes over the corpus * its in-vocabulary words / training
seconds, reading and saving left out. They print `train_seconds words_per_second` on stdout, notes on stderr;
evaluate prints `analogy_percent spearman` per file. --seed is gensim's seed= and fastText's -seed; with several
threads neither tool repeats a run exactly, the threads' interleaving changing the vectors.
"""
import argparse
import collections
import re
import subprocess
import sys
import time

# word2vec.c's settings, the ones word2vec.sh gives Synapse.
SIZE, WINDOW, NEGATIVE, SAMPLE, MIN_COUNT = 100, 5, 5, 1e-3, 5
LONGEST_SENTENCE = 1000  # Synapse cuts longer lines (as word2vec.c); gensim cuts at 10,000 words, fastText at 1,024


def note(message):
    print(f"  note: {message}", file=sys.stderr)


def corpus_counts(path):
    """Each word's count and the number of lines, words split at ASCII white space as Synapse and fastText do."""
    counts, lines, longest = collections.Counter(), 0, 0
    with open(path, "rb") as file:
        for line in file:
            words = line.split()
            counts.update(words)
            lines += line.endswith(b"\n")
            longest = max(longest, len(words))
    if longest > LONGEST_SENTENCE:
        note(f"{path} has lines of up to {longest} words: the tools cut long lines differently")
    return counts, lines


def train_gensim(args):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    model = Word2Vec(vector_size=SIZE, window=WINDOW, negative=NEGATIVE, hs=0, sample=SAMPLE, min_count=MIN_COUNT,
                     sg=int(args.arch == "skipgram"), workers=args.threads, epochs=args.epochs,
                     alpha=args.lr, min_alpha=args.lr * 1e-4, seed=args.seed)
    # corpus_file= reads the file in every worker without the GIL; LineSentence feeds them from one Python thread.
    source = {"corpus_file": args.corpus} if args.corpus_file else {"corpus_iterable": LineSentence(args.corpus)}
    start = time.perf_counter()
    model.build_vocab(**source)
    vocab_seconds = time.perf_counter() - start
    start = time.perf_counter()
    effective, raw = model.train(**source, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                                 epochs=args.epochs)
    seconds = time.perf_counter() - start
    kept = sum(model.wv.get_vecattr(word, "count") for word in model.wv.index_to_key)
    note(f"gensim ({'corpus_file' if args.corpus_file else 'LineSentence'}), seed {args.seed}: "
         f"build_vocab {vocab_seconds:.1f} s; {len(model.wv)} words in the vocabulary, {kept} of the "
         f"{model.corpus_total_words} corpus words; "
         f"train() reported {raw} raw words (out-of-vocabulary ones included) and {effective} effective (after "
         f"sub-sampling) = {raw / seconds:.0f} raw and {effective / seconds:.0f} effective words/s")
    model.wv.save_word2vec_format(args.out, binary=True)
    return seconds, args.epochs * kept / seconds


def train_fasttext(args):
    counts, lines = corpus_counts(args.corpus)
    kept = sum(count for count in counts.values() if count >= MIN_COUNT)
    tokens = sum(counts.values()) + lines  # fastText's token count: every word, and a "</s>" per line
    command = [args.fasttext, args.arch, "-input", args.corpus, "-output", args.out, "-dim", str(SIZE),
               "-ws", str(WINDOW), "-neg", str(NEGATIVE), "-t", str(SAMPLE), "-minCount", str(MIN_COUNT),
               "-epoch", str(args.epochs), "-lr", str(args.lr), "-thread", str(args.threads), "-maxn", "0",
               "-seed", str(args.seed), "-verbose", "2"]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    log = (run.stdout + run.stderr).replace("\r", "\n")
    if run.returncode != 0:
        sys.exit(f"fasttext failed ({run.returncode}): {log.strip()[-500:]}")
    # Its last progress line: in-vocabulary tokens ("</s>" included) per second per thread over its training clock.
    per_thread = int(re.findall(r"words/sec/thread:\s*(\d+)", log)[-1])
    vocabulary = re.search(r"Number of words:\s*(\d+)", log).group(1)
    # fastText trains until it has read epochs * tokens in-vocabulary tokens (out-of-vocabulary words count in
    # `tokens` but not in what it reads), so it makes more passes than asked when some words are left out.
    rate = per_thread * args.threads
    seconds = args.epochs * tokens / rate
    passes = args.epochs * tokens / (kept + lines)
    note(f"fastText, seed {args.seed}: {vocabulary} words in the vocabulary (\"</s>\" one of them); "
         f"{tokens} tokens (\"</s>\" included), {kept} in-vocabulary words; {passes:.2f} passes over the corpus for "
         f"-epoch {args.epochs}; "
         f"its own {rate} tokens/s; whole command {wall:.1f} s (reading, training, saving .bin and .vec)")
    return seconds, rate * kept / (kept + lines)


def evaluate(args):
    import numpy
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    for path in args.vectors:
        vectors = KeyedVectors.load_word2vec_format(path, binary=path.endswith(".bin"))
        zero = int((numpy.linalg.norm(vectors.vectors, axis=1) == 0).sum())
        with numpy.errstate(invalid="ignore"):  # a zero vector's cosine is NaN: never the answer
            accuracy, sections = vectors.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000,
                                                                 case_insensitive=True)
            _, spearman, oov_percent = vectors.evaluate_word_pairs(datapath("wordsim353.tsv"), case_insensitive=True)
        right, answered = len(sections[-1]["correct"]), len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
        note(f"gensim's evaluator on {path.rsplit('/', 1)[-1]}: {right} of {answered} analogies right; "
             f"{100 - oov_percent:.0f}% of the WordSim-353 pairs in the vocabulary"
             + (f"; {zero} of the {len(vectors)} vectors are zero" if zero else ""))
        print(f"{100 * accuracy:.2f} {spearman.statistic:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("gensim", "fasttext"):
        command = commands.add_parser(name)
        command.add_argument("--corpus", required=True, help="a text file, a sentence per line")
        command.add_argument("--arch", choices=["skipgram", "cbow"], required=True)
        command.add_argument("--threads", type=int, required=True)
        command.add_argument("--epochs", type=int, required=True)
        command.add_argument("--lr", type=float, required=True)
        command.add_argument("--seed", type=int, default=1, help="the random seed (default 1)")
        command.add_argument("--out", required=True, help="gensim: a word2vec .bin; fastText: the prefix of .vec/.bin")
    commands.choices["gensim"].add_argument("--corpus-file", action="store_true",
                                            help="gensim's corpus_file= mode instead of LineSentence")
    commands.choices["fasttext"].add_argument("--fasttext", default="/usr/bin/fasttext", help="the fastText binary")
    commands.add_parser("evaluate").add_argument("vectors", nargs="+", help="word2vec files: .bin binary, else text")
    args = parser.parse_args()
    if args.command == "evaluate":
        evaluate(args)
    else:
        seconds, words_per_second = (train_gensim if args.command == "gensim" else train_fasttext)(args)
        print(f"{seconds:.3f} {words_per_second:.0f}")


if __name__ == "__main__":
    main()
