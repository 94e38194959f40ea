#!/usr/bin/env bash
# End-to-end check of the command-line tool: bench and tune, then on a small Fashion-MNIST subset: train,
# resume, refusal of conflicting or overwriting runs, evaluate. Run by scripts/test.sh after the XCTest suite.
set -euo pipefail
synapse="$(realpath "${1:-.build/release/synapse}")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "cli-smoke: $*" >&2; exit 1; }

# bench and tune: JSON with the fields the comparison scripts read, typed refusals, a tuning that later runs use.
"$synapse" bench kernels --device cpu --sizes 64 --batch 1 --reps 1 --filter gemm --json > "$dir/kernels.json"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["kernels"][0]["name"] == "gemm-64" and r["kernels"][0]["gflops"] > 0, r' \
    "$dir/kernels.json" || fail "bench kernels JSON: $(cat "$dir/kernels.json")"
"$synapse" bench model --model mlp --batch 8 --steps 2 --warmup 1 --reps 1 --device cpu --threads 1 --json > "$dir/model.json"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["images_per_second"] > 0 and len(r["layers"]) == 8, r' \
    "$dir/model.json" || fail "bench model JSON: $(cat "$dir/model.json")"
if "$synapse" bench model --threads 0 > "$dir/threads.log" 2>&1; then fail "--threads 0 was accepted"; fi
grep -q "threads.*must be in 1...1024, got 0" "$dir/threads.log" || fail "unexpected --threads error: $(cat "$dir/threads.log")"
if "$synapse" bench model --threads 100000 > "$dir/threads.log" 2>&1; then fail "--threads 100000 was accepted"; fi
grep -q "threads.*must be in 1...1024, got 100000" "$dir/threads.log" || fail "unexpected --threads error: $(cat "$dir/threads.log")"
more=$(( $(nproc --all) + 1 ))   # more than every processor the machine has, whatever limits this process
"$synapse" bench model --model mlp --batch 8 --steps 1 --warmup 1 --device cpu --no-layers --threads "$more" \
    > "$dir/threads.log" 2>&1 || fail "bench with more threads than cores: $(cat "$dir/threads.log")"
grep -q "warning: --threads $more is more than this machine's" "$dir/threads.log" \
    || fail "no warning for more threads than cores: $(cat "$dir/threads.log")"
if "$synapse" tune --device cpu > "$dir/tune-cpu.log" 2>&1; then fail "tune accepted the CPU backend"; fi
grep -q "uses OpenBLAS" "$dir/tune-cpu.log" || fail "unexpected tune error: $(cat "$dir/tune-cpu.log")"
if "$synapse" devices | grep -q "opencl:0"; then
    export SYNAPSE_CACHE_DIR="$dir/cache"
    "$synapse" tune --candidates 1 > "$dir/tune.log" || fail "tune: $(cat "$dir/tune.log")"
    "$synapse" bench kernels --device opencl --sizes 64 --reps 1 --filter gemm > "$dir/tuned.log"
    grep -q "GEMM parameters: tuned" "$dir/tuned.log" || fail "the tuned plan was not used: $(cat "$dir/tuned.log")"
    unset SYNAPSE_CACHE_DIR
fi
echo "cli-smoke: bench and tune passed"

# A refusal: the command fails and says what is wrong in words.
expect_error() {
    local needle="$1"; shift
    if "$@" > "$dir/error.log" 2>&1; then fail "accepted: $*"; fi
    grep -q "$needle" "$dir/error.log" || fail "'$*' did not say '$needle': $(cat "$dir/error.log")"
    ! grep -q "NSCocoaErrorDomain\|Error Domain=" "$dir/error.log" || fail "'$*' gave Foundation's error text: $(cat "$dir/error.log")"
}

# word2vec on a slice of the default dictionary (dict-gcide): both ways of training, the three file formats, the
# queries, the evaluation, and refusals that name the file, word or option.
"$synapse" corpus --out "$dir/gcide.txt" > "$dir/corpus.log" || fail "corpus: $(cat "$dir/corpus.log")"
head -c 3000000 "$dir/gcide.txt" > "$dir/words.txt"
w2v=(--data "$dir/words.txt" --size 20 --epochs 1 --min-count 3)
"$synapse" word2vec "${w2v[@]}" --threads 2 --out "$dir/words.bin" > "$dir/w2v.log" || fail "word2vec: $(cat "$dir/w2v.log")"
grep -q "trained in .* words/s" "$dir/w2v.log" || fail "no word2vec summary in: $(cat "$dir/w2v.log")"
"$synapse" word2vec "${w2v[@]}" --cbow --hs --device cpu --batch 256 --out "$dir/words.safetensors" > "$dir/w2v-batched.log" \
    || fail "batched word2vec: $(cat "$dir/w2v-batched.log")"
