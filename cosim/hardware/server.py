"""A FIFO server with a known service time, kept as a busy-until timestamp (same schedule as a
capacity-1 simpy.Resource with FIFO queueing, at a fraction of the cost)."""
from __future__ import annotations

import simpy


class FifoServer:
    def __init__(self, env: simpy.Environment, name: str, kind: str, ledger):
        self.env, self.name, self.kind, self.ledger = env, name, kind, ledger
        self.busy_until = 0

    def serve(self, op: str, latency_ps: int, actions: dict[str, tuple[float, float]]) -> simpy.Event:
        """Queue a transaction of `latency_ps`; the returned event fires when it ends."""
        issue = self.env.now
        start = max(issue, self.busy_until)
        end = start + latency_ps
        self.busy_until = end
        self.ledger.record(self.name, self.kind, op, issue, start, end, actions)
        return self.env.timeout(end - issue)


def serve_together(servers: list[FifoServer], op: str, latency_ps: int,
                   actions: dict[str, tuple[float, float]]) -> simpy.Event:
    """One transaction that needs all `servers` at once (e.g. programming holds a tile's array
    and its converters): it starts when the last of them is free. Actions are booked on the first."""
    env = servers[0].env
    start = max([env.now] + [s.busy_until for s in servers])
    for server in servers[1:]:
        server.busy_until = start + latency_ps
        server.ledger.record(server.name, server.kind, op, env.now, start, start + latency_ps, {})
    first = servers[0]
    first.busy_until = start
    return first.serve(op, latency_ps, actions)
