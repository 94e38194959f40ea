#!/usr/bin/env python3
"""PyTorch CUDA references for the GPU run (scripts/gpu-run.sh), in true FP32 (TF32 off for matmul and cuDNN).

  gemm --size N      GFLOP/s of an N x N x N float32 matmul (cuBLAS), median of 20 after warm-up
  alexnet --batch B  images/s of the same AlexNet training step as pytorch_train.py, on the GPU
Prints one JSON object.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

from pytorch_train import make_model


def timed(fn, reps: int) -> float:
    """Median seconds of fn() over reps runs, each synchronised."""
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["gemm", "alexnet"])
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda")
    result = {"framework": "pytorch", "version": torch.__version__, "device": torch.cuda.get_device_name(0)}
    if a.what == "gemm":
        n = a.size
        x, y = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
        timed(lambda: x @ y, 3)
        seconds = timed(lambda: x @ y, 20)
        result.update(what=f"sgemm {n}", gflops=2 * n**3 / seconds / 1e9)
    else:
        model, shape = make_model("alexnet")
        model = model.to(device).train()
        x = torch.randn(a.batch, *shape, device=device)
        labels = torch.randint(0, 1000, (a.batch,), device=device)
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), labels).backward()
            opt.step()

        timed(step, 3)
        seconds = timed(lambda: [step() for _ in range(a.steps)], 3) / a.steps
        result.update(what=f"alexnet step, batch {a.batch}", images_per_second=a.batch / seconds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