"$synapse" word2vec "${w2v[@]}" --threads 1 --out "$dir/words.vec" > /dev/null || fail "word2vec to text"
for model in "$dir/words.bin" "$dir/words.safetensors" "$dir/words.vec"; do
    [ "$("$synapse" similar "$model" water -n 3 | wc -l)" = 3 ] || fail "similar on $model"
done
"$synapse" analogy "$dir/words.bin" man king woman -n 2 > /dev/null || fail "analogy"
"$synapse" related "$dir/words.bin" --words cat,dog -n 4 > "$dir/related.log" || fail "related"
! grep -q "^cat \|^dog " "$dir/related.log" || fail "related returned the user's words: $(cat "$dir/related.log")"
printf ': family\nman king woman queen\n' > "$dir/questions.txt"
printf 'king\tqueen\t9\nking\twater\t1\ncat\tdog\t7\n' > "$dir/pairs.tsv"
"$synapse" evaluate-words "$dir/words.bin" --analogies "$dir/questions.txt" --similarities "$dir/pairs.tsv" > "$dir/eval.log" \
    || fail "evaluate-words: $(cat "$dir/eval.log")"
grep -q "Spearman" "$dir/eval.log" || fail "evaluate-words: $(cat "$dir/eval.log")"
expect_error "'kingg' is not in the vocabulary" "$synapse" similar "$dir/words.bin" kingg
expect_error "exclude each other" "$synapse" word2vec "${w2v[@]}" --hs --negative 5 --out "$dir/x.bin"
expect_error "words.bin exists; replace it with --overwrite" "$synapse" word2vec "${w2v[@]}" --out "$dir/words.bin"
expect_error "words.txt is the corpus" "$synapse" corpus --data "$dir/words.txt" --out "$dir/words.txt" --overwrite
expect_error "threads: must be at least 1, got -1" "$synapse" word2vec "${w2v[@]}" --threads -1 --out "$dir/x.bin"
expect_error "The value '-1' is invalid for '--seed" "$synapse" word2vec "${w2v[@]}" --seed -1 --out "$dir/x.bin"
: > "$dir/nothing.txt"
expect_error "nothing.txt: holds no words" "$synapse" word2vec --data "$dir/nothing.txt" --out "$dir/x.bin"
head -c 4000 "$synapse" > "$dir/garbage.txt"
expect_error "garbage.txt: .*not a text file" "$synapse" word2vec --data "$dir/garbage.txt" --out "$dir/x.bin"
expect_error "no word occurs 1000000 times" "$synapse" word2vec "${w2v[@]}" --min-count 1000000 --out "$dir/x.bin"
head -c 3000 "$dir/words.bin" > "$dir/cut.bin"
expect_error "cut.bin: .*truncated\|cut.bin: .*more than its" "$synapse" similar "$dir/cut.bin" water
echo "cli-smoke: word2vec trains both ways, writes three formats, answers queries and refuses bad input"

data=/usr/share/datasets/fashion-mnist
if [ ! -d "$data" ]; then
    echo "cli-smoke: training checks skipped, $data is missing (apt-get install dataset-fashion-mnist)"
    exit 0
fi
small=(--train-limit 600 --test-limit 200 --batch-size 50 --device cpu)

"$synapse" train "${small[@]}" --epochs 1 --checkpoint "$dir/run.safetensors" > "$dir/train.log"
grep -q "epoch 1/1  train loss" "$dir/train.log" || fail "no epoch summary in: $(cat "$dir/train.log")"
[ -f "$dir/run.csv" ] && [ -f "$dir/run.svg" ] || fail "curves not written"

# An existing checkpoint is never overwritten by a new run, and --resume refuses conflicting settings.
if "$synapse" train "${small[@]}" --checkpoint "$dir/run.safetensors" > "$dir/refused.log" 2>&1; then
    fail "a new run overwrote an existing checkpoint"
