"""The ledger: every transaction and every action's count and energy, in columnar lists.

Step -1 holds the one-time setup (initial programming of the weights).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

SETUP_STEP = -1


class Ledger:
    def __init__(self) -> None:
        self.step = SETUP_STEP
        self._tx = defaultdict(list)       # transaction columns
        self._act = defaultdict(list)      # action columns

    def record(self, component: str, kind: str, op: str, issue_ps: int, start_ps: int,
               end_ps: int, actions: dict[str, tuple[float, float]]) -> None:
        """One transaction of `component` and the (count, energy J) of each action it did."""
        tx = self._tx
        tx["step"].append(self.step)
        tx["component"].append(component)
        tx["kind"].append(kind)
        tx["op"].append(op)
        tx["issue_ps"].append(issue_ps)
        tx["start_ps"].append(start_ps)
        tx["end_ps"].append(end_ps)
        tx["energy_j"].append(sum(energy for _, energy in actions.values()))
        tx_index = len(tx["step"]) - 1
        for action, (count, energy) in actions.items():
            self._act["tx"].append(tx_index)
            self._act["step"].append(self.step)
            self._act["component"].append(component)
            self._act["kind"].append(kind)
            self._act["action"].append(action)
            self._act["count"].append(float(count))
            self._act["energy_j"].append(float(energy))

    def transactions(self) -> pd.DataFrame:
        """One row per transaction: step, component, kind, op, issue/start/end (ps), energy_j."""
        return pd.DataFrame(self._tx, columns=["step", "component", "kind", "op", "issue_ps",
                                               "start_ps", "end_ps", "energy_j"])

    def actions(self) -> pd.DataFrame:
        """One row per (transaction, action): tx (row of transactions()), step, component, kind,
        action, count, energy_j."""
        return pd.DataFrame(self._act, columns=["tx", "step", "component", "kind", "action", "count", "energy_j"])

    def energy_by_action(self, training_only: bool = True) -> dict[str, float]:
        acts = self.actions()
        if training_only:
            acts = acts[acts.step != SETUP_STEP]
        return {k: float(v) for k, v in acts.groupby("action").energy_j.sum().items()}

    def energy_by_op_action(self, training_only: bool = True) -> dict[tuple[str, str], float]:
        """Energy (J) per (transaction op, action): what accounting by phase starts from."""
        acts = self.actions()
        ops = np.asarray(self._tx["op"], dtype=object)[acts.tx.to_numpy(dtype=np.int64)] if len(acts) else []
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
