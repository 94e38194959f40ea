#!/usr/bin/env python3
"""PyTorch (CPU) reference for `synapse bench model --model char-lstm`: training-step throughput of a
character-level language model.

The model is Synapse's char-lstm: nn.Embedding(96, 64), nn.LSTM(64, H, num_layers=L, batch_first=True) and
nn.Linear(H, 96), on random tokens [batch, sequence]. One timed step = zero_grad, forward, mean softmax
cross-entropy over every character, backward, SGD step (lr 0.01, momentum 0.9), float32. After W warm-up steps,
three blocks of S steps are timed and the median block gives tokens/s = batch * sequence * S / seconds.
"""
import argparse
import json

import torch
from torch import nn

from timing import add_step_options, timed_blocks


class CharLSTM(nn.Module):
    def __init__(self, characters: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(characters, 64)
        self.lstm = nn.LSTM(64, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, characters)

    def forward(self, x):
        y, _ = self.lstm(self.embed(x))
        return self.fc(y)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--sequence", type=int, default=50)
    add_step_options(p)
    a = p.parse_args()

    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    characters = 96
    model = CharLSTM(characters, a.hidden, a.layers)
    model.train()
    x = torch.randint(0, characters, (a.batch, a.sequence))
    y = torch.randint(0, characters, (a.batch * a.sequence,))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x).reshape(-1, characters), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    seconds = timed_blocks(step, a.steps)
    tps = a.batch * a.sequence * a.steps / seconds
    if a.json:
        print(json.dumps({
            "framework": "pytorch", "version": torch.__version__, "model": f"char-lstm {a.layers}x{a.hidden}",
            "batch": a.batch, "sequence": a.sequence, "threads": a.threads, "steps": a.steps,
            "tokens_per_second": round(tps, 1), "timing": "median of 3 blocks of steps, after warmup",
        }))
    else:
        print(f"pytorch {torch.__version__} char-lstm {a.layers}x{a.hidden} batch {a.batch} sequence {a.sequence} "
              f"threads {a.threads}: {tps:.0f} tokens/s ({1000 * seconds / a.steps:.2f} ms/step)")


if __name__ == "__main__":
    main()