fi
grep -q "exists; continue that run with --resume" "$dir/refused.log" || fail "unexpected refusal: $(cat "$dir/refused.log")"
if "$synapse" train --resume --lr 0.5 --checkpoint "$dir/run.safetensors" > "$dir/conflict.log" 2>&1; then
    fail "--resume accepted a conflicting --lr"
fi
grep -q "a resumed run keeps the checkpoint's settings" "$dir/conflict.log" || fail "unexpected error: $(cat "$dir/conflict.log")"

# A flag typed on --resume conflicts even when it equals a default (the run used 600 images, 0 means all).
if "$synapse" train --resume --train-limit 0 --checkpoint "$dir/run.safetensors" > "$dir/conflict0.log" 2>&1; then
    fail "--resume accepted an explicit --train-limit 0 against the checkpoint's 600"
fi
grep -q "train-limit: 0 differs from the checkpoint's setting (600)" "$dir/conflict0.log" || fail "unexpected error: $(cat "$dir/conflict0.log")"
# Paths that cannot be checkpoints, and no OpenCL platform, are told in words.
expect_error "is not a file name" "$synapse" train "${small[@]}" --checkpoint ""
expect_error "is a directory" "$synapse" evaluate "$dir"
expect_error "not a regular file" "$synapse" train "${small[@]}" --epochs 1 --checkpoint /dev/null --overwrite
expect_error "is not a directory" "$synapse" train "${small[@]}" --data /dev/null --checkpoint "$dir/other.safetensors"
expect_error "epochs: must be in 1...1000000, got -1" "$synapse" train "${small[@]}" --epochs -1 --checkpoint "$dir/other.safetensors"
mkdir "$dir/no-icd"
expect_error "no OpenCL platform was found" env OCL_ICD_VENDORS="$dir/no-icd" "$synapse" train "${small[@]/cpu/opencl}" --checkpoint "$dir/other.safetensors"

"$synapse" train --resume --epochs 2 --checkpoint "$dir/run.safetensors" > "$dir/resume.log"
grep -q "resumed from .* after epoch 1" "$dir/resume.log" || fail "did not resume: $(cat "$dir/resume.log")"
[ "$(wc -l < "$dir/run.csv")" -eq 3 ] || fail "the curves of a resumed run should hold both epochs: $(cat "$dir/run.csv")"

"$synapse" evaluate "$dir/run.safetensors" --test-limit 200 > "$dir/evaluate.log"
grep -q "test accuracy" "$dir/evaluate.log" && grep -q "confusion matrix" "$dir/evaluate.log" \
    || fail "evaluate output: $(cat "$dir/evaluate.log")"
echo "cli-smoke: train, refusals, resume and evaluate passed"

# The character model on a small text: train, resume, evaluate, sample (the same text on every device), and
# the refusals of bad text and of another vocabulary.
text="$dir/text.txt"
for i in $(seq 1 200); do echo "the quick brown fox $i jumps over the lazy dog; a stitch in time saves nine."; done > "$text"
lm=(--model char-lstm --data "$text" --hidden 16 --layers 1 --sequence-length 20 --batch-size 8 --device cpu)
"$synapse" train "${lm[@]}" --epochs 1 --checkpoint "$dir/lm.safetensors" > "$dir/lm.log"
grep -q "epoch 1/1  train loss .* validation loss .* bits per character" "$dir/lm.log" || fail "char-lstm epoch: $(cat "$dir/lm.log")"
grep -q "^epoch,train_loss,validation_loss,validation_bits_per_character" "$dir/lm.csv" || fail "char-lstm curves: $(cat "$dir/lm.csv")"
"$synapse" train --resume --epochs 2 --checkpoint "$dir/lm.safetensors" > "$dir/lm-resume.log"
grep -q "resumed from .* after epoch 1" "$dir/lm-resume.log" || fail "char-lstm did not resume: $(cat "$dir/lm-resume.log")"
"$synapse" evaluate "$dir/lm.safetensors" > "$dir/lm-evaluate.log"
grep -q "bits per character" "$dir/lm-evaluate.log" || fail "char-lstm evaluate: $(cat "$dir/lm-evaluate.log")"
"$synapse" sample "$dir/lm.safetensors" --prime "the " --length 60 --seed 4 --device cpu > "$dir/sample-cpu.txt"
[ "$(wc -c < "$dir/sample-cpu.txt")" -ge 64 ] || fail "sample too short: $(cat "$dir/sample-cpu.txt")"
if [ "${SYNAPSE_REQUIRE_OPENCL:-0}" = 1 ] || "$synapse" devices 2>/dev/null | grep -q "opencl:0"; then
    "$synapse" sample "$dir/lm.safetensors" --prime "the " --length 60 --seed 4 --device opencl > "$dir/sample-opencl.txt"
    cmp -s "$dir/sample-cpu.txt" "$dir/sample-opencl.txt" || fail "the same seed sampled different text on cpu and opencl"
