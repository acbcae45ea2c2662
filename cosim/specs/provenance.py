"""What a result was computed from: the content hash of a resolved configuration, the resolved
specs as YAML, and the fields where a chip differs from the preset it extends.

The hash covers every field of the validated specs (after `extends:`, sweep axes and command-line
overrides), so two runs with the same hash trained on the same configuration, whatever their files
or names were; any edit of a field, source notes included, gives another hash.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

HASH_LENGTH = 16            # hex digits (64 bits): ample to tell configurations apart


def spec_data(spec: BaseModel) -> dict:
    """The spec as plain JSON-compatible data (every field, defaults included)."""
    return spec.model_dump(mode="json")


def config_hash(*specs: BaseModel) -> str:
    """Content hash of one or more validated specs (order matters: workload, then hardware)."""
    text = json.dumps([spec_data(s) for s in specs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def spec_yaml(spec: BaseModel, header: str = "") -> str:
    """The resolved spec as YAML that loads back into the same spec (no `extends:` left)."""
    body = yaml.safe_dump(spec_data(spec), sort_keys=False, allow_unicode=True)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def flat_fields(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {dotted.path: leaf value}; `sources` notes and descriptions are left out."""
    if not isinstance(data, dict):
        return {prefix: data}
    out = {}
    for key, value in data.items():
        if key in ("sources", "description"):
            continue
        out.update(flat_fields(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def field_differences(spec: BaseModel, other: BaseModel) -> list[tuple[str, Any, Any]]:
    """(dotted field, value in `other`, value in `spec`) for every field where they differ."""
    ours, theirs = flat_fields(spec_data(spec)), flat_fields(spec_data(other))
    return [(name, theirs.get(name), ours.get(name)) for name in sorted(set(ours) | set(theirs))
            if ours.get(name) != theirs.get(name)]


def extended_preset(path: str | Path) -> Path | None:
    """The file a chip spec's `extends:` names (resolved beside it), or None."""
    from cosim.specs.base import read_yaml

    parent = read_yaml(path).get("extends")
    return (Path(path).parent / parent).resolve() if isinstance(parent, str) else None
