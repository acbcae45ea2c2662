"""A FIFO server with a known service time, kept as a busy-until timestamp (same schedule as a
capacity-1 simpy.Resource with FIFO queueing, at a fraction of the cost).

Two fidelities share one reservation rule (a transaction starts when the last server it needs is
free and holds them all until it ends):
  * transaction: one SimPy event and one ledger row per transaction;
  * detailed: the transaction is split into its sequential units (one conversion slot, one pulse,
    one verify read), one SimPy event and one ledger row each. Unit latencies are rounded to
    picoseconds cumulatively, so a detailed transaction ends within 1 ps of the transaction-level
    one (exactly on it when, as in the shipped specs, unit times are whole picoseconds).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import simpy

Actions = dict[str, tuple[float, float]]


class FifoServer:
    def __init__(self, env: simpy.Environment, name: str, kind: str, ledger, detailed: bool = False):
        self.env, self.name, self.kind, self.ledger = env, name, kind, ledger
        self.detailed = detailed
        self.busy_until = 0

    def serve(self, op: str, latency_ps: int, actions: Actions) -> simpy.Event:
        """Queue a transaction of `latency_ps`; the returned event fires when it ends."""
        issue = self.env.now
        start = max(issue, self.busy_until)
        end = start + latency_ps
        self.busy_until = end
        self.ledger.record(self.name, self.kind, op, issue, start, end, actions)
        return self.env.timeout(end - issue)

    def serve_units(self, op: str, unit_seconds: np.ndarray, unit_actions: Sequence[Actions]) -> simpy.Event:
        """Detailed fidelity: one transaction made of sequential units, one event each."""
        return serve_units_together([self], op, unit_seconds, unit_actions)


def _reserve(servers: list[FifoServer], op: str, latency_ps: int) -> int:
    """Book `latency_ps` on every server from when the last is free; the others get a holding
    row without actions. Returns the start time."""
    env = servers[0].env
    start = max([env.now] + [s.busy_until for s in servers])
    for server in servers:
        server.busy_until = start + latency_ps
    for server in servers[1:]:
        server.ledger.record(server.name, server.kind, op, env.now, start, start + latency_ps, {})
    return start


def serve_together(servers: list[FifoServer], op: str, latency_ps: int, actions: Actions) -> simpy.Event:
    """One transaction that needs all `servers` at once (e.g. programming holds a tile's array
    and its converters): it starts when the last of them is free. Actions are booked on the first."""
    first = servers[0]
    first.busy_until = _reserve(servers, op, latency_ps)
    return first.serve(op, latency_ps, actions)


def unit_latencies_ps(unit_seconds: np.ndarray) -> np.ndarray:
    """Integer-ps latency of each sequential unit, rounded cumulatively (no drift)."""
    ends = np.rint(np.cumsum(np.asarray(unit_seconds, dtype=float)) * 1e12).astype(np.int64)
    return np.diff(ends, prepend=0)


def serve_units_together(servers: list[FifoServer], op: str, unit_seconds: np.ndarray,
                         unit_actions: Sequence[Actions]) -> simpy.Event:
    """Detailed counterpart of serve_together: the same reservation, then one ledger row per unit
    (issued with the transaction) and one SimPy timeout per unit; actions booked on the first."""
    first, env = servers[0], servers[0].env
    latencies = unit_latencies_ps(unit_seconds)
    issue = env.now
    start = _reserve(servers, op, int(latencies.sum()))
    ends = start + np.cumsum(latencies)
    for unit_start, unit_end, actions in zip(ends - latencies, ends, unit_actions):
        first.ledger.record(first.name, first.kind, op, issue, int(unit_start), int(unit_end), actions)
    return env.process(_unit_events(env, start - issue, latencies))


def _unit_events(env: simpy.Environment, wait_ps: int, latencies: np.ndarray):
    if wait_ps:
        yield env.timeout(wait_ps)
    for latency in latencies.tolist():
        yield env.timeout(latency)
