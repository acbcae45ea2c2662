"""Where programmed devices sit: their tile and their physical row within it.

A device's flat index addresses (2, rows, cols) of its matrix; both devices of a pair share a
row. A physical row is (tile column block, matrix row): rows of different column tiles are
different wires, programmed independently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.devices.tile_map import TileMap


@dataclass
class RowMap:
    row_key: np.ndarray        # per device: index of its physical row, 0..n_rows-1
    n_rows: int
    row_tile: np.ndarray       # per physical row: flat tile index r * n_col_tiles + c
    n_tiles: int


def map_rows(devices: np.ndarray, tiles: TileMap) -> RowMap:
    """Physical rows and tiles of the devices at flat indices `devices` of a matrix tiled as `tiles`."""
    rows, cols = tiles.in_features, tiles.out_features
    within = devices % (rows * cols)
    row, col = within // cols, within % cols
    col_tiles = tiles.grid[1]
    key = (col // tiles.weight_cols_per_tile) * rows + row
    return RowMap(key, col_tiles * rows, tiles.row_tiles, tiles.tiles)


def per_row_max(keys: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """Largest of `values` (per device, >= 0) in each physical row: (n_rows,); for values of
    shape (iterations, devices), per iteration and row: (iterations, n_rows)."""
    keys, shape = _stacked(keys, np.shape(values), n_rows)
    out = np.zeros(shape)
    np.maximum.at(out.reshape(-1), keys, np.ravel(values))
    return out


def per_row_count(keys: np.ndarray, mask: np.ndarray, n_rows: int) -> np.ndarray:
    """Devices of `mask` in each physical row, shaped as per_row_max's result."""
    keys, shape = _stacked(keys, np.shape(mask), n_rows)
    return np.bincount(keys[np.ravel(mask)], minlength=int(np.prod(shape))).reshape(shape)


def _stacked(keys: np.ndarray, shape: tuple, n_rows: int) -> tuple[np.ndarray, tuple]:
    """Row keys of per-device values of `shape` ((devices,) or (iterations, devices)), flat,
    with each iteration's rows after the last one's; and the shape of a per-row result."""
    if len(shape) == 1:
        return keys, (n_rows,)
    return (np.arange(shape[0])[:, None] * n_rows + keys).ravel(), (shape[0], n_rows)


def per_tile_sum(row_values: np.ndarray, rows: RowMap) -> np.ndarray:
    return np.bincount(rows.row_tile, weights=row_values, minlength=rows.n_tiles)


def per_tile_device_sum(values: np.ndarray, rows: RowMap) -> np.ndarray:
    return np.bincount(rows.row_tile[rows.row_key], weights=values, minlength=rows.n_tiles)
