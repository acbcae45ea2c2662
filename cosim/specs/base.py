"""Shared machinery of the spec layer: frozen models, unit-aware fields, YAML loading, clear errors."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

from cosim.units import UnitError, format_quantity, parse_quantity, prefixed_example, si_symbol


class SpecError(Exception):
    """A spec file that cannot be used. The message names the file, the field path and the rule."""

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]):
        self.file = str(file)
        self.problems = problems
        lines = [f"{self.file}: {field or '(top level)'}: {rule}" for field, rule in problems]
        super().__init__("\n".join(lines))


class SpecTypeError(SpecError, TypeError):
    """A spec argument of the wrong Python type (e.g. a number where a file or spec belongs)."""

    def __init__(self, message: str):
        super().__init__("(argument)", [("", message)])


class FrozenSpec(BaseModel):
    """Base of every spec: immutable, and unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


@dataclass(frozen=True)
class QuantityRule:
    """A dimensioned field: the SI unit its numbers are in and the range a real value lies in.

    A value may be written with a unit ("40 uS") or as a plain number, which is read in the SI
    unit (40 -> 40 S); either way it must lie in [lo, hi] (or be 0 where `zero_ok`), so a number
    whose unit was forgotten is refused instead of priced."""

    dimension: str | tuple[str, ...]
    unit: str
    lo: float
    hi: float
    zero_ok: bool = False

    def check(self, value: Any) -> float:
        try:
            number = parse_quantity(value, self.dimension)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        if self.zero_ok and number == 0:
            return 0.0
        if not number > 0:
            raise ValueError(f"must be {'>=' if self.zero_ok else '>'} 0, got {number:g}")
        if not self.lo * (1 - 1e-9) <= number <= self.hi * (1 + 1e-9):
            raise ValueError(self._out_of_range(value, number))
        return number

    def _out_of_range(self, value: Any, number: float) -> str:
        message = (f"{format_quantity(number, self.unit)} is outside the plausible {self.kind} range "
                   f"{self.describe_range()}")
        if not isinstance(value, str) or _is_plain_number(value):
            hint = prefixed_example(number, self.unit, self.lo, self.hi)
            message += f"; a number without a unit is read in {self.unit}: write the unit, e.g. '{hint}'"
        return message

    @property
    def kind(self) -> str:
        return (self.dimension if isinstance(self.dimension, str) else self.dimension[0]).replace("_", " ")

    def describe_range(self) -> str:
        """The accepted values in words, e.g. "1 nS to 10 mS (or 0)"."""
        text = f"{format_quantity(self.lo, self.unit)} to {format_quantity(self.hi, self.unit)}"
        return text + (" (or 0)" if self.zero_ok else "")

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_plain_validator_function(self.check)


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Quantity:
    """Base of the dimensioned field types. `Siemens` is a conductance in its default plausible
    range; `Siemens["10 nS", "1 mS"]` is one with the range of a particular field."""

    rule: ClassVar[QuantityRule]

    def __class_getitem__(cls, bounds: tuple[str | float, str | float]):
        wide = replace(cls.rule, lo=0.0, hi=float("inf"), zero_ok=True)
        lo, hi = (wide.check(b) for b in bounds)
        return Annotated[float, replace(cls.rule, lo=lo, hi=hi)]

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        return cls.rule.__get_pydantic_core_schema__(source, handler)


def _quantity_kind(name: str, dimension: str | tuple[str, ...], lo: str, hi: str,
                   zero_ok: bool = False) -> type[Quantity]:
    """A field type for `dimension` whose values must lie in [lo, hi] (quantity strings)."""
    primary = dimension if isinstance(dimension, str) else dimension[0]
    wide = QuantityRule(dimension, si_symbol(primary), 0.0, float("inf"), zero_ok=True)
    rule = QuantityRule(dimension, si_symbol(primary), wide.check(lo), wide.check(hi), zero_ok)
    return type(name, (Quantity,), {"rule": rule, "__doc__": f"A {primary} in {si_symbol(primary)}, "
                                    f"by default {rule.describe_range()}."})


