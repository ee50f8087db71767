"""Train a small convolutional network on scikit-learn's digits with chainrule.

Two 3x3 convolutions with relu (`cr.lax.conv_general_dilated`), 2x2 max pooling (`cr.nn.max_pool`),
dropout drawn from `cr.random` inside the compiled step, weights from `cr.nn.initializers`, and
Adam, all in one `cr.jit`-compiled training step. Prints a progress bar per epoch and writes a
loss/accuracy plot (PNG).

    pip install -e ".[examples]"             # scikit-learn (the data), tqdm, matplotlib
    python examples/cnn_training.py                      # LLVM backend
    python examples/cnn_training.py --backend jax        # XLA through JAX
    python examples/cnn_training.py --out plots/         # where the PNG goes (default: a temp dir)

The digits (1,797 images of 8x8 pixels) ship inside scikit-learn: nothing is downloaded. It reaches
about 98% test accuracy in well under a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import backends

DN = ("NHWC", "HWIO", "NHWC")


def load_digits(seed: int):
    """Digits scaled to [0, 1] as (N, 8, 8, 1) images, split 75/25 into train and test sets."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        sys.exit("this example needs scikit-learn for its data: pip install scikit-learn "
                 "(or pip install -e '.[examples]')")
    data = sk_load_digits()
    x = (data.images / 16.0).astype(np.float32)[..., None]
    y = data.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def init_params(key, c1=16, c2=32, hidden=64):
    """He-normal convolutions, Glorot-uniform dense layers, zero biases: drawn from one cr.random key."""
    k1, k2, k3, k4 = cr.random.split(key, 4)
    he, glorot = cr.nn.initializers.he_normal(), cr.nn.initializers.glorot_uniform()
    f32 = "float32"
    return {"conv1": he(k1, (3, 3, 1, c1), f32), "b1": np.zeros(c1, np.float32),
            "conv2": he(k2, (3, 3, c1, c2), f32), "b2": np.zeros(c2, np.float32),
            "dense": glorot(k3, (4 * 4 * c2, hidden), f32), "b3": np.zeros(hidden, np.float32),
            "out": glorot(k4, (hidden, 10), f32), "b4": np.zeros(10, np.float32)}


def dropout(key, x, rate):
    keep = 1.0 - rate
    mask = cr.random.bernoulli(key, np.float32(keep), x.shape)
    return cnp.where(mask, x / keep, 0.0)


def logits(params, x, key=None, rate=0.0):
    """The network; with a key it applies dropout (training), without it is deterministic (evaluation)."""
    h = cr.nn.relu(cr.lax.conv_general_dilated(x, params["conv1"], (1, 1), "SAME", dimension_numbers=DN) + params["b1"])
    h = cr.nn.relu(cr.lax.conv_general_dilated(h, params["conv2"], (1, 1), "SAME", dimension_numbers=DN) + params["b2"])
    h = cr.nn.max_pool(h, (2, 2), strides=(2, 2))  # (N, 4, 4, c2)
    h = h.reshape(h.shape[0], -1)
    if key is not None:
        k1, k2 = cr.random.split(key)
        h = dropout(k1, h, rate)
    h = cr.nn.relu(h @ params["dense"] + params["b3"])
    if key is not None:
        h = dropout(k2, h, rate)
    return h @ params["out"] + params["b4"]


def loss(params, x, labels, key, rate):
    log_probs = cr.nn.log_softmax(logits(params, x, key, rate))
    return -cnp.mean(cnp.sum(log_probs * cr.nn.one_hot(labels, 10, dtype="float32"), axis=1))


