"""Where a weight matrix sits on crossbar tiles: the one tiling every part of cosim uses.

A matrix of shape (in_features, out_features) (weight rows x weight columns) is cut into a grid
of tile blocks: `tile.rows` weight rows and ⌊tile.cols / cells_per_weight⌋ weight columns per
tile, since a binary-sliced device spends `cells_per_weight` physical columns on each weight
column. Tiles are numbered row-major and named `<matrix>.tile<r>.<c>`.

Used by the analog matrix (its MVM blocks and physical lines), cost-only mode (tile shapes and
lines from shapes alone), the programming controllers (cell -> physical row -> tile), the wear map
and the trace (tile name -> matrix).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

TILE_SEPARATOR = ".tile"


def block_slices(size: int, block: int) -> list[slice]:
    """Consecutive slices of at most `block` covering range(size)."""
    return [slice(start, min(start + block, size)) for start in range(0, size, block)]


def tile_name(matrix: str, r: int, c: int) -> str:
    return f"{matrix}{TILE_SEPARATOR}{r}.{c}"


def matrix_of_tile(name: str) -> str:
    """The matrix a tile name (`tile_name`) belongs to."""
    return name.rpartition(TILE_SEPARATOR)[0]


@dataclass(frozen=True)
class TileMap:
    """Tiling of one weight matrix (sizes in weights unless called physical)."""

    name: str
    in_features: int
    out_features: int
    tile_rows: int
    tile_cols: int              # physical columns per tile
    cells_per_weight: int = 1

    @classmethod
    def of(cls, name: str, shape: tuple[int, int], hw) -> "TileMap":
        """The tiling of a matrix of `shape` on chip spec `hw` (cosim.specs.hardware.HardwareSpec)."""
        return cls(name, int(shape[0]), int(shape[1]), hw.tile.rows, hw.tile.cols, hw.device.cells_per_weight)

    @property
    def weight_cols_per_tile(self) -> int:
        return max(self.tile_cols // self.cells_per_weight, 1)

    @cached_property
    def row_blocks(self) -> list[slice]:
        return block_slices(self.in_features, self.tile_rows)

    @cached_property
    def col_blocks(self) -> list[slice]:
        return block_slices(self.out_features, self.weight_cols_per_tile)

    @property
    def grid(self) -> tuple[int, int]:
        return len(self.row_blocks), len(self.col_blocks)

    @property
    def tiles(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def weights(self) -> int:
        return self.in_features * self.out_features

    @cached_property
    def row_sizes(self) -> np.ndarray:
        return _read_only(np.array([b.stop - b.start for b in self.row_blocks], dtype=np.int64))

    @cached_property
    def col_sizes(self) -> np.ndarray:
        """Weight columns per column block."""
        return _read_only(np.array([b.stop - b.start for b in self.col_blocks], dtype=np.int64))

    @cached_property
    def _physical_col_sizes(self) -> np.ndarray:
        return _read_only(self.col_sizes * self.cells_per_weight)

    def lines(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """(driven lines per input block, read lines per output block) of an MVM, physical: forward
        drives rows and reads cells_per_weight columns per weight column; backward drives those
        columns and reads the rows."""
        rows, cols = self.row_sizes, self._physical_col_sizes
        return (cols, rows) if direction == "backward" else (rows, cols)

    @cached_property
    def row_tiles(self) -> np.ndarray:
        """Flat tile index of each physical row, keyed column block · in_features + row (rows of
        different column tiles are different wires; cosim.hardware.cell_map)."""
        keys = np.arange(self.grid[1] * self.in_features)
        return _read_only(self.tile_of_cells(keys % self.in_features,
                                             (keys // self.in_features) * self.weight_cols_per_tile))

    def tile_index(self, r: int, c: int) -> int:
        return r * self.grid[1] + c

    def tile_names(self) -> list[str]:
        """Row-major, like the Chip's tile list."""
        return [tile_name(self.name, r, c) for r in range(self.grid[0]) for c in range(self.grid[1])]

    def tile_shapes(self) -> list[tuple[int, int]]:
        """(weight rows, weight columns) of every tile, row-major."""
        return [(int(r), int(c)) for r in self.row_sizes for c in self.col_sizes]

    def tile_blocks(self):
        """(name, row slice, column slice) of every tile, row-major."""
        for r, rows in enumerate(self.row_blocks):
            for c, cols in enumerate(self.col_blocks):
                yield tile_name(self.name, r, c), rows, cols

    def tile_of_cells(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flat tile index of weight cells at (rows, cols)."""
        return (rows // self.tile_rows) * self.grid[1] + cols // self.weight_cols_per_tile


def _read_only(array: np.ndarray) -> np.ndarray:
    """`array`, made read-only: a cached tiling figure shared by every caller."""
    array.flags.writeable = False
    return array
