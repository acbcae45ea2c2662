"""`python -m benchmarks.overhead`: wall time of the full co-simulation (devices, SimPy, ledger)
of a training against bare numpy FP32 training of the same network, data order and steps.

MLP/digits: the bare baseline is a plain float32 numpy loop (forward, softmax cross-entropy,
backward, SGD) evaluating the test set as often as the trainer does; no cosim code runs in it.
DnCNN-small (depth 5, 8 channels, 16×16 denoising patches): writing conv/batch-norm by hand
again would test a second implementation, so its baseline runs cosim's own layers on float32
weight matrices in a plain loop (no devices, no SimPy, no ledger, no pricing). One JSON line:
best-of-`--repeat` wall and CPU seconds of each, their ratios per method (issue 14's target ≤ 10
on both networks; judged on CPU time, which other load on a shared machine disturbs far less
than wall time), the profiled share of time in the co-simulation machinery (SimPy, chip
components, costs, ledger), and the same training run unpriced (UnpricedChip: the products and
the digital work are not replayed as transactions; the write plans still go through the
controllers, which write the devices), measured: its time, its ratio to bare FP32, and the priced
run's ratio to it (what pricing the products and digital work adds).
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import best_of, default_specs, emit, machinery_share, progress
from cosim.hardware.chip import Chip
from cosim.nn.build import build_network
from cosim.nn.data import BatchStream
from cosim.nn.tasks import load_task
from cosim.sim.assembly import seed_streams
from cosim.sim.training import EVAL_BATCH, Trainer
from cosim.specs.workload import WorkloadSpec

TARGET = 10.0   # issue 14: co-simulation / bare FP32 numpy of the same net, CPU time


def bare_numpy_mlp(widths: list[int], data, steps: int, batch: int, lr: float, eval_every: int, seed: int,
                   progress=None):
    """Sigmoid MLP in float32 numpy with the trainer's data order; returns final test accuracy.
    `progress()`, if given, is called after every step (after its evaluation), as the trainer's."""
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
        if progress:
            progress()
    return accuracy


DNCNN_SMALL = {"name": "dncnn_small",
               "data": {"dataset": "denoise", "patch": 16, "train_patches": 64, "test_patches": 8},
               "network": {"arch": "dncnn", "params": {"depth": 5, "channels": 8, "batch_norm": True,
                                                       "patch": 16}},
               "training": {"learning_rate": 0.01, "batch_size": 8}}


class Fp32Matrix:
    """A float32 weight matrix for the bare baseline (the Matrix protocol, nothing counted)."""

    def __init__(self, w):
        self.w = np.asarray(w, dtype=np.float32)
        self.in_features, self.out_features = self.w.shape
        self.record = False       # nothing priced: no work list

    def matmul(self, x, input_values=None):
        return x.astype(np.float32, copy=False) @ self.w

    def matmul_t(self, dy):
        return dy.astype(np.float32, copy=False) @ self.w.T

    def weights(self):
        return self.w.copy()

    def apply_update(self, delta_w):
        self.w += delta_w.astype(np.float32)


def bare_layers(wl: WorkloadSpec, task, progress=None):
    """The workload's network on float32 matrices, trained in a plain loop like the trainer;
    `progress()` as in bare_numpy_mlp."""
    streams = seed_streams(wl.seed)
    arch = wl.network.build()
    net = build_network(arch, lambda name, w: Fp32Matrix(w), streams["init"], input_grad=False)
    t = wl.training
    batches = BatchStream(task.x_train.astype(np.float32), task.y_train.astype(np.float32), t.batch_size,
                          streams["data"])
    for step in range(t.steps):
        x, target = batches.next()
        _, grad = net.loss_and_grad(net.forward(x, train=True), target)
        net.backward(grad)
        for param in net.matrix_params():
            param.matrix.apply_update(-t.learning_rate * param.grad)
        for p in net.host_params():
            p.value -= t.learning_rate * p.grad
        net.take_host_ops()
        if (step + 1) % t.eval_every == 0 or step == t.steps - 1:
            x_test = task.x_test.astype(np.float32)
            task.scores(np.concatenate([net.forward(x_test[i:i + EVAL_BATCH], train=False)
                                        for i in range(0, len(x_test), EVAL_BATCH)]))
        if progress:
            progress()


