"""Parse quantities written with units ("100 ns", "40 uS", "2.5 pJ") into SI floats.

Only the units a hardware spec needs are known; an unknown unit is an error, not a guess.
"""
from __future__ import annotations

import re

_PREFIX = {
    "a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3,
    "": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
}
# Base unit symbol -> the SI dimension it measures.
_BASE = {
    "s": "time", "J": "energy", "S": "conductance", "V": "voltage", "A": "current",
    "W": "power", "Hz": "frequency", "b": "bits", "bit": "bits", "B": "bytes",
    "Ohm": "resistance", "ohm": "resistance", "Ω": "resistance",
    "b/s": "bandwidth", "bit/s": "bandwidth", "B/s": "byte_bandwidth",
    "FLOP/s": "flop_rate", "FLOPS": "flop_rate", "J/b": "energy_per_bit", "J/bit": "energy_per_bit",
    "J/B": "energy_per_byte", "J/FLOP": "energy_per_flop", "F": "capacitance",
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµΩ/]*)\s*$")


class UnitError(ValueError):
    """A quantity string that cannot be read as a number with a known unit."""


def _split_unit(unit: str) -> tuple[float, str]:
    if unit in _BASE:
        return 1.0, unit
    for prefix in sorted(_PREFIX, key=len, reverse=True):
        if prefix and unit.startswith(prefix) and unit[len(prefix):] in _BASE:
            return _PREFIX[prefix], unit[len(prefix):]
    raise UnitError(f"unknown unit {unit!r}")


def parse_quantity(value: str | int | float, dimension: str | tuple[str, ...] | None = None) -> float:
    """Return `value` as an SI float; `dimension` (e.g. "time") checks the unit if one is written.

    Plain numbers are taken as already SI.
    """
    if isinstance(value, bool):
        raise UnitError("expected a number or a quantity string, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a number or a quantity string, got {type(value).__name__}")
    match = _PATTERN.match(value)
    if not match:
        raise UnitError(f"cannot read {value!r} as a number with a unit")
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return number
    scale, base = _split_unit(unit)
    allowed = (dimension,) if isinstance(dimension, str) else dimension
    if allowed is not None and _BASE[base] not in allowed:
        raise UnitError(f"{value!r} is a {_BASE[base]}, expected a {' or '.join(allowed)}")
    return number * scale


_SYMBOL = {"time": "s", "energy": "J", "conductance": "S", "voltage": "V", "current": "A",
           "power": "W", "frequency": "Hz", "bits": "b", "bytes": "B", "resistance": "Ohm",
           "bandwidth": "b/s", "byte_bandwidth": "B/s", "flop_rate": "FLOP/s",
           "energy_per_bit": "J/b", "energy_per_byte": "J/B", "energy_per_flop": "J/FLOP",
           "capacitance": "F"}
_DISPLAY_PREFIXES = [("a", 1e-18), ("f", 1e-15), ("p", 1e-12), ("n", 1e-9), ("u", 1e-6), ("m", 1e-3),
                     ("", 1.0), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18)]


def si_symbol(dimension: str) -> str:
    """The SI unit symbol of a dimension ("conductance" -> "S")."""
    return _SYMBOL[dimension]


def format_quantity(value: float, unit: str) -> str:
    """`value` (SI) with the SI prefix that leaves 1 <= mantissa < 1000, e.g. 4e-05, "S" -> "40 uS"."""
    if value == 0 or value != value or value in (float("inf"), float("-inf")):
        return f"{value:g} {unit}"
    magnitude = abs(value)
    if unit == "s" and magnitude >= 1:
        return f"{value:g} s"      # 3600 s, not 3.6 ks
    prefix, scale = _DISPLAY_PREFIXES[0]
    for p, s in _DISPLAY_PREFIXES:
        if magnitude >= s * (1 - 1e-9):
            prefix, scale = p, s
    return f"{value / scale:.4g} {prefix}{unit}"


def prefixed_example(number: float, unit: str, lo: float, hi: float) -> str:
    """`number` written with the SI prefix that puts it nearest (in decades) the middle of
    [lo, hi], e.g. 40 in [1 nS, 10 mS] -> "40 uS": a hint for a plain number read as SI."""
    import math
    if number <= 0:
        return f"{number:g} {unit}"
    middle = 0.5 * (math.log10(lo) + math.log10(hi))
    prefix = min(_DISPLAY_PREFIXES, key=lambda ps: abs(math.log10(number * ps[1]) - middle))[0]
    return f"{number:g} {prefix}{unit}"
