"""Where a sweep's points run: a local process pool or a dask.distributed cluster.

Both take the same picklable tasks and yield the same result dicts as points finish (in any order);
the point itself runs in `run_point`, which never raises: an error becomes part of its result.
"""
from __future__ import annotations

import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Iterator


CONNECT_TIMEOUT_S = 20
# Imported once by the fork server, not by every worker (scikit-learn alone takes ~2 s).
PRELOAD = ["cosim.api", "sklearn.datasets"]


class SchedulerUnreachable(Exception):
    """No dask scheduler answered at the given address."""


def run_point(task: dict) -> dict:
    """Train one point (task: key, workload, hardware specs) and return its results or its error."""
    from cosim.api import run

    started = time.perf_counter()
    try:
        result = run(task["workload"], task["hardware"])
    except Exception as exc:  # a raising point is recorded, the sweep goes on
        return {"key": task["key"], "status": "error", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "wall_s": time.perf_counter() - started}
    return {"key": task["key"], "status": "ok", "summary": result.summary, "run_info": result.run_info,
            "ledger": result.ledger, "curves": result.curves, "wall_s": time.perf_counter() - started}


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def local_results(tasks: list[dict], workers: int, blas_threads: int | None = None) -> Iterator[dict]:
    """Run tasks on `workers` processes forked from a clean server that imported cosim once
    (no state, threads or progress bar inherited from this process; no import per worker)."""
    context = get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    # By default the workers share the cores' BLAS threads: more only contend (OpenBLAS spins).
    blas_threads = blas_threads or max(1, default_workers() // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_limit_blas_threads,
                               initargs=(blas_threads,))
    finished = False
    try:
        futures = {pool.submit(run_point, task): task["key"] for task in tasks}
        for future in as_completed(futures):
            yield _result_or_error(future, futures[future])
        finished = True
    finally:
        if not finished:   # interrupted: stop the running points now, their results are lost anyway
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=finished, cancel_futures=True)


def _limit_blas_threads(threads: int) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


def dask_results(tasks: list[dict], scheduler: str) -> Iterator[dict]:
    """Run tasks on the dask.distributed cluster at `scheduler` (tcp://HOST:PORT)."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachable(f"no dask scheduler at {scheduler!r} answered within "
                                   f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}: {exc})") from None
    with client:
        futures = client.map(run_point, tasks, key=[f"cosim-point-{t['key']}" for t in tasks], pure=False)
        keys = {future.key: task["key"] for future, task in zip(futures, tasks)}
        for future in dask_completed(futures):
            yield _result_or_error(future, keys[future.key])


def _result_or_error(future, key: str) -> dict:
    """A future's result; a worker that died (not the point raising) is recorded as that point's error."""
    try:
        return future.result()
    except Exception as exc:
        return {"key": key, "status": "error", "error": f"worker failed: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "wall_s": 0.0}
