#!/usr/bin/env python3
"""PyTorch (CPU) reference for `synapse bench model --model autoencoder|stacked-autoencoder`: pretraining-step
throughput of the same autoencoders.

sparse: 784 -> 256 sigmoid codes with UFLDL's KL penalty (rho 0.05, beta 3) on the batch-mean activation, a linear
decoder back to 784, squared error 1/2 ||x - x_hat||^2 per image (batch mean).
stacked: the pretraining of layer 2 of a 784-500-500 stack: layer 1 (784 -> 500 sigmoid) frozen and run without
gradients, masking noise 0.2 on its codes, 500 -> 500 sigmoid, linear decoder to 500, squared error against the
clean codes. Both with Adam (lr 1e-3) at batch B on one batch of random pixels; timing as timing.py.
"""
import argparse
import json

import torch
from torch import nn

from timing import add_step_options, timed_blocks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["sparse", "stacked"], default="sparse")
    p.add_argument("--batch", type=int, default=64)
    add_step_options(p)
    a = p.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.rand(a.batch, 784)
    if a.model == "sparse":
        encoder, decoder, below = nn.Linear(784, 256), nn.Linear(256, 784), None
    else:
        below = nn.Sequential(nn.Linear(784, 500), nn.Sigmoid()).requires_grad_(False)
        encoder, decoder = nn.Linear(500, 500), nn.Linear(500, 500)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    rho, beta = 0.05, 3.0

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        if below is None:
            target = x
            codes = torch.sigmoid(encoder(x))
        else:
            with torch.no_grad():
                target = below(x)
                corrupted = target * (torch.rand_like(target) >= 0.2)
            codes = torch.sigmoid(encoder(corrupted))
        loss = 0.5 * ((decoder(codes) - target) ** 2).sum(dim=1).mean()
        if below is None:
            r = codes.mean(dim=0).clamp(1e-6, 1 - 1e-6)
            loss = loss + beta * (rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))).sum()
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    seconds = timed_blocks(step, a.steps)
    ips = a.batch * a.steps / seconds
    if a.json:
        print(json.dumps({"framework": "pytorch", "version": torch.__version__, "model": f"{a.model} autoencoder",
                          "batch": a.batch, "threads": a.threads, "steps": a.steps, "images_per_second": round(ips, 1)}))
    else:
        print(f"pytorch {torch.__version__} {a.model} autoencoder batch {a.batch} threads {a.threads}: {ips:.0f} images/s")


if __name__ == "__main__":
    main()
