#!/usr/bin/env python3
"""PyTorch (CPU) reference for `synapse train --model char-lstm`: the same recipe, to compare the bits per
character it reaches.

The text is read as Synapse reads it: a UTF-8 file, or every file without an extension in a directory (the
fortune files), in name order; characters are Unicode code points, numbered in code-point order; the last 5%
is held out for validation. An epoch reads the training text as BATCH streams side by side, SEQUENCE characters
per batch, the LSTM state carried from batch to batch (detached) and reset at each epoch. Model: nn.Embedding(V,
64), nn.LSTM(64, HIDDEN, num_layers=LAYERS, batch_first=True), nn.Linear(HIDDEN, V). Adam (lr 0.002), the
learning rate on a cosine from the base rate to 0 over the run, gradients clipped to norm 5.
"""
import argparse
import math
import os
import time

import torch
from torch import nn


def read_text(path: str) -> str:
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if "." not in n)
        files = [os.path.join(path, n) for n in names]
        files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)]
        return "".join(open(f, encoding="utf-8").read() for f in files)
    return open(path, encoding="utf-8").read()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/games/fortunes")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--sequence", type=int, default=50)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)

    text = read_text(a.data)
    vocabulary = sorted(set(text), key=ord)
    index = {c: i for i, c in enumerate(vocabulary)}
    tokens = torch.tensor([index[c] for c in text])
    held = int(len(tokens) * 0.05)
    train, validation = tokens[:len(tokens) - held], tokens[len(tokens) - held:]

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(len(vocabulary), 64)
            self.lstm = nn.LSTM(64, a.hidden, num_layers=a.layers, batch_first=True)
            self.fc = nn.Linear(a.hidden, len(vocabulary))

        def forward(self, x, state):
            y, state = self.lstm(self.embed(x), state)
            return self.fc(y), state

    model = CharLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=0.002)
    loss_fn = nn.CrossEntropyLoss()

    def batches(data, streams):
        length = (len(data) - 1) // streams
        count = length // a.sequence
        for i in range(count):
            starts = [s * length + i * a.sequence for s in range(streams)]
            x = torch.stack([data[s:s + a.sequence] for s in starts])
            y = torch.stack([data[s + 1:s + a.sequence + 1] for s in starts])
            yield x, y

    per_epoch = (len(train) - 1) // a.batch // a.sequence
    total = per_epoch * a.epochs
    step = 0
    for epoch in range(1, a.epochs + 1):
        model.train()
        state, losses, start = None, [], time.perf_counter()
        for x, y in batches(train, a.batch):
            for group in opt.param_groups:
                group["lr"] = 0.002 * 0.5 * (1 + math.cos(math.pi * step / total))
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)
            loss = loss_fn(logits.reshape(-1, len(vocabulary)), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5)
            opt.step()
            losses.append(loss.item())
            step += 1
        model.eval()
        streams = max(1, min(a.batch, (len(validation) - 1) // a.sequence))
        state, total_loss, n = None, 0.0, 0
        with torch.no_grad():
            for x, y in batches(validation, streams):
                logits, state = model(x, state)
                total_loss += loss_fn(logits.reshape(-1, len(vocabulary)), y.reshape(-1)).item()
                n += 1
        seconds = time.perf_counter() - start
        print(f"epoch {epoch}/{a.epochs}  train loss {sum(losses) / len(losses):.4f}  validation loss {total_loss / n:.4f}  "
              f"{total_loss / n / math.log(2):.4f} bits per character  {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
