#!/usr/bin/env python3
"""tinygrad on OpenCL: reference figures for Synapse's OpenCL backend.

  gemm --size N         GFLOP/s of an N x N float32 matmul (2*N^3 flops),
                        realized and synchronized; compile excluded.
  mlp --batch B --steps S
                        images/s of the MLP training step that
                        pytorch_train.py times (dropout 0.5 in training
                        mode, mean softmax cross-entropy, SGD lr 0.01,
                        momentum 0.9, weight decay 5e-4).

Both run under TinyJit, tinygrad's normal way to run a fixed step fast: after
two calls it replays the captured kernels without re-scheduling them, so the
timing is kernel execution plus launch, not Python graph building or
compilation. Three timed blocks follow the warm-up; the median is reported.
"""
import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

# tinygrad picks its device when imported. The OpenCL backend is "CL" (set by
# DEV=CL) in current releases; older releases called it "GPU" (set by GPU=1).
if "DEV" not in os.environ and "GPU" not in os.environ:
    spec = importlib.util.find_spec("tinygrad")
    if spec is None:
        sys.exit("tinygrad is not installed (pip install tinygrad)")
    runtime = Path(spec.origin).parent / "runtime"
    if (runtime / "ops_cl.py").exists():
        os.environ["DEV"] = "CL"
    else:
        os.environ["GPU"] = "1"

from tinygrad import Context, Device, Tensor, TinyJit, nn  # noqa: E402
from tinygrad.nn.state import get_parameters  # noqa: E402

from timing import timed_blocks  # noqa: E402


def version() -> str:
    from importlib.metadata import version as v
    return v("tinygrad")


def bench_gemm(n: int, repeats: int, sync) -> dict:
    a = Tensor.randn(n, n).realize()
    b = Tensor.randn(n, n).realize()

    @TinyJit
    def mm(a: Tensor, b: Tensor) -> Tensor:
        return (a @ b).realize()

    for _ in range(3):  # compile, then JIT capture
        mm(a, b)
    seconds = timed_blocks(lambda: mm(a, b), repeats, sync) / repeats
    return {"size": n, "gflops": round(2 * n ** 3 / seconds / 1e9, 2),
            "timing": f"median of 3 blocks of {repeats} runs, TinyJit, after warmup"}


class MLP:
    def __init__(self):
        self.l1, self.l2, self.l3 = nn.Linear(784, 512), nn.Linear(512, 256), nn.Linear(256, 10)

    def __call__(self, x: Tensor) -> Tensor:
        x = self.l1(x.flatten(1)).relu().dropout(0.5)
        x = self.l2(x).relu().dropout(0.5)
        return self.l3(x)


def bench_mlp(batch: int, steps: int, warmup: int, sync) -> dict:
    model = MLP()
    opt = nn.optim.SGD(get_parameters(model), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = Tensor.randn(batch, 1, 28, 28).realize()
    y = Tensor.randint(batch, low=0, high=10).realize()

    @TinyJit
    def step(x: Tensor, y: Tensor) -> Tensor:
        # TRAINING=1 turns dropout on and is required by the optimizer.
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y).backward()
            opt.step()
        return loss.realize()

    for _ in range(max(warmup, 3)):  # the JIT needs two calls to capture
        step(x, y)
    seconds = timed_blocks(lambda: step(x, y), steps, sync)
    return {"model": "mlp", "batch": batch, "steps": steps,
            "images_per_second": round(batch * steps / seconds, 2),
            "timing": f"median of 3 blocks of {steps} steps, TinyJit, after warmup"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="bench", required=True)
    g = sub.add_parser("gemm")
    g.add_argument("--size", type=int, default=1024)
    g.add_argument("--repeats", type=int, default=5, help="runs per timed block (3 blocks)")
    m = sub.add_parser("mlp")
    m.add_argument("--batch", type=int, default=64)
    m.add_argument("--steps", type=int, default=50, help="steps per timed block (3 blocks)")
    m.add_argument("--warmup", type=int, default=3)
    for s in (g, m):
        s.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()

    device = Device.DEFAULT
    if device not in ("CL", "GPU"):
        sys.exit(f"tinygrad chose device {device!r}, not OpenCL (is an OpenCL ICD installed? try `clinfo`)")
    dev = Device[device]

    if a.bench == "gemm":
        result = bench_gemm(a.size, a.repeats, dev.synchronize)
    else:
        result = bench_mlp(a.batch, a.steps, a.warmup, dev.synchronize)
    result = {"framework": "tinygrad", "version": version(), "device": device, **result}

    if a.json:
        print(json.dumps(result))
    elif a.bench == "gemm":
        print(f"tinygrad {result['version']} {device} gemm {a.size}: {result['gflops']} GFLOP/s")
    else:
        print(f"tinygrad {result['version']} {device} mlp batch {a.batch}: "
              f"{result['images_per_second']} images/s")


if __name__ == "__main__":
    main()
