"""Documentation inside the repository (issue 15): the generated spec field reference is current,
every field has a meaning, and README/docs links and cited files exist."""
import re
import subprocess
import sys

from cosim.specs.reference import REFERENCE_FILE, reference_markdown
from tests.conftest import ROOT

REGENERATE = "python -m cosim.specs.reference --write"


def test_spec_reference_is_current():
    assert REFERENCE_FILE.read_text(encoding="utf-8") == reference_markdown(), (
        f"docs/spec_reference.md is stale (a spec field changed): run `{REGENERATE}` and commit it")
    proc = subprocess.run([sys.executable, "-m", "cosim.specs.reference", "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _reference_rows():
    for line in reference_markdown().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] not in ("field", "---"):
            yield cells


def test_every_spec_field_has_a_meaning_and_every_quantity_a_unit_and_range():
    rows = list(_reference_rows())
    assert len(rows) > 100
    assert not [r[0] for r in rows if not r[4]], "fields without a description"
    quantities = [r for r in rows if "quantit" in r[1]]
    assert quantities and all(re.match(r"^\S+; .+ to .+", r[2]) for r in quantities)
    fields = {r[0] for r in rows}
    assert {"`device.g_max`", "`adc.energy_per_conversion`", "`network.params.channels`",
            "`peak_fp32`", "`fitted.tensor_core_efficiency`"} <= fields


def _markdown_files():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_markdown_links_point_to_files_in_the_repository():
    broken = []
    for md in _markdown_files():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (md.parent / target).resolve().exists():
                broken.append(f"{md.relative_to(ROOT)} -> {target}")
            elif not (md.parent / target).resolve().is_relative_to(ROOT):
                broken.append(f"{md.relative_to(ROOT)} -> {target} (outside the repository)")
    assert not broken, broken


def test_cited_documents_exist_in_the_repository():
    """Source notes and docs cite docs/*.md files (e.g. docs/reference_parameters.md): each exists."""
    files = [*ROOT.glob("hardware_specs/**/*.yaml"), *ROOT.glob("workloads/**/*.yaml"),
             *ROOT.glob("cosim/**/*.py"), *_markdown_files()]
    missing = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        missing |= {m for m in re.findall(r"(?<![\w/.])((?:docs|benchmarks)/[\w./-]+\.md)", text)
                    if not (ROOT / m).is_file()}
        copies = ("reference_parameters.md", "design.md")   # say where they were copied from
        if path.name not in copies and ("shared/reference/parameters.md" in text
                                        or re.search(r"(?<![\w/])parameters\.md", text)):
            missing.add(f"{path.relative_to(ROOT)} cites parameters.md outside the repository")
    assert not missing, sorted(missing)
    assert (ROOT / "docs" / "design.md").is_file() and (ROOT / "docs" / "reference_parameters.md").is_file()


def test_readme_first_two_commands_are_the_documented_ones():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line.split("#")[0].strip() for line in lines[3:5]]
    assert commands == ['pip install -e . && cosim run', 'pip install -e ".[test]" && python -m pytest -q']
    assert "runs/digits_mlp/" in lines[3]
