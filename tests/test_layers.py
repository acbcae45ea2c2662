"""The layer order of docs/architecture.md, as import-linter contracts in pyproject.toml."""
from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import cosim

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _layers() -> list[str]:
    options = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (contract,) = [c for c in options["contracts"] if c["type"] == "layers"]
    return contract["layers"]


def test_lint_imports_keeps_every_contract():
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports
    configuration.configure()
    assert lint_imports(config_filename=str(PYPROJECT), cache_dir=None, no_logo=True)


def test_every_top_level_module_sits_in_a_layer():
    """A new package outside the layer list would escape the contract unnoticed."""
    listed = {name.strip() for layer in _layers() for name in layer.replace(":", "|").split("|")}
    present = {m.name for m in pkgutil.iter_modules(cosim.__path__)}
    assert present == listed, f"not in a layer: {present - listed}; listed but missing: {listed - present}"
