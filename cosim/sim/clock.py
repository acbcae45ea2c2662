"""The simulation environment: simpy.Environment that also counts the events the chip model
schedules (the `events` benchmark and the pinned event counts of the fidelity tests read it).
The driver's own bookkeeping (`Pause`, which ends each env.run chunk) is not counted, so counts
do not depend on how env.run is chunked."""
from __future__ import annotations

import simpy


class Pause(simpy.Event):
    """Ends one env.run chunk of the driver; not part of the model."""


class CountingEnvironment(simpy.Environment):
    def __init__(self, initial_time: int = 0):
        super().__init__(initial_time)
        self.events_scheduled = 0

    def schedule(self, event, priority=simpy.core.NORMAL, delay=0) -> None:
        if not isinstance(event, Pause):
            self.events_scheduled += 1
        super().schedule(event, priority, delay)