fi
printf '' > "$dir/empty.txt"
expect_error "is empty" "$synapse" train "${lm[@]/$text/$dir/empty.txt}" --checkpoint "$dir/lm2.safetensors"
printf 'caf\xe9 au lait' > "$dir/latin1.txt"
expect_error "is not UTF-8 text" "$synapse" train "${lm[@]/$text/$dir/latin1.txt}" --checkpoint "$dir/lm2.safetensors"
echo "short" > "$dir/short.txt"
expect_error "too short to train on sequences of 20" "$synapse" train "${lm[@]/$text/$dir/short.txt}" --checkpoint "$dir/lm2.safetensors"
expect_error "holds no text files" "$synapse" train "${lm[@]/$text/$dir/no-icd}" --checkpoint "$dir/lm2.safetensors"
for i in $(seq 1 200); do echo "ZEBRAS $i AND XYLOPHONES QUIETLY VEX JUMPING KIDS"; done > "$dir/other.txt"
expect_error "was trained on .* characters but .* has" "$synapse" evaluate "$dir/lm.safetensors" --data "$dir/other.txt"
expect_error "not among the model's" "$synapse" sample "$dir/lm.safetensors" --prime "ZEBRA"
expect_error "which does not generate" "$synapse" sample "$dir/run.safetensors"
expect_error "applies to char-lstm" "$synapse" train "${small[@]}" --hidden 8 --checkpoint "$dir/lm2.safetensors"
expect_error "applies to image models" "$synapse" evaluate "$dir/lm.safetensors" --batch-size 4
# What a careless or hostile run met: a pipe for a checkpoint (waited forever), a device for a text (filled memory),
# a checkpoint over its own text (destroyed it), a text changed under a checkpoint (resumed on other text).
mkfifo "$dir/fifo"
expect_error "not a regular file" timeout 30 "$synapse" evaluate "$dir/fifo"
expect_error "more than 256 MiB" timeout 60 "$synapse" train "${lm[@]/$text//dev/zero}" --checkpoint "$dir/lm2.safetensors"
expect_error "lies in the training data" "$synapse" train "${lm[@]}" --checkpoint "$text" --overwrite
cp "$text" "$dir/text.orig"
tac "$dir/text.orig" > "$text"
expect_error "is not the text .* was trained on" "$synapse" train --resume --epochs 3 --checkpoint "$dir/lm.safetensors"
"$synapse" evaluate "$dir/lm.safetensors" > "$dir/lm-changed.log"
grep -q "has changed since" "$dir/lm-changed.log" || fail "evaluate did not note the changed text: $(cat "$dir/lm-changed.log")"
cp "$dir/text.orig" "$text"
(cd "$dir" && "$synapse" train --resume --epochs 3 --data text.txt --checkpoint lm.safetensors > lm-relative.log) \
    || fail "--data spelled relative to the checkpoint's absolute path was refused: $(cat "$dir/lm-relative.log")"
python3 -c 'print("abcd" * 300, end="")' > "$dir/no-newline.txt"
"$synapse" train "${lm[@]/$text/$dir/no-newline.txt}" --epochs 1 --checkpoint "$dir/lm3.safetensors" > /dev/null
"$synapse" sample "$dir/lm3.safetensors" --length 10 > "$dir/sample-no-newline.txt" \
    || fail "sample without a newline in the vocabulary: $(cat "$dir/sample-no-newline.txt")"
echo "cli-smoke: char-lstm train, resume, evaluate, sample and refusals passed"

