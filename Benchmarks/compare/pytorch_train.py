#!/usr/bin/env python3
"""PyTorch (CPU) reference for `synapse bench model`: training-step throughput.

One timed step = zero_grad, forward (train mode), mean softmax cross-entropy,
backward, SGD step (lr 0.01, momentum 0.9, weight decay 5e-4), float32.
Input and labels are random, made once before timing, so no data loading is
measured. After W warm-up steps, three blocks of S steps are timed and the
median block gives images/s = batch * S / seconds.
"""
import argparse
import json

import torch
from torch import nn

from timing import add_step_options, timed_blocks


def make_model(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    """The network and the shape of one input image (without the batch)."""
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(256, 10),
        ), (1, 28, 28)
    if name == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        ), (1, 28, 28)
    if name == "alexnet":
        # Caffe's bvlc_alexnet: grouped conv2/4/5 and LRN, 1000 classes.
        def lrn():
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        return nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Flatten(),
            nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 1000),
        ), (3, 227, 227)
    raise ValueError(f"unknown model {name!r}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "lenet", "alexnet"], required=True)
    p.add_argument("--batch", type=int, default=64)
    add_step_options(p)
    a = p.parse_args()

    # Interop threads must be set before any parallel work starts.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    model, shape = make_model(a.model)
    model.train()
    classes = 1000 if a.model == "alexnet" else 10
    x = torch.randn(a.batch, *shape)
    y = torch.randint(0, classes, (a.batch,))
    loss_fn = nn.CrossEntropyLoss()  # log-softmax + NLL, mean over the batch
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    seconds = timed_blocks(step, a.steps)
    ips = a.batch * a.steps / seconds

    if a.json:
        print(json.dumps({
            "framework": "pytorch", "version": torch.__version__, "model": a.model,
            "batch": a.batch, "threads": a.threads, "steps": a.steps,
            "images_per_second": round(ips, 2),
            "timing": "median of 3 blocks of steps, after warmup",
        }))
    else:
        print(f"pytorch {torch.__version__} {a.model} batch {a.batch} threads {a.threads}: "
              f"{ips:.1f} images/s (median of 3 blocks of {a.steps} steps, "
              f"{1000 * seconds / a.steps:.2f} ms/step)")


if __name__ == "__main__":
    main()
