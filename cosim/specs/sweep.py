"""Sweep files (`workloads/sweeps/*.yaml`): a base workload and chip, axes over any of their fields,
and the expansion of a sweep into validated points.

An axis is named by a dotted path into one of the two files (`hardware.adc.bits`,
`workload.training.learning_rate`), or is one of the whole-value axes `hardware` / `workload` (another
spec file) and `methods` (update rules). Axes come as a full `grid`, `zip` groups (lists of equal
length varied together) and seeded `random` samples from ranges; the resulting combinations are
crossed with each other and with `seeds`. Every point is built and validated by `expand_sweep`
before anything runs: a bad path or value is a SpecError naming the axis.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from cosim.specs.base import (FrozenSpec, PositiveInt, SpecError, load_spec, read_yaml, resolve_path,
                              resolve_spec, validate_mapping)
from cosim.specs.hardware import HardwareSpec, resolve_extends
from cosim.specs.overrides import set_path
from cosim.specs.provenance import config_hash
from cosim.specs.workload import WorkloadSpec, check_methods

FILE_AXES = ("hardware", "workload")
WHOLE_AXES = FILE_AXES + ("methods",)
RESERVED_PATHS = {"workload.seed": "use `seeds:` for replications",
                  "workload.methods": "use the `methods` axis"}


def check_axis_name(name: str) -> str:
    """An axis is a whole-value axis or a dotted path below `hardware.` or `workload.`."""
    if name in WHOLE_AXES:
        return name
    root, _, rest = name.partition(".")
    if root not in FILE_AXES or not rest or "" in rest.split("."):
        raise ValueError(f"axis {name!r}: must be one of {', '.join(WHOLE_AXES)} or a dotted path "
                         f"starting hardware. or workload. (e.g. hardware.adc.bits)")
    if name in RESERVED_PATHS:
        raise ValueError(f"axis {name!r}: {RESERVED_PATHS[name]}")
    return name


def _check_axes(axes: dict[str, list]) -> dict[str, list]:
    for name, values in axes.items():
        check_axis_name(name)
        if not values:
            raise ValueError(f"axis {name!r}: needs at least one value")
    return axes


class RandomRange(FrozenSpec):
    """Uniform (or log-uniform) draws in [low, high]; `integer` draws whole numbers."""

    low: float = Field(description="Lowest value drawn.")
    high: float = Field(description="Highest value drawn.")
    log: bool = Field(False, description="Draw uniformly in log(value).")
    integer: bool = Field(False, description="Draw whole numbers.")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.high > self.low:
            raise ValueError(f"high ({self.high}) must exceed low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError(f"log ranges need low > 0, got {self.low}")
        return self

    def draw(self, rng: np.random.Generator) -> float | int:
        if self.integer:
            return int(rng.integers(int(np.ceil(self.low)), int(np.floor(self.high)) + 1))
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return float(rng.uniform(self.low, self.high))


class RandomSpec(FrozenSpec):
    """Seeded random samples of the axes in `ranges`, crossed with the rest."""

    samples: PositiveInt = Field(le=100000, description="Random combinations to draw.")
    seed: int = Field(0, ge=0, description="Seed of the sampler (not of the training).")
    ranges: dict[str, RandomRange | list[Any]] = Field(
        description="Per axis: a range {low, high, log, integer} or a list of choices.")

    @field_validator("ranges")
    @classmethod
    def _names(cls, ranges):
        if not ranges:
            raise ValueError("needs at least one axis")
        _check_axes({name: (r if isinstance(r, list) else [r]) for name, r in ranges.items()})
        return ranges

    def draw(self) -> list[dict[str, Any]]:
        rng = np.random.default_rng(self.seed)
        return [{name: (_choice(rng, r) if isinstance(r, list) else r.draw(rng))
                 for name, r in self.ranges.items()} for _ in range(self.samples)]


def _choice(rng: np.random.Generator, choices: list) -> Any:
    return choices[int(rng.integers(len(choices)))]


class SweepSpec(FrozenSpec):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    workload: str = Field(description="Base workload YAML, relative to the sweep file or the repository.")
    hardware: str = Field(description="Base chip YAML, relative to the sweep file or the repository.")
    steps: PositiveInt | None = Field(None, description="Training steps of every point (overrides the workload).")
    methods: tuple[str, ...] | None = Field(None, description="Update rules of every point (overrides the workload).")
    seeds: tuple[int, ...] = Field((0,), description="Training seeds; every combination runs once per seed.")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="Fixed values for every point, by dotted path (before the axes).")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Axes crossed in full.")
    zip: list[dict[str, list[Any]]] = Field(default_factory=list,
                                            description="Groups of axes varied together (equal lengths).")
    random: RandomSpec | None = None

    @field_validator("methods")
    @classmethod
    def _methods(cls, methods):
        return None if methods is None else check_methods(methods)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds):
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError("must list at least one seed >= 0, each once")
        return seeds

    @field_validator("grid")
    @classmethod
    def _grid(cls, grid):
        return _check_axes(grid)

    @field_validator("set")
    @classmethod
    def _set(cls, fixed):
        for name in fixed:
            if name in FILE_AXES:
                raise ValueError(f"{name!r}: name the base {name} file at the top level instead")
            check_axis_name(name)
        return fixed

    @field_validator("zip")
    @classmethod
    def _zip(cls, groups):
        for i, group in enumerate(groups):
            _check_axes(group)
            if len({len(values) for values in group.values()}) > 1:
                lengths = {name: len(values) for name, values in group.items()}
                raise ValueError(f"group {i}: zipped axes need lists of equal length, got {lengths}")
        return groups

    @model_validator(mode="after")
    def _axes_unique(self):
        seen = list(self.set) + list(self.grid) + [n for g in self.zip for n in g] + list(self.random.ranges if self.random else [])
        repeated = sorted({n for n in seen if seen.count(n) > 1})
        if repeated:
            raise ValueError(f"axes appear more than once: {', '.join(repeated)}")
        return self

    def axis_sections(self) -> dict[str, str]:
        """Axis name -> where the sweep file declares it (for error messages)."""
        where = {name: f"set.{name}" for name in self.set}
        where.update({name: f"grid.{name}" for name in self.grid})
        where.update({name: f"zip.{i}.{name}" for i, g in enumerate(self.zip) for name in g})
        where.update({name: f"random.ranges.{name}" for name in (self.random.ranges if self.random else {})})
        return where

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of axis values: grid × each zip group × random samples."""
        factors = [[{name: v} for v in values] for name, values in self.grid.items()]
        factors += [[dict(zip(g, row)) for row in zip(*g.values())] for g in self.zip]
        if self.random:
            factors.append(self.random.draw())
        return [_merge(parts) for parts in itertools.product(*factors)]