# The classic models: each trains an epoch, reports its own metric and evaluates; flags of other models are refused.
for model in perceptron softmax lenet5 autoencoder rbm; do
    batch=(--batch-size 50)
    [ "$model" = perceptron ] && batch=(--batch-size 1)   # the rule updates after each image
    "$synapse" train --train-limit 600 --test-limit 200 --device cpu "${batch[@]}" --model $model --epochs 1 \
        --checkpoint "$dir/$model.safetensors" > "$dir/$model.log" \
        || fail "$model: $(cat "$dir/$model.log")"
    "$synapse" evaluate "$dir/$model.safetensors" --test-limit 200 > "$dir/$model-evaluate.log" \
        || fail "$model evaluate: $(cat "$dir/$model-evaluate.log")"
done
grep -q "test accuracy" "$dir/perceptron.log" || fail "perceptron: $(cat "$dir/perceptron.log")"
grep -q "units in error per image" "$dir/perceptron-evaluate.log" || fail "perceptron evaluate: $(cat "$dir/perceptron-evaluate.log")"
# Twenty images are linearly separable: the rule stops once an epoch makes no error, long before 100 epochs.
"$synapse" train --model perceptron --train-limit 20 --test-limit 20 --device cpu --epochs 100 \
    --checkpoint "$dir/separable.safetensors" > "$dir/separable.log" || fail "perceptron: $(cat "$dir/separable.log")"
grep -q "stopped after epoch [0-9]* of 100: it classified every training image correctly" "$dir/separable.log" \
    || fail "the perceptron did not stop at an epoch without errors: $(tail -3 "$dir/separable.log")"
grep -q "test mean squared error" "$dir/autoencoder-evaluate.log" || fail "autoencoder evaluate: $(cat "$dir/autoencoder-evaluate.log")"
grep -q "test pseudo-likelihood .* free energy" "$dir/rbm-evaluate.log" || fail "rbm evaluate: $(cat "$dir/rbm-evaluate.log")"
grep -q "^epoch,train_loss,test_loss,test_pseudo_likelihood" "$dir/rbm.csv" || fail "rbm curves: $(cat "$dir/rbm.csv")"
stack=("${small[@]}" --model stacked-autoencoder --widths 32,16 --corruption 0.2 --pretrain-epochs 1 --epochs 1)
"$synapse" train "${stack[@]}" --checkpoint "$dir/sdae.safetensors" > "$dir/sdae.log" || fail "sdae: $(cat "$dir/sdae.log")"
grep -q "layer 2/2 epoch 1/1" "$dir/sdae.log" && grep -q "fine-tune epoch 1/1 .* test accuracy" "$dir/sdae.log" \
    && [ -f "$dir/sdae.layer1.csv" ] && [ -f "$dir/sdae.layer2.svg" ] || fail "sdae phases: $(cat "$dir/sdae.log")"
"$synapse" evaluate "$dir/sdae.safetensors" > "$dir/sdae-evaluate.log"
cp "$dir/sdae.pretrained.safetensors" "$dir/kept.pretrained.safetensors"
expect_error "a stack pretrained before" "$synapse" train "${stack[@]}" --checkpoint "$dir/kept.safetensors"
grep -q "fine-tuned" "$dir/sdae-evaluate.log" || fail "sdae evaluate: $(cat "$dir/sdae-evaluate.log")"
# The pictures: filters of the first layer and RBM samples, as PNG files of the size the mosaic has.
png_size() { python3 -c 'import struct, sys; d = open(sys.argv[1], "rb").read(24); assert d[:8] == b"\x89PNG\r\n\x1a\n", d; print(*struct.unpack(">II", d[16:24]))' "$1"; }
"$synapse" filters "$dir/rbm.safetensors" --out "$dir/filters.png" --count 16 > "$dir/filters.log" || fail "filters: $(cat "$dir/filters.log")"
[ "$(png_size "$dir/filters.png")" = "229 229" ] || fail "filters.png is $(png_size "$dir/filters.png"), not 229 229"
"$synapse" sample "$dir/rbm.safetensors" --out "$dir/samples.png" --count 9 --gibbs-steps 10 > "$dir/samples.log" \
    || fail "rbm sample: $(cat "$dir/samples.log")"
