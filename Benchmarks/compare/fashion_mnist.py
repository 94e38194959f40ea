"""Fashion-MNIST from Debian's dataset-fashion-mnist, as numpy arrays, for the comparison scripts."""
import gzip
import os

import numpy as np

DIRECTORY = "/usr/share/datasets/fashion-mnist"


def _read(name: str, offset: int) -> np.ndarray:
    with gzip.open(os.path.join(DIRECTORY, name), "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load(scaling: str = "unit"):
    """(train images, train labels, test images, test labels); images flat [n, 784] float32 in [0, 1] ("unit"),
    binarised at 0.5 ("binary", as Synapse's rbm), or standardised with the training set's mean and std ("standard")."""
    x_train = _read("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
    x_test = _read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
    y_train = _read("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    y_test = _read("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    if scaling == "binary":
        x_train, x_test = (x_train >= 0.5).astype(np.float32), (x_test >= 0.5).astype(np.float32)
    elif scaling == "standard":
        mean, std = x_train.mean(), x_train.std()
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    return x_train, y_train, x_test, y_test