def _merge(parts) -> dict[str, Any]:
    merged = {}
    for part in parts:
        merged.update(part)
    return merged


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: its axis values and seed, and the validated specs it trains with."""

    index: int
    key: str                      # stable name of the point: a hash of its values, seed and config
    values: dict[str, Any]
    seed: int
    workload: WorkloadSpec
    hardware: HardwareSpec
    config: str                   # content hash of the resolved workload and hardware

    def describe(self) -> str:
        return describe_point(self.index, self.values, self.seed)


def describe_point(index: int, values: dict[str, Any], seed: int) -> str:
    settings = [f"{k}={v}" for k, v in values.items()] + [f"seed={seed}"]
    return f"point {index} ({', '.join(settings)})"


def point_key(values: dict[str, Any], seed: int, config: str) -> str:
    """The point's folder name: its axis values and seed (a person's name for it) and the content
    hash of its resolved configuration, so an edit of the sweep or of its base files (e.g. `steps`)
    gives the point a new key and a resume reruns it instead of keeping stale results."""
    text = json.dumps({"values": values, "seed": seed, "config": config}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_sweep(path: str | Path) -> SweepSpec:
    return load_spec(SweepSpec, resolve_spec(path, "sweep"), "sweep")


def expand_sweep(spec: SweepSpec, file: str | Path) -> list[SweepPoint]:
    """Every point of the sweep, built and validated; the first bad one raises SpecError."""
    builder = _PointBuilder(spec, Path(file))
    points, seen = [], {}
    for values in spec.combinations():
        for seed in spec.seeds:
            point = builder.build(len(points), values, seed)
            if point.key in seen:
                raise SpecError(file, [("", f"{point.describe()} repeats point {seen[point.key]}: an axis "
                                            "lists a value twice, or random draws (choices) coincide")])
            seen[point.key] = point.index
            points.append(point)
    return points


class _PointBuilder:
    """Applies a point's axis values to the base files and validates the result."""

    def __init__(self, spec: SweepSpec, file: Path):
        self.spec, self.file, self.folder = spec, file, file.parent
        self.sections = spec.axis_sections()
        self._files: dict[str, dict] = {}

    def build(self, index: int, values: dict[str, Any], seed: int) -> SweepPoint:
        raw = {"workload": self._file("workload", values), "hardware": self._file("hardware", values)}
        training = raw["workload"].setdefault("training", {})
        if self.spec.steps is not None and isinstance(training, dict):
            training["steps"] = self.spec.steps
        if self.spec.methods is not None:
            raw["workload"]["methods"] = list(self.spec.methods)
        for name, value in {**self.spec.set, **values}.items():
            if name not in FILE_AXES:
                self._assign(raw, name, value)
        raw["workload"]["seed"] = seed
        workload = self._validate(WorkloadSpec, raw["workload"], "workload", values, index, seed)
        if workload.data is None:
            self._fail("workload" if "workload" in values else "",
                       f"{describe_point(index, values, seed)}: workload {workload.name!r} is shapes-only "
                       "(no data section) and cannot train; sweep it with `cosim cost` instead")
        hardware = self._validate(HardwareSpec, raw["hardware"], "hardware", values, index, seed)
        config = config_hash(workload, hardware)
        return SweepPoint(index, point_key(values, seed, config), dict(values), seed, workload, hardware,
                          config)

    def _file(self, kind: str, values: dict) -> dict:
        given = values.get(kind, getattr(self.spec, kind))
        if not isinstance(given, str):
            self._fail(kind, f"value {given!r}: must be a path to a {kind} YAML file")
        path = resolve_path(given, self.folder)
        if str(path) not in self._files:
            try:
                self._files[str(path)] = resolve_extends(path) if kind == "hardware" else read_yaml(path)
            except SpecError as exc:
                self._fail(kind, f"value {given!r}: {exc}")
        return copy.deepcopy(self._files[str(path)])

    def _assign(self, raw: dict, name: str, value: Any) -> None:
        if name == "methods":
            raw["workload"]["methods"] = [m.strip() for m in value.split(",")] if isinstance(value, str) else value
            return
        try:
            set_path(raw, name, value, note=f"sweep {self.spec.name}: {self.sections.get(name, name)}")
        except ValueError as exc:
            self._fail(name, str(exc))

    def _validate(self, model, data: dict, kind: str, values: dict, index: int, seed: int):
        try:
            return validate_mapping(model, data, kind)
        except SpecError as exc:
            field, rule = exc.problems[0]
            full = f"{kind}.{field}" if field else kind
            settings = {**self.spec.set, **values}
            axis = _responsible_axis(full, kind, settings)
            where = describe_point(index, values, seed)
            if axis is None:
                self._fail_top(f"{where}: {full}: {rule}")
            self._fail(axis, f"value {settings[axis]!r} in {where}: {full}: {rule}")

    def _fail(self, axis: str, rule: str):
        raise SpecError(self.file, [(self.sections.get(axis, axis), rule)])

    def _fail_top(self, rule: str):
        raise SpecError(self.file, [("", rule)])


def _responsible_axis(field: str, kind: str, values: dict) -> str | None:
    """The axis whose path covers the failing field (or lies below it), else the file axis."""
    for name in values:
        if "." in name and (field == name or field.startswith(name + ".") or name.startswith(field + ".")):
            return name
    if kind == "workload" and field.startswith("workload.methods") and "methods" in values:
        return "methods"
    return kind if kind in values else None