def make_step(rate, lr, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step, compiled whole: gradients, moments and the update stay in one native function."""
    def step(params, m, v, t, x, labels, key, i):
        key = cr.random.fold_in(key, i)  # a fresh dropout key per step, derived inside the graph
        value, grads = cr.value_and_grad(loss)(params, x, labels, key, rate)
        t = t + 1.0
        m = {k: b1 * m[k] + (1 - b1) * grads[k] for k in params}
        v = {k: b2 * v[k] + (1 - b2) * grads[k] * grads[k] for k in params}
        scale = lr * cnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        params = {k: params[k] - scale * m[k] / (cnp.sqrt(v[k]) + eps) for k in params}
        return params, m, v, t, value
    return step


class PlainBar:
    """A dependency-free stand-in for tqdm: one line per epoch."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""

    def update(self, k=1):
        self.n += k

    def set_postfix_str(self, s):
        self.postfix = s

    def close(self):
        print(f"{self.desc} {self.n}/{self.total} {self.postfix}", flush=True)


def progress(total, desc, plain=False):
    if not plain:
        try:
            from tqdm import tqdm
            return tqdm(total=total, desc=desc, file=sys.stdout, leave=True)
        except ImportError:
            pass
    return PlainBar(total, desc)


def plot(history, path):
    """Training loss per step and train/test accuracy per epoch, side by side."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[examples]')")
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(history["loss"], lw=0.8)
    ax1.set(title="training loss", xlabel="step", ylabel="cross-entropy", yscale="log")
    epochs = np.arange(1, len(history["test_acc"]) + 1)
    ax2.plot(epochs, history["train_acc"], "o-", label="train")
    ax2.plot(epochs, history["test_acc"], "s-", label="test")
    ax2.set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(min(0.8, min(history["test_acc"])), 1.0))
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None, choices=list(backends.KNOWN_BACKENDS))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--dropout", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="directory for the plot (default: a new temporary directory)")
    ap.add_argument("--plain-progress", action="store_true", help="do not use tqdm even if installed")
    args = ap.parse_args(argv)

    try:
        backend = backends.pick(args.backend)
    except backends.BackendUnavailableError as e:
        sys.exit(str(e))
    x_train, x_test, y_train, y_test = load_digits(args.seed)
    key = cr.random.PRNGKey(args.seed)
    init_key, data_key, dropout_key = cr.random.split(key, 3)
    params = init_params(init_key)
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    t = np.float32(0.0)

    step = cr.jit(make_step(args.dropout, args.lr), backend=backend)
    predict = cr.jit(lambda p, x: cnp.argmax(logits(p, x), axis=1), backend=backend)
    shuffle = cr.jit(lambda k, epoch: cr.random.permutation(cr.random.fold_in(k, epoch), len(x_train)),
                     backend=backend)
    n_batches = len(x_train) // args.batch  # the last, smaller batch is dropped: one compiled signature

    t0 = time.perf_counter()
    step(params, m, v, t, x_train[:args.batch], y_train[:args.batch], dropout_key, 0)  # trace + optimise + compile
    print(f"backend {backend}: first call (trace, optimise, compile) {time.perf_counter() - t0:.2f} s")

    history = {"loss": [], "train_acc": [], "test_acc": []}
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.asarray(shuffle(data_key, epoch))
        bar = progress(n_batches, f"epoch {epoch + 1:2d}/{args.epochs}", args.plain_progress)
        for b in range(n_batches):
            idx = order[b * args.batch:(b + 1) * args.batch]
            params, m, v, t, value = step(params, m, v, t, x_train[idx], y_train[idx], dropout_key,
                                          epoch * n_batches + b)
            history["loss"].append(float(value))
            bar.update(1)
            bar.set_postfix_str(f"loss {np.mean(history['loss'][-n_batches:]):.4f}")
        history["train_acc"].append(float(np.mean(predict(params, x_train) == y_train)))
        history["test_acc"].append(float(np.mean(predict(params, x_test) == y_test)))
        bar.set_postfix_str(f"loss {np.mean(history['loss'][-n_batches:]):.4f} test acc {history['test_acc'][-1]:.4f}")
        bar.close()
    train_s = time.perf_counter() - t0

    out_dir = args.out or tempfile.mkdtemp(prefix="chainrule-cnn-")
    os.makedirs(out_dir, exist_ok=True)
    png = plot(history, os.path.join(out_dir, "cnn_training.png"))
    print(f"trained {args.epochs} epochs in {train_s:.2f} s ({1e3 * train_s / (args.epochs * n_batches):.2f} ms per step)")
    if png:
        print(f"plot: {png}")
    print(f"test accuracy: {history['test_acc'][-1]:.4f}")
    return history["test_acc"][-1]


if __name__ == "__main__":
    main()
