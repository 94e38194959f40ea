#!/usr/bin/env python3
"""PyTorch (CPU) baselines for the classic models on Fashion-MNIST, under Synapse's recipes: the test accuracy of
softmax regression and of the sigmoid MLPs that the stacked models become, trained from scratch.

softmax:     standardised pixels, Linear(784, 10) from N(0, 0.01^2), SGD lr 0.02 momentum 0.9 weight decay 5e-4,
             cosine decay per step to 0 (synapse train --model softmax --epochs E).
mlp-adam:    standardised pixels, 784-W1-W2-10 sigmoid (Xavier-uniform hidden weights, output N(0, 0.01^2)), Adam 1e-3,
             cosine (synapse train --model stacked-autoencoder --pretrain-epochs 0 --epochs E).
mlp-sgd:     the same net on intensities in [0, 1], SGD lr 0.1 momentum 0.9 weight decay 5e-4, cosine
             (synapse train --model dbn --pretrain-epochs 0 --epochs E).
Batches of 64 in a new random order each epoch.
"""
import argparse
import json
import math
import time

import torch
from torch import nn

from fashion_mnist import load


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["softmax", "mlp-adam", "mlp-sgd"], required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--widths", default="500,500")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x_train, y_train, x_test, y_test = (torch.from_numpy(t) for t in load("unit" if a.model == "mlp-sgd" else "standard"))
    layers, width = [], 784
    if a.model != "softmax":
        for w in map(int, a.widths.split(",")):
            linear = nn.Linear(width, w)
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.Sigmoid()]
            width = w
    out = nn.Linear(width, 10)
    nn.init.normal_(out.weight, std=0.01)
    nn.init.zeros_(out.bias)
    model = nn.Sequential(*layers, out)
    if a.model == "mlp-adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.02 if a.model == "softmax" else 0.1, momentum=0.9, weight_decay=5e-4)
    steps = a.epochs * math.ceil(len(x_train) / a.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for _ in range(a.epochs):
        order = torch.randperm(len(x_train))
        for i in range(0, len(x_train), a.batch):
            idx = order[i:i + a.batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
            schedule.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    if a.json:
        print(json.dumps({"framework": "pytorch", "version": torch.__version__, "model": a.model, "epochs": a.epochs,
                          "test_accuracy": accuracy, "seconds": seconds}))
    else:
        print(f"pytorch {a.model} {a.epochs} epochs: test accuracy {100 * accuracy:.2f}% ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