class UnpricedChip(Chip):
    """The chip with the products and the digital work of each step left unpriced (no
    transactions, no ledger rows); write plans still run through the controllers, because they
    are the devices' writes. For timing what pricing adds; its energies and times mean nothing."""

    def replay(self, entries):
        return
        yield

    def host_work(self, op: str, macs: float, ops: float, draws: float = 0.0):
        return
        yield


def unpriced_trainer(method: str, wl: WorkloadSpec, hw, task) -> Trainer:
    """A trainer of `method` whose chip is an UnpricedChip on the same simulation clock."""
    trainer = Trainer(method, wl, hw, task)
    trainer.chip = UnpricedChip(trainer.env, hw, trainer.state.ledger, trainer.chip.matrices)
    return trainer


def timed_trainings(methods: list[str], wl: WorkloadSpec, hw, task, repeat: int, advance) -> tuple[dict, dict]:
    """Best-of-`repeat` times of each method's training, priced and unpriced."""
    cosim, unpriced = {}, {}
    for method in methods:
        cosim[method] = best_of(repeat, lambda: (Trainer(method, wl, hw, task).train(), advance()))
        unpriced[method] = best_of(repeat, lambda: (unpriced_trainer(method, wl, hw, task).train(), advance()))
    return cosim, unpriced


def ratios(cosim: dict, unpriced: dict, bare: dict) -> dict:
    """CPU and wall ratios to bare FP32, whether each meets the target, and what pricing adds."""
    return {"ratio_cpu": {m: t["cpu_s"] / bare["cpu_s"] for m, t in cosim.items()},
            "ratio_wall": {m: t["wall_s"] / bare["wall_s"] for m, t in cosim.items()},
            "meets_target": {m: t["cpu_s"] / bare["cpu_s"] <= TARGET for m, t in cosim.items()},
            "unpriced_ratio_cpu": {m: t["cpu_s"] / bare["cpu_s"] for m, t in unpriced.items()},
            "ratio_vs_unpriced": {m: cosim[m]["cpu_s"] / t["cpu_s"] for m, t in unpriced.items()}}


def dncnn_case(steps: int, methods: list[str], hw, repeat: int, advance) -> dict:
    raw = {**DNCNN_SMALL, "methods": methods,
           "training": {**DNCNN_SMALL["training"], "steps": steps, "eval_every": steps}}
    wl = WorkloadSpec.model_validate(raw)
    task = load_task(wl.data, wl.network.build().input_shape)
    bare = best_of(repeat, lambda: bare_layers(wl, task))
    cosim, unpriced = timed_trainings(methods, wl, hw, task, repeat, advance)
    return {"network": "dncnn_small", "steps": steps, "bare_fp32_layers": bare, "cosim": cosim,
            "unpriced": unpriced, **ratios(cosim, unpriced, bare)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default="ideal,bp_open_loop,write_verify,eapu")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled machinery share")
    parser.add_argument("--dncnn-steps", type=int, default=20, help="DnCNN-small steps (0: skip)")
    args = parser.parse_args(argv)
    wl, hw = default_specs(args.steps)
    arch = wl.network.build()
    data = load_task(wl.data, arch.input_shape)
    t = wl.training
    widths = list(wl.network.params.widths)
    bare = best_of(args.repeat, lambda: bare_numpy_mlp(widths, data, t.steps, t.batch_size, t.learning_rate,
                                                       t.eval_every, wl.seed))
    methods = args.methods.split(",")
    with progress(4 * len(methods) * args.repeat, "overhead") as advance:
        cosim, unpriced = timed_trainings(methods, wl, hw, data, args.repeat, advance)
        dncnn = dncnn_case(args.dncnn_steps, methods, hw, args.repeat, advance) if args.dncnn_steps else None
    share = {} if args.no_profile else {m: machinery_share(lambda: Trainer(m, wl, hw, data).train())
                                        for m in methods}
    emit({"benchmark": "overhead", "network": "mlp_digits", "steps": t.steps, "batch_size": t.batch_size,
          "bare_numpy_fp32": bare, "cosim": cosim, "unpriced": unpriced, **ratios(cosim, unpriced, bare),
          "target_ratio": TARGET, "machinery_share_profiled": share, "dncnn_small": dncnn})


if __name__ == "__main__":
    main()
