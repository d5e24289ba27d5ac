"""Worker processes share the cores: compiled code in each gets cores // workers threads."""

from __future__ import annotations

import os

from potpyri.framework.executors import ProcessExecutor


def _openmp_threads(_: int) -> tuple[str, list[int]]:
    import astroscrappy  # noqa: F401  (loads the OpenMP runtime inside the worker)
    from threadpoolctl import threadpool_info

    return os.environ.get("OMP_NUM_THREADS", ""), [
        i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"
    ]


def test_pool_workers_cap_openmp_threads():
    workers = 2
    expected = max(1, (os.cpu_count() or 1) // workers)
    with ProcessExecutor(workers) as pool:
        results = list(pool.map(_openmp_threads, range(4)))
    for env, openmp in results:
        assert env == str(expected)
        assert openmp and all(n == expected for n in openmp), openmp


def test_explicit_thread_count_wins():
    with ProcessExecutor(2, threads=3) as pool:
        results = list(pool.map(_openmp_threads, range(2)))
    assert all(env == "3" and all(n == 3 for n in openmp) for env, openmp in results), results