[ "$(png_size "$dir/samples.png")" = "172 172" ] || fail "samples.png is $(png_size "$dir/samples.png"), not 172 172"
"$synapse" filters "$dir/run.safetensors" --out "$dir/lenet.png" > /dev/null || fail "filters of LeNet's conv1"
expect_error "which does not generate" "$synapse" sample "$dir/perceptron.safetensors" --out "$dir/x.png"
expect_error "give --out FILE.png" "$synapse" sample "$dir/rbm.safetensors"
expect_error "applies to char-lstm models" "$synapse" sample "$dir/rbm.safetensors" --out "$dir/x.png" --prime "a"
expect_error "filters draws layers that read pixels" "$synapse" filters "$dir/lm.safetensors" --out "$dir/x.png"
expect_error "should end in .png" "$synapse" filters "$dir/rbm.safetensors" --out "$dir/x.jpg"
cp "$dir/rbm.safetensors" "$dir/rbm-copy.png"
expect_error "is the checkpoint being read" "$synapse" filters "$dir/rbm-copy.png" --out "$dir/rbm-copy.png"
echo "notes" > "$dir/notes.png"
expect_error "exists and is not a PNG file" "$synapse" sample "$dir/rbm.safetensors" --out "$dir/notes.png"
expect_error "must be 1" "$synapse" train "${small[@]}" --model perceptron --checkpoint "$dir/x.safetensors"
expect_error "has no effect without a penalty weight" "$synapse" train "${small[@]}" --model autoencoder --sparsity 0.1 --checkpoint "$dir/x.safetensors"
# Sparse coding of the default photographs (python3-skimage): an epoch, its atoms drawn, a resume, bad images refused.
if [ -d /usr/lib/python3/dist-packages/skimage/data ]; then
    "$synapse" train --model sparse-coding --patches 2000 --epochs 1 --device cpu --checkpoint "$dir/sc.safetensors" > "$dir/sc.log" \
        || fail "sparse coding: $(cat "$dir/sc.log")"
    grep -q "test mean squared error .* codes non-zero" "$dir/sc.log" || fail "sparse coding epoch: $(cat "$dir/sc.log")"
    "$synapse" filters "$dir/sc.safetensors" --out "$dir/atoms.png" > /dev/null || fail "filters of the atoms"
    [ "$(png_size "$dir/atoms.png")" = "685 628" ] || fail "atoms.png is $(png_size "$dir/atoms.png")"
    "$synapse" train --resume --epochs 2 --checkpoint "$dir/sc.safetensors" > "$dir/sc-resume.log" || fail "sparse coding resume: $(cat "$dir/sc-resume.log")"
    grep -q "resumed from .* after epoch 1" "$dir/sc-resume.log" || fail "sparse coding did not resume: $(cat "$dir/sc-resume.log")"
fi
mkdir "$dir/photos"
echo "not a picture" > "$dir/photos/broken.png"
expect_error "broken.png: not a PNG or JPEG" "$synapse" train --model sparse-coding --data "$dir/photos" --checkpoint "$dir/x.safetensors"
expect_error "applies to sparse-coding" "$synapse" train "${small[@]}" --lambda 0.1 --checkpoint "$dir/x.safetensors"
expect_error "does not apply to sparse-coding" "$synapse" train --model sparse-coding --lr 0.1 --checkpoint "$dir/x.safetensors"
expect_error "applies to stacked-autoencoder, dbn, not to lenet" "$synapse" train "${small[@]}" --pretrain-epochs 2 --checkpoint "$dir/x.safetensors"
expect_error "applies to autoencoder, stacked-autoencoder, not to rbm" "$synapse" train "${small[@]}" --model rbm --tied --checkpoint "$dir/x.safetensors"
expect_error "has one hidden layer" "$synapse" train "${small[@]}" --model rbm --widths 10,10 --checkpoint "$dir/x.safetensors"
expect_error "plain SGD" "$synapse" train "${small[@]}" --model perceptron --momentum 0.5 --checkpoint "$dir/x.safetensors"
expect_error "differs from the rbm model" "$synapse" evaluate "$dir/rbm.safetensors" --model lenet
echo "cli-smoke: perceptron, softmax, LeNet-5, autoencoder, rbm and stacked autoencoders train, evaluate and refuse what does not apply"
"$(dirname "$0")/kill-test.sh" "$synapse" 20
# A deep belief net killed in any phase (either layer's pretraining, the fine-tuning) resumes bit for bit.
"$(dirname "$0")/kill-test.sh" "$synapse" 12 --model dbn --widths 24,12 --pretrain-epochs 3 --epochs 3 --persistent \
    --train-limit 300 --test-limit 100 --batch-size 20 --device cpu --threads 1
