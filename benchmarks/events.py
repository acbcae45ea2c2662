"""`python -m benchmarks.events`: SimPy events per training step and events per second of the
co-simulation, against a bare SimPy loop of timeouts (the most events/s SimPy can give here).

Transaction fidelity on the default workload and chip, plus detailed fidelity on the small
cross-check configuration (16×16 tiles, 64-16-10 MLP). One JSON line.
"""
from __future__ import annotations

import argparse
import time

import simpy

from benchmarks.common import default_specs, emit, progress
from cosim.nn.tasks import load_task
from cosim.sim.training import Trainer

METHODS = ["ideal", "bp_open_loop", "write_verify", "eapu"]


def bare_timeout_loop(events: int) -> float:
    """Events per second of one process yielding `events` timeouts."""
    env = simpy.Environment()

    def ticker():
        for _ in range(events):
            yield env.timeout(1)
    env.process(ticker())
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def measure(wl, hw, data, advance) -> dict:
    out = {}
    for method in METHODS:
        trainer = Trainer(method, wl, hw, data)
        run = trainer.train()
        # All events (setup included) over the whole wall time (numerics included).
        out[method] = {"events_per_step": float(run.events.mean()),
                       "events_per_s": trainer.env.events_scheduled / run.wall_s}
        advance()
    return out


def small_detailed(wl, hw):
    params = {"widths": [64, 16, 10], "activation": "sigmoid"}
    wl = wl.model_validate({**wl.model_dump(), "network": {"arch": "mlp", "params": params}})
    hw = hw.model_validate({**hw.model_dump(), "fidelity": "detailed",
                            "tile": {**hw.tile.model_dump(), "rows": 16, "cols": 16}})
    return wl, hw


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    wl, hw = default_specs(args.steps)
    data = load_task(wl.data, wl.network.build().input_shape)
    bare = max(bare_timeout_loop(200_000) for _ in range(3))
    with progress(2 * len(METHODS), "events") as advance:
        transaction = measure(wl, hw, data, advance)
        detailed = measure(*small_detailed(wl.model_copy(update={"training": wl.training.model_copy(
            update={"steps": max(args.steps // 10, 2)})}), hw), data, advance)
    emit({"benchmark": "events", "steps": args.steps, "bare_simpy_timeouts_per_s": bare,
          "transaction": transaction, "detailed_small": detailed,
          "events_per_s_vs_bare": {m: v["events_per_s"] / bare for m, v in transaction.items()}})


if __name__ == "__main__":
    main()
