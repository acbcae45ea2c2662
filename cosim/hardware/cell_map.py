"""Where programmed devices sit: their tile and their physical row within it.

A device's flat index addresses (2, rows, cols) of its matrix; both devices of a pair share a
row. A physical row is (tile column block, matrix row): rows of different column tiles are
different wires, programmed independently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RowMap:
    row_key: np.ndarray        # per device: index of its physical row, 0..n_rows-1
    n_rows: int
    row_tile: np.ndarray       # per physical row: flat tile index r * n_col_tiles + c
    n_tiles: int


def map_rows(devices: np.ndarray, shape: tuple[int, int], tile_rows: int, tile_cols: int) -> RowMap:
    rows, cols = shape
    within = devices % (rows * cols)
    row, col = within // cols, within % cols
    col_tiles = -(-cols // tile_cols)
    row_tiles = -(-rows // tile_rows)
    key = (col // tile_cols) * rows + row
    all_keys = np.arange(col_tiles * rows)
    row_tile = (all_keys % rows) // tile_rows * col_tiles + all_keys // rows
    return RowMap(key, col_tiles * rows, row_tile, row_tiles * col_tiles)


def per_row_max(keys: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    out = np.zeros(n_rows)
    np.maximum.at(out, keys, values)
    return out


def per_tile_sum(row_values: np.ndarray, rows: RowMap) -> np.ndarray:
    return np.bincount(rows.row_tile, weights=row_values, minlength=rows.n_tiles)


def per_tile_device_sum(values: np.ndarray, rows: RowMap) -> np.ndarray:
    return np.bincount(rows.row_tile[rows.row_key], weights=values, minlength=rows.n_tiles)
