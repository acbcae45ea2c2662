"""`python -m benchmarks.overhead`: wall time of the full co-simulation (devices, SimPy, ledger)
of a training against bare numpy FP32 training of the same network, data order and steps.

The bare baseline is a plain float32 numpy loop (forward, softmax cross-entropy, backward, SGD)
evaluating the test set as often as the trainer does; no cosim code runs in it. One JSON line:
best-of-`--repeat` wall and CPU seconds of each, their ratios per method (target ≤ 1.3; judged
on CPU time, which other load on a shared machine disturbs far less than wall time), the profiled
share of time in the co-simulation machinery (SimPy, chip components, costs, ledger) and from it
the estimated ratio of the priced run to the same training unpriced.
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import best_of, default_specs, emit, machinery_share, progress
from cosim.nn.data import BatchStream, load_digits_split
from cosim.sim.training import Trainer, seed_streams

TARGET = 1.3


def bare_numpy_mlp(widths: list[int], data, steps: int, batch: int, lr: float, eval_every: int, seed: int):
    """Sigmoid MLP in float32 numpy with the trainer's data order; returns final test accuracy."""
    streams = seed_streams(seed)
    rng = streams["init"]
    ws = [rng.uniform(-np.sqrt(6 / (a + b)), np.sqrt(6 / (a + b)), (a, b)).astype(np.float32)
          for a, b in zip(widths, widths[1:])]
    bs = [np.zeros(b, np.float32) for b in widths[1:]]
    stream = BatchStream(data.x_train.astype(np.float32), data.y_train, batch, streams["data"])
    x_test = data.x_test.astype(np.float32)

    def forward(x):
        hs = [x]
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = hs[-1] @ w + b
            hs.append(z if i == len(ws) - 1 else 1.0 / (1.0 + np.exp(-z)))
        return hs

    accuracy = 0.0
    for step in range(steps):
        x, y = stream.next()
        hs = forward(x)
        p = np.exp(hs[-1] - hs[-1].max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1.0
        grad = p / len(y)
        for i in reversed(range(len(ws))):
            gw, gb = hs[i].T @ grad, grad.sum(axis=0)
            if i:
                grad = (grad @ ws[i].T) * hs[i] * (1.0 - hs[i])
            ws[i] -= lr * gw
            bs[i] -= lr * gb
        if (step + 1) % eval_every == 0 or step == steps - 1:
            accuracy = float((forward(x_test)[-1].argmax(axis=1) == data.y_test).mean())
    return accuracy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default="ideal,bp_open_loop,write_verify,eapu")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled machinery share")
    args = parser.parse_args(argv)
    wl, hw = default_specs(args.steps)
    data = load_digits_split(wl.data.test_fraction, wl.data.split_seed)
    t = wl.training
    widths = list(wl.network.params["widths"])
    bare = best_of(args.repeat, lambda: bare_numpy_mlp(widths, data, t.steps, t.batch_size, t.learning_rate,
                                                       t.eval_every, wl.seed))
    methods = args.methods.split(",")
    cosim = {}
    with progress(len(methods) * args.repeat, "overhead") as advance:
        for method in methods:
            cosim[method] = best_of(args.repeat, lambda: (Trainer(method, wl, hw, data).train(), advance()))
    ratio = {m: t["cpu_s"] / bare["cpu_s"] for m, t in cosim.items()}
    ratio_wall = {m: t["wall_s"] / bare["wall_s"] for m, t in cosim.items()}
    share = {} if args.no_profile else {m: machinery_share(lambda: Trainer(m, wl, hw, data).train())
                                        for m in methods}
    emit({"benchmark": "overhead", "network": "mlp_digits", "steps": t.steps, "batch_size": t.batch_size,
          "bare_numpy_fp32": bare, "cosim": cosim, "ratio_cpu": ratio, "ratio_wall": ratio_wall,
          "target_ratio": TARGET,
          "meets_target": {m: r <= TARGET for m, r in ratio.items()},
          "machinery_share_profiled": share,
          "ratio_vs_unpriced_estimate": {m: 1.0 / (1.0 - f) for m, f in share.items()}})


if __name__ == "__main__":
    main()
