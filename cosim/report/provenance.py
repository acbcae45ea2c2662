"""Provenance next to a run's outputs: the resolved specs it trained with (workload.yaml,
hardware.yaml), their content hash, and the fields where they differ from the shipped preset they
extend or are named after (see cosim.specs.provenance)."""
from __future__ import annotations

from pathlib import Path

from cosim.specs.base import PACKAGE_DATA, PRESET_FOLDERS, REPO_ROOT, SpecError, shipped_dir
from cosim.specs.provenance import config_hash, extended_preset, field_differences, spec_yaml

RESOLVED_FILES = {"workload": "workload.yaml", "hardware": "hardware.yaml"}


def write_resolved_specs(folder: str | Path, workload, hardware) -> None:
    """workload.yaml and hardware.yaml as trained (after extends:, sweep axes and overrides)."""
    digest = config_hash(workload, hardware)
    for kind, spec in (("workload", workload), ("hardware", hardware)):
        header = (f"Resolved {kind} spec of this run (after extends:, sweep axes and overrides).\n"
                  f"Configuration hash (workload + hardware): {digest}")
        (Path(folder) / RESOLVED_FILES[kind]).write_text(spec_yaml(spec, header), encoding="utf-8")


def preset_for(kind: str, spec, source: str | Path | None = None) -> Path | None:
    """The preset to compare against: the file a hardware `source` extends, else the shipped
    preset named like the spec (an edited copy that kept its name; for the preset itself the
    differences are the command-line overrides, e.g. --steps), else None."""
    if kind == "hardware" and source is not None and Path(source).is_file():
        try:
            parent = extended_preset(source)
        except SpecError:
            parent = None
        if parent is not None and parent.is_file():
            return parent
    named = shipped_dir(PRESET_FOLDERS[kind]) / f"{spec.name}.yaml"
    return named if named.is_file() else None


def provenance(workload, hardware, workload_source=None, hardware_source=None) -> dict:
    """summary.json's `provenance`: the config hash and, per spec, its preset and differing fields."""
    out = {"config_hash": config_hash(workload, hardware)}
    for kind, spec, source in (("workload", workload, workload_source),
                               ("hardware", hardware, hardware_source)):
        preset = preset_for(kind, spec, source)
        entry = {"preset": _shown(preset) if preset else None, "differences": []}
        if preset is not None:
            try:
                base = _load(kind, preset)
            except SpecError:
                base = None
            if base is not None:
                entry["differences"] = [{"field": f, "preset": a, "run": b}
                                        for f, a, b in field_differences(spec, base)]
        out[kind] = entry
    return out


def _load(kind: str, path: Path):
    from cosim.specs.hardware import load_hardware
    from cosim.specs.workload import load_workload
    return load_hardware(path) if kind == "hardware" else load_workload(path)


def _shown(path: Path) -> str:
    """A preset's path relative to the repository (or the installed package data) when inside it."""
    for root in (PACKAGE_DATA, REPO_ROOT):
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            pass
    return str(path)


def configuration_section(summary: dict) -> tuple[str, str, list[list[str]]] | None:
    """The report's section on what this run trained with, beyond the spec names."""
    prov = summary.get("provenance")
    if not prov:
        return None
    rows = [["spec", "field", "preset", "this run"]]
    presets = []
    for kind in ("workload", "hardware"):
        entry = prov[kind]
        presets.append(f"{kind} {summary[kind]!r} vs {entry['preset'] or 'no shipped preset'}")
        rows += [[kind, d["field"], _value(d["preset"]), _value(d["run"])] for d in entry["differences"]]
    same = "" if len(rows) > 1 else " No field differs from the presets."
    note = (f"Configuration hash {prov['config_hash']} (every field of the resolved workload and "
            f"hardware; the files workload.yaml and hardware.yaml beside this report are those specs). "
            f"Fields that differ from the preset each extends or is named after: {'; '.join(presets)}.{same}")
    return "Configuration", note, rows


def _value(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
