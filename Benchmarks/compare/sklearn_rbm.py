#!/usr/bin/env python3
"""scikit-learn's BernoulliRBM (persistent CD) on the binarised Fashion-MNIST images: the reference for
`synapse train --model rbm`. Fits the 60,000 training images and prints the fit's seconds and the mean test
pseudo-likelihood (score_samples, one random unit flipped per image, as Synapse estimates it)."""
import argparse
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    # numpy's BLAS reads its thread count when it loads.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(a.threads)
    import sklearn
    from sklearn.neural_network import BernoulliRBM

    from fashion_mnist import load

    x_train, _, x_test, _ = load("binary")
    rbm = BernoulliRBM(n_components=a.hidden, batch_size=a.batch, n_iter=a.epochs, learning_rate=0.1, random_state=0)
    t0 = time.perf_counter()
    rbm.fit(x_train)
    seconds = time.perf_counter() - t0
    pseudo_likelihood = float(rbm.score_samples(x_test).mean())
    if a.json:
        print(json.dumps({"framework": "scikit-learn", "version": sklearn.__version__, "seconds": seconds,
                          "pseudo_likelihood": pseudo_likelihood, "hidden": a.hidden, "batch": a.batch,
                          "epochs": a.epochs, "threads": a.threads}))
    else:
        print(f"scikit-learn {sklearn.__version__} BernoulliRBM {a.hidden} hidden, batch {a.batch}, {a.epochs} epochs, "
              f"{a.threads} threads: {seconds:.1f} s, test pseudo-likelihood {pseudo_likelihood:.2f}")


if __name__ == "__main__":
    main()
