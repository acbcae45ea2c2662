"""Packaging and shipped files (issue 15): presets by name, --version, default outputs outside
reports/, and (slow) a built wheel that runs from an empty folder in a fresh virtual environment."""
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import cosim
from cosim.api import DEFAULT_OUT
from cosim.specs import base
from cosim.specs.base import SpecError, SpecTypeError, resolve_spec
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload
from tests.conftest import ROOT

SHIPPED = sorted(p.relative_to(ROOT).as_posix() for folder in ("hardware_specs", "workloads")
                 for p in (ROOT / folder).rglob("*") if p.suffix in (".yaml", ".json"))


def _cosim(*args, cwd, env=None, python=sys.executable):
    return subprocess.run([python, "-m", "cosim", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_presets_load_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_hardware("pcm").name == "pcm"
    assert load_workload("digits_vit").name == "digits_vit"
    assert load_hardware("hardware_specs/pcm.yaml") == load_hardware("pcm")   # repo-relative path too
    with pytest.raises(SpecError, match="no hardware preset named 'pcmx'.*rram_180nm"):
        load_hardware("pcmx")
    with pytest.raises(SpecTypeError, match="hardware: expected a preset name"):
        load_hardware(42)


def test_installed_package_data_is_found_when_there_is_no_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "hardware_specs", tmp_path / "_data" / "hardware_specs")
    monkeypatch.setattr(base, "REPO_ROOT", tmp_path / "no_checkout")
    monkeypatch.setattr(base, "PACKAGE_DATA", tmp_path / "_data")
    assert resolve_spec("pcm", "hardware") == tmp_path / "_data" / "hardware_specs" / "pcm.yaml"
    assert base.resolve_path("hardware_specs/fefet.yaml") == tmp_path / "_data" / "hardware_specs" / "fefet.yaml"


def test_version_flag(tmp_path):
    proc = _cosim("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"cosim {cosim.__version__}"


def test_default_outputs_are_git_ignored_not_the_committed_references():
    assert DEFAULT_OUT == Path("runs")
    if shutil.which("git") and (ROOT / ".git").exists():
        proc = subprocess.run(["git", "check-ignore", "-q", "runs/digits_mlp/summary.json"], cwd=ROOT)
        assert proc.returncode == 0, "runs/ must be git-ignored"
    script = (ROOT / "scripts" / "regenerate_reports.sh").read_text()
    committed = sorted(p.parent.relative_to(ROOT / "reports").as_posix()
                       for p in (ROOT / "reports").rglob("report.md")) + sorted(
        p.parent.name for p in (ROOT / "reports").glob("cost_*/cost.json"))
    missing = [name for name in committed if name not in script]
    assert not missing, f"scripts/regenerate_reports.sh does not regenerate {missing}"
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "regenerate_reports.sh")]).returncode == 0


def test_cli_run_writes_to_runs_by_default(tmp_path):
    proc = _cosim("run", "--steps", "1", "--methods", "ideal", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "runs" / "digits_mlp" / "summary.json").is_file()
    assert not (tmp_path / "reports").exists()


def _tracked_tree(dest: Path) -> Path:
    """The repository's tracked files (what a clone has) copied to `dest`."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_runs_from_an_empty_folder(tmp_path):
    if not shutil.which("git"):
        pytest.skip("needs git to list the tracked files")
    src = _tracked_tree(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True)
    wheel = next((tmp_path / "dist").glob("cosim-*.whl"))
    import zipfile
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [f for f in SHIPPED if f"cosim/_data/{f}" not in names]
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OPENBLAS_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True, env=env)
    # Dependencies from this interpreter's site-packages (no network); cosim itself only from the wheel.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([str(python), "-c", "import cosim; print(cosim.__file__)"], cwd=empty, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(env_dir))
    cli = env_dir / "bin" / "cosim"
    for args in (["--version"], ["validate", str(src / "hardware_specs" / "gpus" / "calibration.yaml")],
                 ["run", "--hardware", "pcm", "--steps", "2", "--methods", "ideal,eapu", "--quiet"],
                 ["gpu-cost", "digits_mlp", "--gpu", "a100"],
                 ["cost", "cost_resnet18_cifar", "--methods", "eapu", "--quiet"],
                 ["sweep", "write_noise_x_rule", "--dry-run"]):
        proc = subprocess.run([str(cli), *args], cwd=empty, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
    import json
    summary = json.loads((empty / "runs" / "digits_mlp" / "summary.json").read_text())
    assert summary["provenance"]["hardware"]["preset"] == "hardware_specs/rram_180nm.yaml"   # pcm extends it
