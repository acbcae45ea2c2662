"""The ledger: every transaction and every action's count and energy, as rows read out as tables.

Step -1 holds the one-time setup (initial programming of the weights).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SETUP_STEP = -1


TX_COLUMNS = ["step", "component", "kind", "op", "issue_ps", "start_ps", "end_ps", "energy_j"]
ACT_COLUMNS = ["tx", "step", "component", "kind", "action", "count", "energy_j"]


class Ledger:
    def __init__(self) -> None:
        self.step = SETUP_STEP
        # Rows as tuples, turned into columns only when read: one append per transaction and per
        # action keeps the per-transaction cost of the hot path small.
        self._tx: list[tuple] = []         # transaction rows (TX_COLUMNS)
        self._act: list[tuple] = []        # action rows (ACT_COLUMNS)

    def record(self, component: str, kind: str, op: str, issue_ps: int, start_ps: int,
               end_ps: int, actions: dict[str, tuple[float, float]]) -> None:
        """One transaction of `component` and the (count, energy J) of each action it did."""
        step, tx_index = self.step, len(self._tx)
        if not actions:         # a holding row (cosim.hardware.server._reserve): no energy
            self._tx.append((step, component, kind, op, issue_ps, start_ps, end_ps, 0))
            return
        self._tx.append((step, component, kind, op, issue_ps, start_ps, end_ps,
                         sum([energy for _, energy in actions.values()])))
        self._act.extend([(tx_index, step, component, kind, action, float(count), float(energy))
                          for action, (count, energy) in actions.items()])

    def transactions(self) -> pd.DataFrame:
        """One row per transaction: step, component, kind, op, issue/start/end (ps), energy_j."""
        return pd.DataFrame(_columns(self._tx, TX_COLUMNS), columns=TX_COLUMNS)

    def actions(self) -> pd.DataFrame:
        """One row per (transaction, action): tx (row of transactions()), step, component, kind,
        action, count, energy_j."""
        return pd.DataFrame(_columns(self._act, ACT_COLUMNS), columns=ACT_COLUMNS)

    def energy_by_action(self, training_only: bool = True) -> dict[str, float]:
        acts = self.actions()
        if training_only:
            acts = acts[acts.step != SETUP_STEP]
        return {k: float(v) for k, v in acts.groupby("action").energy_j.sum().items()}

    def energy_by_op_action(self, training_only: bool = True) -> dict[tuple[str, str], float]:
        """Energy (J) per (transaction op, action): what accounting by phase starts from."""
        acts = self.actions()
        ops = np.asarray([row[3] for row in self._tx], dtype=object)[acts.tx.to_numpy(dtype=np.int64)] if len(acts) else []
        acts = acts.assign(op=ops)
        if training_only:
            acts = acts[acts.step != SETUP_STEP]
        return {(op, a): float(e) for (op, a), e in acts.groupby(["op", "action"]).energy_j.sum().items()}

    def per_step(self, steps: int) -> pd.DataFrame:
        """Energy (J) per action per training step, steps as rows."""
        acts = self.actions()
        acts = acts[acts.step != SETUP_STEP]
        table = acts.pivot_table(index="step", columns="action", values="energy_j", aggfunc="sum")
        return table.reindex(np.arange(steps)).fillna(0.0)


def _columns(rows: list[tuple], names: list[str]) -> dict[str, list]:
    """Rows as one list per column (the layout pandas builds the frames from)."""
    if not rows:
        return {}
    return dict(zip(names, map(list, zip(*rows))))
