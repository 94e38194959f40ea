#!/usr/bin/env bash
# word2vec side by side: Synapse's threaded word2vec, gensim's Word2Vec and fastText (Debian's /usr/bin/fasttext,
# subwords off) train one after another on the same text corpus with word2vec.c's settings (negative sampling with 5
# noise words, 100 dimensions, window 5, sample 1e-3, min-count 5, lr 0.025 skip-gram / 0.05 CBOW) and the same
# threads, each tool N times with seeds 1..N. A markdown table per architecture gives each tool's training seconds
# (reading and saving left out), its words/s (passes * in-vocabulary corpus words / training seconds), Synapse's words/s
# over it, and its vectors' analogy accuracy (questions-words.txt, the 30,000 most frequent words) and WordSim-353
# Spearman, all by gensim's evaluators: means over the seeds, the accuracy and Spearman with their (min–max); then
# Synapse's own evaluator's totals on seed 1's files, and a note per run. Default corpus: GCIDE (`synapse corpus`,
# about 4M words).
# Usage: Benchmarks/compare/word2vec.sh [--threads T] [--epochs E] [--seeds N] [--arch skipgram|cbow|both]
#                                       [--corpus FILE] [--quick] [--gensim-corpus-file]
#   --threads T           threads of every tool (default 2)    --epochs E   passes over the corpus (default 5)
#   --seeds N             runs per tool, seeds 1..N (default 1)
#   --corpus FILE         a text file, a sentence per line     --quick      1 epoch on the first 300k words (a smoke test)
#   --gensim-corpus-file  gensim reads with corpus_file= (its GIL-free reader) instead of LineSentence
set -euo pipefail
die() { echo "word2vec.sh: error: $*" >&2; exit 1; }
threads=2 epochs=5 seeds=1 arch=both corpus="" quick=0 gensim_mode="" gensim_reader=LineSentence
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
        --epochs) [ $# -ge 2 ] || die "--epochs needs a value"; epochs=$2; shift 2 ;;
        --seeds) [ $# -ge 2 ] || die "--seeds needs a value"; seeds=$2; shift 2 ;;
        --arch) [ $# -ge 2 ] || die "--arch needs a value"; arch=$2; shift 2 ;;
        --corpus) [ $# -ge 2 ] || die "--corpus needs a file"; corpus=$(realpath "$2"); shift 2 ;;
        --quick) quick=1; shift ;;
        --gensim-corpus-file) gensim_mode=--corpus-file gensim_reader=corpus_file; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer, got '$threads'"
[[ "$epochs" =~ ^[1-9][0-9]*$ ]] || die "--epochs must be a positive integer, got '$epochs'"
[[ "$seeds" =~ ^[1-9][0-9]*$ ]] || die "--seeds must be a positive integer, got '$seeds'"
case "$arch" in skipgram|cbow) archs=$arch ;; both) archs="skipgram cbow" ;; *) die "--arch must be skipgram, cbow or both" ;; esac
[ -z "$corpus" ] || [ -f "$corpus" ] || die "no corpus file $corpus"
[ "$quick" = 0 ] || epochs=1

cd "$(dirname "$0")/../.."
synapse=.build/release/synapse
py=$PWD/.build-py/bin/python
fasttext=/usr/bin/fasttext
reference=$PWD/Benchmarks/compare/word2vec_reference.py
[ -x "$fasttext" ] || die "fastText is missing (apt-get install fasttext)"
"$py" -c 'import gensim' 2>/dev/null || die "gensim is missing from .build-py (.build-py/bin/python -m pip install gensim)"
[ -x "$synapse" ] || swift build -c release --product synapse >&2 || die "swift build failed"
synapse=$(realpath "$synapse")
data=$("$py" -c 'from gensim.test.utils import datapath; print(datapath(""))')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "$corpus" ]; then
    corpus=$tmp/gcide.txt
    "$synapse" corpus --out "$corpus" > "$tmp/corpus.log" 2>&1 || die "synapse corpus: $(tail -3 "$tmp/corpus.log")"
fi
if [ "$quick" = 1 ]; then   # whole lines up to the 300,000th word
    awk '{ print; n += NF; if (n >= 300000) exit }' "$corpus" > "$tmp/quick.txt"
    corpus=$tmp/quick.txt
fi
read -r lines words < <(wc -lw < "$corpus")

echo "Machine: $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //'), nproc $(nproc)${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}"
echo "Corpus: $corpus ($words words, $lines lines); $epochs epochs, $threads threads, seeds 1..$seeds"
gensim_version=$("$py" -c 'import gensim; print(gensim.__version__)')
fasttext_version=$(dpkg-query -W -f '${Version}' fasttext 2>/dev/null || echo "?")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# $tmp/runs has a line per run: tool, train seconds, words/s, analogy %, Spearman (columns 1 to 5).
mean() { awk -v t="$1" -v k="$2" '$1 == t { n++; sum += $k } END { printf "%.3f", sum / n }' "$tmp/runs"; }
# The mean as format $3, then "(min–max)" when there are several seeds.
spread() {
    awk -v t="$1" -v k="$2" -v f="$3" '$1 == t { n++; sum += $k; if (n == 1 || $k < lo) lo = $k
                                                  if (n == 1 || $k > hi) hi = $k }
        END { printf f, sum / n; if (n > 1) printf " (" f "–" f ")", lo, hi }' "$tmp/runs"
}
# A table row: label, tool; the ratio is Synapse's mean words/s over this tool's.
row() {
    printf "| %s | %.1f | %.0f | %s | %s | %s |\n" "$1" "$(mean "$2" 2)" "$(mean "$2" 3)" \
        "$(ratio "$(mean synapse 3)" "$(mean "$2" 3)")" "$(spread "$2" 4 %.1f)" "$(spread "$2" 5 %.3f)"
}