def quantity_rule(annotation: Any) -> QuantityRule | None:
    """The QuantityRule of a model field (FieldInfo) or annotation (a Quantity type, Annotated,
    Optional or tuple of one); None for a field without a dimension."""
    if isinstance(annotation, QuantityRule):
        return annotation
    if isinstance(annotation, FieldInfo):
        return quantity_rule(annotation.annotation) or next(
            (rule for rule in map(quantity_rule, annotation.metadata) if rule), None)
    if isinstance(annotation, type) and issubclass(annotation, Quantity):
        return annotation.rule
    for part in getattr(annotation, "__metadata__", ()):
        if isinstance(part, QuantityRule):
            return part
    for arg in get_args(annotation):
        rule = quantity_rule(arg)
        if rule is not None:
            return rule
    return None


# Default plausible ranges (SI); a field whose real values lie elsewhere gives its own.
Seconds = _quantity_kind("Seconds", "time", "1 ps", "1 s")
Joules = _quantity_kind("Joules", "energy", "1 aJ", "1 uJ", zero_ok=True)       # per event
Siemens = _quantity_kind("Siemens", "conductance", "1 nS", "10 mS")
Volts = _quantity_kind("Volts", "voltage", "10 mV", "20 V")
Hertz = _quantity_kind("Hertz", "frequency", "1 kHz", "100 GHz")
BitsPerSecond = _quantity_kind("BitsPerSecond", "bandwidth", "1 kb/s", "100 Tb/s")
BytesPerSecond = _quantity_kind("BytesPerSecond", "byte_bandwidth", "1 MB/s", "100 TB/s")
FlopsPerSecond = _quantity_kind("FlopsPerSecond", "flop_rate", "1 MFLOP/s", "1000 PFLOP/s")
Watts = _quantity_kind("Watts", "power", "1 mW", "100 kW", zero_ok=True)
JoulesPerBit = _quantity_kind("JoulesPerBit", ("energy_per_bit", "energy"), "1 aJ/b", "1 nJ/b",
                              zero_ok=True)
Bytes = _quantity_kind("Bytes", "bytes", "1 B", "1000 TB", zero_ok=True)
Farads = _quantity_kind("Farads", "capacitance", "1 aF", "1 nF", zero_ok=True)
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]
Source = Annotated[str, Field(min_length=1, description="Where the default numbers come from.")]

ModelT = TypeVar("ModelT", bound=BaseModel)
REPO_ROOT = Path(__file__).resolve().parents[2]
# In an installed wheel the shipped spec folders are package data here (see setup.py).
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "_data"
# Spec folders the project ships, and the kind of spec a bare preset name is looked up as.
PRESET_FOLDERS = {"hardware": "hardware_specs", "workload": "workloads", "sweep": "workloads/sweeps",
                  "gpu": "hardware_specs/gpus"}


def shipped_dir(folder: str) -> Path:
    """A folder the project ships (e.g. "hardware_specs"): the source checkout's, else the
    installed package's copy."""
    for root in (REPO_ROOT, PACKAGE_DATA):
        if (root / folder).is_dir():
            return root / folder
    return REPO_ROOT / folder


def resolve_path(path: str | Path, relative_to: str | Path | None = None) -> Path:
    """A file path as given: beside `relative_to` (a folder) if it exists there, else from the
    working folder, else from the repository root or the installed package's spec folders;
    unchanged when found nowhere."""
    path = Path(path)
    if path.is_absolute():
        return path
    for base in ([Path(relative_to)] if relative_to is not None else []) + [Path.cwd(), REPO_ROOT, PACKAGE_DATA]:
        if (base / path).exists():
            return path if base == Path.cwd() else base / path
    return path


def is_preset_name(text: str | Path) -> bool:
    """A bare name such as "pcm" (no folder, no .yaml): a shipped preset, not a file path."""
    text = str(text)
    return bool(text) and "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml"))


