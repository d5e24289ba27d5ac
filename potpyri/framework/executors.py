"""Run a function over independent tasks: in this process, in a pool of processes, or on dask.

Every executor has the same contract: ``map(fn, items, on_error=None)`` yields one result per item,
**in item order**, and ``close()`` releases what it started. When ``on_error`` is given, an item
whose call raised (or whose worker died) yields ``on_error(item, exc)`` instead of stopping the
run, so failures come back per task.

``dask`` runs tasks on a ``distributed`` cluster: an existing scheduler
(``executor=dask executor.address=tcp://host:8786``) or, without an address, a LocalCluster of
``executor.workers`` processes started for the run and closed at its end. Workers must see the
same file system as the client (the data path and the cache), as on any cluster with a shared
disk. Log records emitted by a task on a worker are captured and re-emitted by the client, in
task order, so the run's log reads the same whichever executor ran it.

SLURM, PBS and other batch systems: start the workers with dask-jobqueue and point potpyri at its
scheduler, e.g.::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=4, processes=4, memory="16GB", walltime="02:00:00")
    cluster.scale(jobs=4)          # 16 workers in 4 batch jobs
    print(cluster.scheduler_address)   # tcp://10.0.0.5:8786

    potpyri instrument=gmos data_path=/scratch/night executor=dask \\
        executor.address=tcp://10.0.0.5:8786

(``PBSCluster``, ``SGECluster`` and ``LSFCluster`` work the same way.) See ``docs/scaling.rst``.

Threads: compiled code inside a task (astroscrappy's OpenMP loops, BLAS) starts its own threads.
``executor.threads`` caps them per worker; by default (0) a pool of N workers on C cores gives
each worker C // N threads, so that N workers never run N × C threads on C cores, while the serial
executor leaves them uncapped. dask workers get one thread each from ``distributed`` itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["DaskExecutor", "ProcessExecutor", "SerialExecutor", "limit_threads", "make_executor"]

OnError = Callable[[Any, BaseException], Any] | None


class SerialExecutor:
    """Tasks one after the other, in order, in this process.

    Parameters
    ----------
    threads : int
        Cap on the threads of compiled code for the run (0 = no cap).
    """

    workers = 1

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads
        if threads > 0:
            limit_threads(threads)

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], on_error: OnError = None
    ) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order."""
        for item in items:
            if on_error is None:
                yield fn(item)
                continue
            try:
                result = fn(item)
            except Exception as exc:
                result = on_error(item, exc)
            yield result

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessExecutor(SerialExecutor):
    """Tasks in a pool of forked worker processes; results come back in task order.

    Parameters
    ----------
    workers : int
        Worker processes; 0 = one per core.
    threads : int
        Threads of compiled code per worker; 0 = the cores shared out among the workers.
    """

    def __init__(self, workers: int = 0, threads: int = 0) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.requested_threads = threads
        self.threads = threads if threads > 0 else max(1, (os.cpu_count() or 1) // self.workers)

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], on_error: OnError = None
    ) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order, computed in worker processes."""
        items = list(items)
        if len(items) <= 1 or self.workers == 1:
            # One task at a time, in this process: the cores are not shared, so only a cap the
            # user asked for applies (a default cap would also stay on this process for good).
            yield from SerialExecutor(self.requested_threads).map(fn, items, on_error)
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(items)),
            mp_context=context,
            initializer=limit_threads,
            initargs=(self.threads,),
        ) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for item, future in zip(items, futures, strict=True):
                if on_error is None:
                    yield future.result()
                    continue
                try:
                    result = future.result()
                except Exception as exc:  # includes BrokenProcessPool (a worker killed by OOM)
                    result = on_error(item, exc)
                yield result


class DaskExecutor(SerialExecutor):
    """Tasks on a dask ``distributed`` cluster: an existing scheduler, or a LocalCluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``). Without it a LocalCluster is started.
    workers : int
        LocalCluster worker processes (one thread each); 0 = one per core.

    The cluster is started on the first ``map`` and closed by :meth:`close` (only a cluster this
    executor started is closed; an external scheduler is left running).
    """

    def __init__(self, address: str | None = None, workers: int = 0) -> None:
        self.address = address or None
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self._client: Any = None
        self._cluster: Any = None

    def client(self) -> Any:
        """The ``distributed.Client``, connecting or starting the cluster on first use."""
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the installation
            raise RuntimeError(
                "executor=dask needs dask.distributed: pip install 'potpyri[dask]'"
            ) from None
        log = logging.getLogger("potpyri")
        if self.address:
            self._client = Client(self.address, set_as_default=False)
            log.info(
                "dask: connected to the scheduler at %s (%d workers)",
                self.address,
                len(self._client.scheduler_info().get("workers", {})),
            )
        else:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self._client = Client(self._cluster, set_as_default=False)
            log.info("dask: started a LocalCluster of %d worker processes", self.workers)
        return self._client

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], on_error: OnError = None
    ) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order, computed on the cluster's workers."""
        items = list(items)
        if not items:
            return
        client = self.client()
        # pure=False: equal specs must still each run (their cache lock makes repeats cheap).
        futures = client.map(_CapturedLogs(fn), items, pure=False)
        try:
            for item, future in zip(items, futures, strict=True):
                try:
                    result, records = future.result()
                except Exception as exc:  # a task raised, or its worker died (KilledWorker)
                    if on_error is None:
                        raise
                    yield on_error(item, exc)
                    continue
                for record in records:
                    logging.getLogger(record.name).handle(record)
                yield result
        finally:
            client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        """Close the client, and the LocalCluster if this executor started one."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class _CapturedLogs:
    """Call ``fn(item)`` and return ``(result, log records)`` emitted by this thread meanwhile.

    A dask worker is a separate process without the run's log handlers; capturing the task's
    records (INFO and above of the ``potpyri`` loggers) lets the client replay them in its log.
    """

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, item: Any) -> tuple[Any, list[logging.LogRecord]]:
        logger = logging.getLogger("potpyri")
        handler = _ThreadRecords(threading.get_ident())
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        try:
            result = self.fn(item)
        finally:
            logger.removeHandler(handler)
        return result, handler.records


class _ThreadRecords(logging.Handler):
    def __init__(self, thread: int) -> None:
        super().__init__(logging.INFO)
        self.thread = thread
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        # Render the message now: arguments may not pickle, and the client needs only the text.
        flat = logging.makeLogRecord(record.__dict__)
        flat.msg, flat.args, flat.exc_info = record.getMessage(), None, None
        if record.exc_info:
            flat.msg += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append(flat)


def limit_threads(threads: int) -> None:
    """Cap the threads of OpenMP and BLAS code in this process at ``threads``.

    The environment variables reach libraries loaded later (astroscrappy's OpenMP runtime is
    loaded by its first import, inside a task); threadpoolctl resizes those already loaded.
    """
    from threadpoolctl import threadpool_limits

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    threadpool_limits(limits=threads)


def make_executor(config: Any) -> SerialExecutor:
    """The executor an ``executor`` config node asks for."""
    kind = getattr(config.kind, "value", config.kind)
    threads = int(getattr(config, "threads", 0) or 0)
    if kind == "serial":
        return SerialExecutor(threads)
    if kind == "processes":
        return ProcessExecutor(int(config.workers), threads)
    if kind == "dask":
        return DaskExecutor(getattr(config, "address", None), int(config.workers))
    raise ValueError(f"executor.kind={kind!r} is not known (serial, processes, dask)")