for a in $archs; do
    if [ "$a" = skipgram ]; then lr=0.025 flag=--skipgram title=Skip-gram; else lr=0.05 flag=--cbow title=CBOW; fi
    echo
    : > "$tmp/notes"
    : > "$tmp/times"
    files=()
    for seed in $(seq "$seeds"); do
        echo "Training $title (lr $lr), seed $seed of $seeds..." >&2
        "$synapse" word2vec --data "$corpus" --format text $flag --negative 5 --size 100 --window 5 --sample 1e-3 \
            --min-count 5 --epochs "$epochs" --threads "$threads" --lr "$lr" --seed "$seed" \
            --out "$tmp/synapse-$seed.bin" > "$tmp/synapse.log" 2>&1 || die "synapse word2vec: $(tail -3 "$tmp/synapse.log")"
        # Its lines "corpus ...: ... (N words of them), read in X s" and "trained in X s: Y words/s" (the progress bar's
        # \r-separated updates before them); the seconds again from N and Y, the printed ones having one decimal.
        tr '\r' '\n' < "$tmp/synapse.log" > "$tmp/synapse.lines"
        syn_rate=$(sed -n 's/^trained in [0-9.]* s: \([0-9]*\) words\/s.*/\1/p' "$tmp/synapse.lines")
        syn_words=$(sed -n 's/^corpus .*(\([0-9]*\) words of them).*/\1/p' "$tmp/synapse.lines")
        [ -n "$syn_rate" ] && [ -n "$syn_words" ] || die "unexpected Synapse output: $(tail -3 "$tmp/synapse.log")"
        awk -v e="$epochs" -v n="$syn_words" -v r="$syn_rate" 'BEGIN { print "synapse", e * n / r, r }' >> "$tmp/times"
        echo "  note: Synapse, seed $seed: $(grep '^corpus ' "$tmp/synapse.lines" | sed 's/^corpus [^:]*: //');" \
            "$(grep '^trained in' "$tmp/synapse.lines")" >> "$tmp/notes"
        common=(--corpus "$corpus" --arch "$a" --threads "$threads" --epochs "$epochs" --lr "$lr" --seed "$seed")
        # Their "seconds words/s" go to $tmp/times after the tool's name, their notes (stderr) to those under the table.
        "$py" "$reference" gensim "${common[@]}" --out "$tmp/gensim-$seed.bin" $gensim_mode 2>> "$tmp/notes" \
            | sed 's/^/gensim /' >> "$tmp/times" || die "gensim failed: $(tail -5 "$tmp/notes")"
        "$py" "$reference" fasttext "${common[@]}" --out "$tmp/fasttext-$seed" --fasttext "$fasttext" 2>> "$tmp/notes" \
            | sed 's/^/fasttext /' >> "$tmp/times" || die "fastText failed: $(tail -5 "$tmp/notes")"
        files+=("$tmp/synapse-$seed.bin" "$tmp/gensim-$seed.bin" "$tmp/fasttext-$seed.vec")
    done
    # The scores come in the order of the files, that of the lines of $tmp/times.
    "$py" "$reference" evaluate "${files[@]}" > "$tmp/scores" 2>> "$tmp/notes" \
        && [ "$(wc -l < "$tmp/scores")" = "${#files[@]}" ] || die "the evaluation failed: $(tail -5 "$tmp/notes")"
    paste -d ' ' "$tmp/times" "$tmp/scores" > "$tmp/runs"

    echo "### $title, $epochs epochs, $threads threads, lr $lr, seeds 1..$seeds"
    echo
    echo "| tool | train s | words/s | Synapse's words/s ÷ tool's | analogy % | WS353 Spearman |"
    echo "|---|---:|---:|---:|---:|---:|"
    row "Synapse" synapse
    row "gensim $gensim_version ($gensim_reader)" gensim
    row "fastText $fasttext_version" fasttext
    echo
    # Each seed's ratio: the lines of one tool come in seed order.
    per_seed() {
        awk -v t="$1" '$1 == "synapse" { s[++i] = $3 } $1 == t { o[++j] = $3 }
            END { for (k = 1; k <= j; k++) printf "%s%.2f", (k > 1 ? ", " : ""), s[k] / o[k] }' "$tmp/runs"
    }
    echo "Synapse's words/s ÷ tool's, seed by seed: gensim $(per_seed gensim); fastText $(per_seed fasttext)"
    echo
    echo "Synapse's evaluator (evaluate-words) on seed 1's files:"
    for tool in synapse:synapse-1.bin gensim:gensim-1.bin fastText:fasttext-1.vec; do
        "$synapse" evaluate-words "$tmp/${tool#*:}" --analogies "$data/questions-words.txt" --similarities "$data/wordsim353.tsv" \
            > "$tmp/evaluate.log" 2>&1 || die "synapse evaluate-words: $(tail -3 "$tmp/evaluate.log")"
        printf "  %-9s analogies %s; WS353 %s\n" "${tool%%:*}" \
            "$(grep '^  total' "$tmp/evaluate.log" | sed 's/^ *total *//')" \
            "$(grep '^similarities' "$tmp/evaluate.log" | sed 's/.*: //')"
    done
    echo "Notes:"
    cat "$tmp/notes"
done
