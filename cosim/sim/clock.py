"""The simulation environment: simpy.Environment that also counts the events it schedules
(the `events` benchmark and the pinned event counts of the fidelity tests read it)."""
from __future__ import annotations

import simpy


class CountingEnvironment(simpy.Environment):
    def __init__(self, initial_time: int = 0):
        super().__init__(initial_time)
        self.events_scheduled = 0

    def schedule(self, event, priority=simpy.core.NORMAL, delay=0) -> None:
        self.events_scheduled += 1
        super().schedule(event, priority, delay)