def resolve_spec(name_or_path: str | Path, kind: str) -> Path:
    """The file of a spec given as a preset name ("pcm": hardware_specs/pcm.yaml, from the checkout
    or the installed package) or a path (see resolve_path). An unknown name is a SpecError that
    lists the presets."""
    if not isinstance(name_or_path, (str, Path)):
        raise SpecTypeError(f"{kind}: expected a preset name, a file path or a spec object, got "
                            f"{type(name_or_path).__name__}")
    if not is_preset_name(name_or_path) or Path(name_or_path).exists():
        return resolve_path(name_or_path)
    folder = shipped_dir(PRESET_FOLDERS[kind])
    path = folder / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "calibration")
        raise SpecError(name_or_path, [("", f"no {kind} preset named {str(name_or_path)!r} (and no such "
                                            f"file); presets: {', '.join(known)}")])
    return path


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping with `yaml.safe_load`; every failure becomes a SpecError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(path, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(path, [("", f"cannot read file: {exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise SpecError(path, [("", f"not a usable spec: nested deeper than the YAML reader can follow "
                                    f"(spec files nest at most {MAX_DEPTH} levels)")]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(path, [("", f"not valid YAML{at}: {problem}")]) from None
    if not isinstance(data, dict):
        raise SpecError(path, [("", f"must be a YAML mapping, got {type(data).__name__}")])
    too_deep = _deeper_than(data, MAX_DEPTH)
    if too_deep is not None:
        raise SpecError(path, [(too_deep, f"nested deeper than {MAX_DEPTH} levels (spec files nest "
                                          "only a few levels; is a bracket unclosed?)")])
    return data


MAX_DEPTH = 32


def _deeper_than(data: Any, limit: int) -> str | None:
    """The dotted path where `data` nests more than `limit` mappings/lists deep, or None (iterative,
    so arbitrarily deep input cannot exhaust the stack)."""
    stack = [(data, [])]
    while stack:
        node, where = stack.pop()
        if len(where) > limit:
            return ".".join(where[:3]) + ". ..."
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((child, where + [str(key)]) for key, child in children)
    return None


class NestedProblems(ValueError):
    """Raised by a validator that checked its value against another model: the (sub-path, rule)
    pairs are reported below the field's own path."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in problems))


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into (dotted field path, rule) pairs a person can act on."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"])
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, NestedProblems):
            problems += [(".".join(p for p in (field, sub) if p), rule) for sub, rule in nested.problems]
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (not part of this spec; check the spelling)"
        elif err["type"] == "missing":
            message = "required key is missing"
        problems.append((field, message))
    return problems


def validate_mapping(model: type[ModelT], data: dict, file: str | Path) -> ModelT:
    """Validate `data` as `model`, raising SpecError that names `file` on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(file, validation_problems(exc)) from None


# What each kind of spec file is, and how it is used (for a file given where another belongs).
KIND_USE = {"workload": ("a workload", "pass it as the WORKLOAD argument (cosim run FILE)"),
            "hardware": ("a hardware spec", "use --hardware FILE (hardware= in Python)"),
            "sweep": ("a sweep file", "run it with `cosim sweep FILE`"),
            "gpu": ("a GPU spec", "use it with `cosim gpu-cost --gpu FILE`"),
            "calibration": ("the GPU model's calibration", "use it with `cosim gpu-cost --calibration FILE`")}


def spec_kind(data: dict) -> str | None:
    """Which kind of spec a mapping is, from its keys (a key of KIND_USE), or None: sweeps name a
    base workload file, workloads have a network, chips a device, GPUs a peak FP32 rate and the
    calibration fitted constants."""
    if isinstance(data.get("workload"), str):
        return "sweep"
    if "network" in data or "training" in data:
        return "workload"
    if "device" in data or "tile" in data or "extends" in data:
        return "hardware"
    if "fitted" in data or "assumed" in data:
        return "calibration"
    if "peak_fp32" in data:
        return "gpu"
    return None


def expect_kind(data: dict, file: str | Path, kind: str) -> dict:
    """`data` unchanged when it is a `kind` spec (or of no recognisable kind); else a SpecError
    that says what the file is and where it belongs."""
    found = spec_kind(data)
    if found is not None and found != kind:
        what, use = KIND_USE[found]
        raise SpecError(file, [("", f"this is {what}, not {KIND_USE[kind][0]}: {use}")])
    return data


def load_spec(model: type[ModelT], path: str | Path, kind: str | None = None) -> ModelT:
    """Load and validate one YAML spec file (of `kind`, when given: see expect_kind)."""
    data = read_yaml(path)
    return validate_mapping(model, expect_kind(data, path, kind) if kind else data, path)
