"""Checkpointed long runs: a run killed mid-training resumes to exactly the uninterrupted result."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import cosim.api as api
from cosim.cli import main
from cosim.registry import RULES
from tests.conftest import HW_FILE, ROOT, WL_FILE, hardware, workload


class Killed(Exception):
    """Stands in for a kill: raised from inside the training loop."""


def killing_progress(method: str, at_step: int):
    """A progress bar stand-in that 'kills' `method`'s training after `at_step` steps."""
    class Bar:
        def __init__(self, enabled, wl, **options):
            pass

        def __enter__(self):
            def advance(name, done=0):
                count = [done]

                def step():
                    count[0] += 1
                    if name == method and count[0] == at_step:
                        raise Killed()
                return step
            return advance

        def __exit__(self, *exc):
            return False
    return Bar


@pytest.mark.parametrize("method, fidelity", [(m, "transaction") for m in RULES.names()]
                         + [pytest.param(m, "detailed", marks=pytest.mark.slow) for m in ("write_verify", "eapu")])
def test_resumed_run_equals_uninterrupted(tmp_path, monkeypatch, method, fidelity):
    every, kill_at = 4, 7          # killed 3 steps after its last checkpoint (step 4)
    wl = workload(steps=12, methods=(method,))
    reference = api.run(wl, hardware(), fidelity=fidelity)
    monkeypatch.setattr(api, "_progress", killing_progress(method, kill_at))
    with pytest.raises(Killed):
        api.run(wl, hardware(), progress=True, fidelity=fidelity,
                checkpointing=api.Checkpointing(tmp_path, every))
    monkeypatch.undo()
    resumed = api.run(wl, hardware(), fidelity=fidelity,
                      checkpointing=api.Checkpointing(tmp_path, every, resume=True))
    assert resumed.run_info["resumed_at_step"] == {method: 4}
    assert json.dumps(resumed.summary, sort_keys=True) == json.dumps(reference.summary, sort_keys=True)
    pd.testing.assert_frame_equal(resumed.ledger, reference.ledger)
    pd.testing.assert_frame_equal(resumed.curves, reference.curves)
    run, ref = resumed.runs[0], reference.runs[0]
    assert (run.end_ps, run.setup_end_ps) == (ref.end_ps, ref.setup_end_ps)
    pd.testing.assert_frame_equal(run.ledger.transactions(), ref.ledger.transactions())
    assert run.events.tolist() == ref.events.tolist()          # the same SimPy events per step


def test_finished_methods_are_not_trained_again(tmp_path):
    wl = workload(steps=6, methods=("ideal", "eapu"))
    first = api.run(wl, hardware(), checkpointing=api.Checkpointing(tmp_path, 3))
    again = api.run(wl, hardware(), checkpointing=api.Checkpointing(tmp_path, 3, resume=True))
    assert again.run_info["resumed_at_step"] == {"ideal": 6, "eapu": 6}
    assert json.dumps(again.summary, sort_keys=True) == json.dumps(first.summary, sort_keys=True)


def test_checkpoints_do_not_store_the_data_set(tmp_path):
    api.run(workload(steps=4, methods=("ideal",)), hardware(), checkpointing=api.Checkpointing(tmp_path, 2))
    assert (tmp_path / "ideal.ckpt").stat().st_size < 200_000   # the digits training set alone is ~700 kB


def test_resume_with_other_arguments_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    api.run(workload(steps=4, methods=("eapu",)), hardware(),
            checkpointing=api.Checkpointing(out / "checkpoints", 2))
    code = main(["run", str(WL_FILE), "--hardware", str(HW_FILE), "--methods", "eapu", "--steps", "5",
                 "--out", str(out), "--resume", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "eapu.ckpt" in err and "another configuration" in err and "Traceback" not in err


def test_checkpoint_of_another_format_is_refused_naming_the_formats(tmp_path, monkeypatch, capsys):
    import cosim.sim.checkpoint as checkpoint
    out = tmp_path / "run"
    monkeypatch.setattr(checkpoint, "FORMAT", "cosim.checkpoint/0")    # written by an older cosim
    api.run(workload(steps=4, methods=("eapu",)), hardware(),
            checkpointing=api.Checkpointing(out / "checkpoints", 2))
    monkeypatch.undo()
    code = main(["run", str(WL_FILE), "--hardware", str(HW_FILE), "--methods", "eapu", "--steps", "4",
                 "--out", str(out), "--resume", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "another cosim version" in err and "cosim.checkpoint/0" in err and "Traceback" not in err


def test_killed_process_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    args = [str(WL_FILE), "--hardware", str(HW_FILE), "--methods", "eapu,write_verify", "--steps", "40",
            "--out", str(out), "--quiet"]
    cmd = [sys.executable, "-m", "cosim", "run", *args, "--checkpoint-every", "5"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoints" / "eapu.ckpt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (out / "checkpoints" / "eapu.ckpt").exists() and not (out / "summary.json").exists()
    done = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed_at = dict(part.split() for part in
                      done.stdout.split("resumed at step: ")[1].splitlines()[0].split(", "))
    assert 5 <= int(resumed_at["eapu"]) < 40 and int(resumed_at["eapu"]) % 5 == 0
    assert not (out / "checkpoints").exists()
    reference = api.run(WL_FILE, HW_FILE, methods=["eapu", "write_verify"], steps=40).summary
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(reference))
