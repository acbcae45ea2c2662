"""Data sets that ship with packages (never downloaded): scikit-learn's 8x8 digits."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int


def load_digits_split(test_fraction: float, split_seed: int) -> Dataset:
    """1797 digits, pixels scaled to [0, 1], a fixed stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=test_fraction,
                                              stratify=digits.target, random_state=split_seed)
    return Dataset(x_tr, y_tr, x_te, y_te, classes=10)


class BatchStream:
    """Shuffled mini-batches, reshuffled every epoch, from an explicit generator."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
        self.x, self.y, self.batch_size, self.rng = x, y, batch_size, rng
        self._order, self._pos = rng.permutation(len(x)), 0

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pos + self.batch_size > len(self._order):
            self._order, self._pos = self.rng.permutation(len(self.x)), 0
        idx = self._order[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return self.x[idx], self.y[idx]
