"""The ordered record of the hardware work one training step asked for.

Matrices append their products to a Tape (an AnalogMatrix appends MvmOps, a DigitalMatrix its
multiply-accumulate count) and the tape first flushes the host work the network did since the
previous entry, so nested networks (residual blocks, attention) replay in the order they ran.
"""
from __future__ import annotations

from typing import Callable

from cosim.nn.matrix import GradientMacs


class Tape:
    def __init__(self, host_probe: Callable[[], tuple[float, float]]):
        """`host_probe()` returns and resets the network's host (macs, ops) so far."""
        self.entries: list[tuple] = []
        self.phase = "forward"
        self._probe = host_probe

    def append(self, op) -> None:
        """A matrix product: an MvmOp for tiles, a MAC count for a digital matrix; or the host
        MACs of a weight gradient (GradientMacs)."""
        self.flush_host()
        if isinstance(op, GradientMacs):
            self.entries.append(("host", "weight_gradient", float(op), 0.0))
        elif isinstance(op, float):
            self.entries.append(("host", f"{self.phase}_matmul", op, 0.0))
        else:
            self.entries.append(("mvm", op))

    def flush_host(self, op: str | None = None) -> None:
        macs, ops = self._probe()
        if macs or ops:
            self.entries.append(("host", op or self.phase, macs, ops))

    def take(self) -> list[tuple]:
        entries, self.entries = self.entries, []
        return entries
