"""Shared machinery of the spec layer: frozen models, unit-aware fields, YAML loading, clear errors."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cosim.units import UnitError, parse_quantity


class SpecError(Exception):
    """A spec file that cannot be used. The message names the file, the field path and the rule."""

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]):
        self.file = str(file)
        self.problems = problems
        lines = [f"{self.file}: {field or '(top level)'}: {rule}" for field, rule in problems]
        super().__init__("\n".join(lines))


class FrozenSpec(BaseModel):
    """Base of every spec: immutable, and unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def _quantity(dimension: str | tuple[str, ...]):
    def convert(value: Any) -> float:
        try:
            return parse_quantity(value, dimension)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
    return BeforeValidator(convert)


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


def _non_negative(value: float) -> float:
    if not value >= 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _finite(value: float) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    return value


def _quantity_type(dimension: str | tuple[str, ...], sign_check):
    return Annotated[float, _quantity(dimension), AfterValidator(_finite), AfterValidator(sign_check)]


Seconds = _quantity_type("time", _positive)
Joules = _quantity_type("energy", _non_negative)
Siemens = _quantity_type("conductance", _positive)
Volts = _quantity_type("voltage", _positive)
Hertz = _quantity_type("frequency", _positive)
BitsPerSecond = _quantity_type("bandwidth", _positive)
BytesPerSecond = _quantity_type("byte_bandwidth", _positive)
FlopsPerSecond = _quantity_type("flop_rate", _positive)
Watts = _quantity_type("power", _non_negative)
JoulesPerBit = _quantity_type(("energy_per_bit", "energy"), _non_negative)
Bytes = _quantity_type("bytes", _non_negative)
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]
Source = Annotated[str, Field(min_length=1, description="Where the default numbers come from.")]

ModelT = TypeVar("ModelT", bound=BaseModel)
REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_path(path: str | Path, relative_to: str | Path | None = None) -> Path:
    """A file path as given: beside `relative_to` (a folder) if it exists there, else from the
    working folder, else from the repository root; unchanged when found nowhere."""
    path = Path(path)
    if path.is_absolute():
        return path
    for base in ([Path(relative_to)] if relative_to is not None else []) + [Path.cwd(), REPO_ROOT]:
        if (base / path).exists():
            return path if base == Path.cwd() else base / path
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
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(path, [("", f"not valid YAML{at}: {problem}")]) from None
    if not isinstance(data, dict):
        raise SpecError(path, [("", f"must be a YAML mapping, got {type(data).__name__}")])
    return data


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into (dotted field path, rule) pairs a person can act on."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"])
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


def load_spec(model: type[ModelT], path: str | Path) -> ModelT:
    """Load and validate one YAML spec file."""
    return validate_mapping(model, read_yaml(path), path)
