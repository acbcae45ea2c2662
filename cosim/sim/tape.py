"""The ordered record of the hardware work one training step asked for.

Matrices append their products to a Tape (an AnalogMatrix appends MvmOps, a DigitalMatrix a
HostMatmul; cosim.nn.records) and the tape first flushes the host work the network did since the
previous entry, so nested networks (residual blocks, attention) replay in the order they ran.
"""
from __future__ import annotations

from typing import Callable

from cosim.nn.records import HostWork


class Tape:
    def __init__(self, host_probe: Callable[[], tuple[float, float]]):
        """`host_probe()` returns and resets the network's host (macs, ops) so far."""
        self.entries: list = []            # MvmOp and HostWork records, in execution order
        self.phase = "forward"
        self._probe = host_probe

    def append(self, record) -> None:
        """A matrix product (a cosim.nn.records record)."""
        self.flush_host()
        self.entries.append(record.on_tape(self.phase))

    def flush_host(self, op: str | None = None) -> None:
        macs, ops = self._probe()
        if macs or ops:
            self.entries.append(HostWork(op or self.phase, macs, ops))

    def take(self) -> list:
        entries, self.entries = self.entries, []
        return entries
