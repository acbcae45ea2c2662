"""Packaging hook: the spec folders the project ships (chip presets, GPU specs and calibration,
workloads, sweeps) go into the wheel as package data under cosim/_data/, so an installed cosim
finds them (cosim.specs.base.shipped_dir). Everything else is in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("hardware_specs", "workloads")
PATTERNS = ("*.yaml", "*.json")


class build_py_with_specs(build_py):
    """build_py, plus a copy of the shipped spec folders into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return   # an editable install reads them from the checkout
        root = Path(__file__).resolve().parent
        for folder in SHIPPED:
            for source in sorted((root / folder).rglob("*")):
                if source.is_file() and any(source.match(p) for p in PATTERNS):
                    target = Path(self.build_lib) / "cosim" / "_data" / source.relative_to(root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)


setup(cmdclass={"build_py": build_py_with_specs})
