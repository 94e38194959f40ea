#!/usr/bin/env python3
"""scikit-learn's MiniBatchDictionaryLearning on the photographs `synapse train --model sparse-coding` reads by
default: the same count of 8x8 patches prepared the same way (each patch's mean removed, the set scaled to unit
standard deviation; positions drawn by numpy, not Philox), the same atoms, lambda (alpha), batch and epochs.
Prints the fit's seconds, and on as many held-out patches as Synapse holds out: the codes per patch (the LASSO
solved by coordinate descent, as alpha says) and the mean squared error per pixel of their reconstructions."""
import argparse
import json
import os
import time

import numpy as np

PHOTOGRAPHS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "grass.png", "gravel.png",
               "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg"]


def patches(images, size, count, rng):
    areas = np.array([(im.shape[0] - size + 1) * (im.shape[1] - size + 1) for im in images], dtype=np.float64)
    which = rng.choice(len(images), size=count, p=areas / areas.sum())
    out = np.empty((count, size * size), dtype=np.float32)
    for n, i in enumerate(which):
        im = images[i]
        y = rng.integers(0, im.shape[0] - size + 1)
        x = rng.integers(0, im.shape[1] - size + 1)
        p = im[y:y + size, x:x + size].reshape(-1)
        out[n] = p - p.mean()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--directory", default="/usr/lib/python3/dist-packages/skimage/data")
    p.add_argument("--atoms", type=int, default=128)
    p.add_argument("--alpha", type=float, default=0.15)
    p.add_argument("--patches", type=int, default=20000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(a.threads)
    import warnings

    import sklearn
    from PIL import Image
    from sklearn.exceptions import ConvergenceWarning
    warnings.filterwarnings("ignore", category=ConvergenceWarning)   # coordinate descent's per-batch notes
    from sklearn.decomposition import MiniBatchDictionaryLearning, sparse_encode

    images = [np.asarray(Image.open(os.path.join(a.directory, f)).convert("L"), dtype=np.float32) / 255 for f in PHOTOGRAPHS]
    rng = np.random.default_rng(0)
    train, test = patches(images, 8, a.patches, rng), patches(images, 8, a.patches // 10, rng)
    scale = train.std()
    train, test = train / scale, test / scale
    model = MiniBatchDictionaryLearning(n_components=a.atoms, alpha=a.alpha, batch_size=a.batch, max_iter=a.epochs,
                                        fit_algorithm="cd", transform_algorithm="lasso_cd", transform_alpha=a.alpha,
                                        random_state=0)
    t0 = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - t0
    codes = sparse_encode(test, model.components_, algorithm="lasso_cd", alpha=a.alpha)
    error = float(((test - codes @ model.components_) ** 2).mean())
    nonzeros = float((codes != 0).sum(axis=1).mean())
    if a.json:
        print(json.dumps({"framework": "scikit-learn", "version": sklearn.__version__, "seconds": seconds,
                          "mean_squared_error": error, "nonzeros": nonzeros}))
    else:
        print(f"scikit-learn {sklearn.__version__} MiniBatchDictionaryLearning {a.atoms} atoms, alpha {a.alpha}, "
              f"{a.epochs} epochs: {seconds:.1f} s, held-out mean squared error {error:.4f} with {nonzeros:.1f} codes")


if __name__ == "__main__":
    main()
