"""A sweep through a real dask.distributed cluster: a `dask scheduler` and two `dask worker`
processes on 127.0.0.1, started here as separate programs, give the local pool's results (slow)."""
import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from cosim.report.sweep_table import load_table
from cosim.sweep import run_sweep
from tests.conftest import HW_FILE, ROOT, WL_FILE

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 90


def _dask(*args, log) -> subprocess.Popen:
    """`python -m dask ...` with cosim importable from this checkout (no install needed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def cluster(tmp_path):
    """(scheduler address, worker count) of a two-worker cluster of separate processes."""
    info = tmp_path / "scheduler.json"
    log = (tmp_path / "dask.log").open("w")
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(info), log=log)]
    try:
        address = _wait_for_scheduler(info, procs[0], tmp_path / "dask.log")
        procs += [_dask("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                        "--host", "127.0.0.1", "--name", f"w{i}", log=log) for i in range(2)]
        _wait_for_workers(address, 2)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _wait_for_scheduler(info, proc, log_path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if info.exists() and info.stat().st_size:
            return json.loads(info.read_text())["address"]
        if proc.poll() is not None:
            pytest.fail(f"dask scheduler exited ({proc.returncode}):\n{log_path.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"dask scheduler did not start within {START_TIMEOUT_S} s:\n{log_path.read_text()}")


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT_S) as client:
        client.wait_for_workers(count, timeout=START_TIMEOUT_S)
        assert all(pid != os.getpid() for pid in client.run(os.getpid).values())


def test_separate_scheduler_and_worker_processes_give_the_local_pools_results(tmp_path, cluster):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nworkload: {WL_FILE}\nhardware: {HW_FILE}\nsteps: 3\n"
                    "methods: [bp_open_loop, eapu]\nseeds: [0, 1]\n"
                    "grid:\n  hardware.device.write_noise: [0.01, 0.04]\n")
    from distributed import Client, get_task_stream

    local = run_sweep(path, tmp_path / "local", workers=2, report=False)
    with Client(cluster) as client, get_task_stream(client) as stream:
        remote = run_sweep(path, tmp_path / "remote", scheduler=cluster, report=False)
    assert (local.ran, remote.ran, local.errors, remote.errors) == (4, 4, [], [])
    points = [t for t in stream.data if str(t["key"]).startswith("cosim-point-")]
    assert len(points) == 4 and len({t["worker"] for t in points}) == 2   # both worker processes ran points
    order = ["point", "method"]
    pd.testing.assert_frame_equal(load_table(remote.out).sort_values(order).reset_index(drop=True),
                                  load_table(local.out).sort_values(order).reset_index(drop=True))
