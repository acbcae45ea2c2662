"""Run one training per method, in this process or in parallel worker processes, with BLAS
threads pinned per process.

Each method's training owns its generators (seeded from the workload seed, cosim.sim.training),
so where it runs changes nothing: parallel results equal serial ones (tests/test_speed.py).
Workers are spawned (no fork of a process that may hold BLAS or numba threads), each limits its
BLAS pools to `blas_threads` (threadpoolctl) and reports its progress through a queue.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import nullcontext


def default_jobs() -> int:
    """Worker processes for a run by default: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def blas_limited(threads: int | None):
    """Context that limits every BLAS/OpenMP pool to `threads` (None: leave them as they are)."""
    if threads is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=int(threads))


def run_methods(train_one, methods: list[str], advance, jobs: int = 1, blas_threads: int | None = 1) -> list:
    """[train_one(method, advance) for method in methods], in `jobs` processes at most.
    train_one must be picklable (a module-level function or a functools.partial of one);
    advance(method, done) -> tick or None is the progress callback of cosim.api."""
    jobs = max(1, min(int(jobs), len(methods)))
    if jobs == 1:
        with blas_limited(blas_threads):
            return [train_one(method, advance) for method in methods]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_start_worker, initargs=(blas_threads,)) as pool:
        bars = {method: advance(method, 0) for method in methods}
        ticks = manager.Queue() if any(bars.values()) else None
        futures = [pool.submit(_worker_train, train_one, method, ticks) for method in methods]
        pending = set(futures)
        while pending:
            _drain(ticks, bars)
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            if any(f.exception() for f in futures if f.done()):
                break
        _drain(ticks, bars)
        return [f.result() for f in futures]      # re-raises a worker's exception here


def _start_worker(blas_threads: int | None) -> None:
    global _LIMITS
    _LIMITS = blas_limited(blas_threads)
    _LIMITS.__enter__()                          # held for the worker's life


def _worker_train(train_one, method: str, ticks):
    def advance(name: str, done: int = 0):
        if ticks is None:
            return None
        if done:
            ticks.put((name, done))
        return lambda: ticks.put((name, 1))
    return train_one(method, advance)


def _drain(ticks, bars: dict) -> None:
    while ticks is not None:
        try:
            method, count = ticks.get_nowait()
        except queue_module.Empty:
            return
        tick = bars.get(method)
        for _ in range(count if tick else 0):
            tick()
