#!/usr/bin/env python3
"""Writes Tests/SynapseTests/Fixtures/lstm-torch.safetensors: a 2-layer torch.nn.LSTM (input 3, hidden 4,
batch_first) with its weights, an input x [2, 5, 3], a weighting r [2, 5, 4], and what PyTorch computes from
them: the output y and the gradients of sum(y * r) with respect to x and every weight ("grad.<name>").

The weights and inputs are stored as float32 and PyTorch computes in float64 from exactly those values, so the
fixture is the reference a float32 implementation is compared with. Needs torch, numpy and safetensors
(Benchmarks/compare/run.sh installs them into .build-py):

    .build-py/bin/python scripts/make-lstm-fixture.py
"""
import os

import numpy as np
import torch
from safetensors.numpy import save_file

torch.manual_seed(20261206)
lstm = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
x = torch.randn(2, 5, 3)
r = torch.randn(2, 5, 4)

# Round everything to float32 first, then compute in float64 from those values.
weights = {name: value.detach().float() for name, value in lstm.state_dict().items()}
lstm64 = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True).double()
lstm64.load_state_dict({name: value.double() for name, value in weights.items()})
x64 = x.double().requires_grad_(True)
y, _ = lstm64(x64)
(y * r.double()).sum().backward()

tensors = {"lstm." + name: value.numpy() for name, value in weights.items()}
tensors.update({"x": x.numpy(), "r": r.numpy(), "y": y.detach().float().numpy(),
                "grad.x": x64.grad.float().numpy()})
for name, parameter in lstm64.named_parameters():
    tensors["grad.lstm." + name] = parameter.grad.float().numpy()
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "SynapseTests", "Fixtures", "lstm-torch.safetensors")
save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, path,
          metadata={"torch": torch.__version__, "generator": "scripts/make-lstm-fixture.py"})
print("wrote", os.path.normpath(path), "with", len(tensors), "tensors, torch", torch.__version__)
