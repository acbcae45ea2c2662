"""Checkpoints of a long training run, so a killed run continues with identical results.

SimPy processes are generators and cannot be pickled, so a checkpoint is taken at a step
boundary, when every transaction of the step has finished and the simulation is idle. It holds
the Trainer's TrainerState (cosim.sim.assembly: network and device state, every generator's
state, rule state, ledger, run arrays), the simulated time and each FIFO server's busy-until
time; on resume the Trainer is built afresh, the state is put back and a new SimPy environment
and Chip start at that time.
The task's data arrays are not stored: they are referred to by name and taken from the rebuilt task.

One file per method: `<method>.ckpt` holds the state after some step, or the finished MethodRun.
Files are written through a temporary file and one rename, so a kill never leaves half a file.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import types
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import numpy as np

from cosim.sim.assembly import make_chip, make_env

FORMAT = "cosim.checkpoint/2"   # 2: the state is a TrainerState (1 pickled Trainer.__dict__)


class CheckpointError(Exception):
    """A checkpoint that cannot be used for this run (another configuration, or unreadable)."""


def fingerprint(workload, hardware, method: str) -> str:
    """Identifies the configuration a checkpoint belongs to."""
    text = "\n".join([workload.model_dump_json(), hardware.model_dump_json(), method])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Checkpoint:
    """Where and how often one method's run is checkpointed."""

    path: Path
    every: int | None
    fingerprint: str

    def due(self, steps_done: int, steps: int) -> bool:
        return bool(self.every) and steps_done % self.every == 0 and steps_done < steps

    def save_state(self, trainer, steps_done: int) -> None:
        servers = {name: s.busy_until for name, s in trainer.chip.servers().items()}
        self._write({"kind": "state", "steps_done": steps_done, "now": trainer.env.now,
                     "servers": servers, "state": trainer.state}, trainer.task, (trainer.env, trainer.chip))

    def save_done(self, run, task) -> None:
        self._write({"kind": "done", "run": run}, task, ())

    def load(self, task) -> dict | None:
        """The stored checkpoint, or None when there is none."""
        if not self.path.exists():
            return None
        try:
            data = _TaskUnpickler(io.BytesIO(self.path.read_bytes()), task).load()
        except Exception as exc:
            raise CheckpointError(f"{self.path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
        if data.get("format") != FORMAT:
            raise CheckpointError(f"{self.path}: written by another cosim version (format "
                                  f"{data.get('format')!r}, this one reads {FORMAT!r}); delete it or use another --out")
        if data.get("fingerprint") != self.fingerprint:
            raise CheckpointError(f"{self.path}: written for another configuration (workload, "
                                  f"hardware, seed, steps or method differ); delete it or use another --out")
        return data

    def _write(self, data: dict, task, rebuilt: tuple) -> None:
        buffer = io.BytesIO()
        _TaskPickler(buffer, task, rebuilt).dump({"format": FORMAT, "fingerprint": self.fingerprint, **data})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def _task_arrays(task) -> dict[str, np.ndarray]:
    return {name: value for name, value in vars(task).items() if isinstance(value, np.ndarray)}


class _TaskPickler(cloudpickle.Pickler):
    """Stores references to the task's data arrays by name instead of their contents, and methods
    of the rebuilt SimPy objects (e.g. a matrix's link to the chip clock) as None: the rebuilt chip
    wires them again. cloudpickle, because the network holds closures (its activation functions)."""

    def __init__(self, file, task, rebuilt: tuple):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._names = {id(a): name for name, a in _task_arrays(task).items()}
        self._rebuilt = {id(obj) for obj in rebuilt}

    def persistent_id(self, obj):
        if isinstance(obj, np.ndarray) and id(obj) in self._names:
            return ("task", self._names[id(obj)])
        if isinstance(obj, types.MethodType) and id(obj.__self__) in self._rebuilt:
            return ("rebuilt", None)
        return None


class _TaskUnpickler(pickle.Unpickler):
    def __init__(self, file, task):
        super().__init__(file)
        self._arrays = _task_arrays(task)

    def persistent_load(self, pid):
        kind, name = pid
        return self._arrays[name] if kind == "task" else None


def restore_state(trainer, data: dict) -> int:
    """Put a stored state into a freshly built Trainer; returns the steps already done."""
    trainer.state = data["state"]
    trainer.env = make_env(data["now"])
    trainer.chip = make_chip(trainer.env, trainer.hw, trainer.state)
    for name, server in trainer.chip.servers().items():
        server.busy_until = data["servers"][name]
    return data["steps_done"]
