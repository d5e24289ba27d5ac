"""The generic runner: validate a recipe, plan each step's tasks, run or reuse them, publish.

One runner executes any recipe. For each step in the pipeline list it asks the step for its tasks,
computes each task's cache key (step name and version, the step's config, the config it
``depends_on``, and the keys of its inputs), and either reuses the complete cache entry or runs
the task through the executor. Products are written atomically into the cache, stamped with
provenance, then published under the user-facing layout (``red/cals``, ``red/workspace``,
``red/``) as hard links. A failed task sets its inputs aside with the reason and the run goes on;
a task that passes its frames through (:class:`~potpyri.framework.step.PassedThrough`) lets them
go on, unchanged or with a fallback correction, with a warning.

Every run has an id (``PPRUNID`` in the header of each product it writes); the result lists the
files this run published, so that products an earlier run left in ``red/`` are not taken for this
run's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import logging
import os
import shutil
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astropy.io import fits
from omegaconf import DictConfig, OmegaConf

from potpyri.files import write_content
from potpyri.framework.cache import Cache, is_stale, process_tag
from potpyri.framework.executors import make_executor
from potpyri.framework.logutil import progress
from potpyri.framework.provenance import digest, embed_recipe, stamp
from potpyri.framework.step import (
    STEPS,
    Item,
    PassedThrough,
    Scope,
    Step,
    StepContext,
    StepFailed,
    Task,
)

__all__ = [
    "RunAborted",
    "RunResult",
    "TaskRecord",
    "new_run_id",
    "run_pipeline",
    "write_summary",
]

log = logging.getLogger("potpyri")


class RunAborted(RuntimeError):
    """A run that cannot go on (products cannot be written); the message names file and cause."""


@dataclass
class TaskRecord:
    """The fate of one task, with wall time and a note.

    ``status`` is ``ran``, ``cached``, ``passed`` (its frames went on uncorrected or with a
    fallback correction; the note says which), ``failed`` (its inputs were set aside), ``skipped``
    (step disabled), ``empty`` (nothing to do), ``aborted``, or ``rejected``: an input file the
    step refused (damaged, foreign; ``task`` is the file name, the note the reason).

    ``flagged`` is set when a task that ran (or was reused) made its product by a fallback (an
    output's ``meta["flagged"]``, e.g. aperture photometry without a usable PSF): a product, but
    not a clean success; the summary counts it as flagged.

    ``cpu_seconds`` is the CPU time of the process that ran the task while it ran (all its
    threads) plus that of the programs the task ran and waited for (solve-field,
    build-astrometry-index); ``peak_rss_mb`` is that process's peak resident memory when the
    task ended, which is the task's own peak only with ``executor.measure_memory=true`` (Linux),
    0 where unknown.
    """

    step: str
    task: str
    status: str
    seconds: float = 0.0
    note: str = ""
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    flagged: bool = False


@dataclass
class RunResult:
    """What a run produced: the final items, one record per task, and the files it published."""

    items: list[Item]
    records: list[TaskRecord]
    publish_root: Path
    step_seconds: dict[str, float] = field(default_factory=dict)  #: wall time of each step
    run_id: str = ""  #: this run's id (``PPRUNID`` of the products it wrote)
    #: files this run published (made or reused)
    published: list[Path] = field(default_factory=list)

    def by_status(self, step: str) -> dict[str, int]:
        """Count of tasks per status for ``step``."""
        counts: dict[str, int] = {}
        for rec in self.records:
            if rec.step == step:
                counts[rec.status] = counts.get(rec.status, 0) + 1
        return counts


def run_pipeline(
    cfg: DictConfig,
    names: list[str],
    *,
    reader_factory: Callable[[Any, Path | None], Any] | None = None,
    publish_root: Path | None = None,
    recipe_yaml: str | None = None,
    show_progress: bool = False,
) -> RunResult:
    """Execute the steps ``names``, in order, of a validated config.

    Parameters
    ----------
    cfg : DictConfig
        Composed and validated config (see :func:`potpyri.framework.validate.check_config`).
    names : list of str
        The registered steps to run, in order.
    reader_factory : callable, optional
        Makes the raw-file reader steps get from ``context.reader()``, given the
        ``cfg.instrument`` node and the folder for unpacked raw files.
    publish_root : Path, optional
        Where products are published; default ``data_path/red``. Sweep jobs publish into their
        own job folder so that no job overwrites another's results.
    recipe_yaml : str, optional
        The resolved recipe, embedded as ``PPRECIPE`` in target-level (final) products.
    show_progress : bool
        Draw rich progress bars (interactive single runs only).
    """
    run_id = new_run_id()
    data_path = Path(cfg.data_path).expanduser().absolute()
    red = data_path / "red"
    publish_root = Path(publish_root) if publish_root is not None else red
    cache = Cache(
        Path(cfg.cache.dir) if cfg.cache.dir else red / "cache", reuse=bool(cfg.cache.enabled)
    )
    for stale in cache.clean_stale() + _stale_links([publish_root, data_path]):
        log.info("removed the partial product of an interrupted run: %s", stale.name)
    executor = make_executor(cfg.executor)
    unpacked = (
        cache.root / "unpacked" if OmegaConf.select(cfg, "cache.unpack_raw", default=True) else None
    )
    context = StepContext(
        cfg=cfg,
        instrument=cfg.instrument,
        data_path=data_path,
        log=logging.getLogger("potpyri.steps"),
        unpacked=unpacked,
        reader_factory=reader_factory,
    )
    step_seconds: dict[str, float] = {}
    with (
        _tidy_if_interrupted(cache, [publish_root, data_path]),
        executor,
        progress(show_progress) as bars,
    ):
        run = _Run(
            cfg=cfg,
            context=context,
            cache=cache,
            executor=executor,
            bars=bars,
            publish_root=publish_root,
            data_path=data_path,
            recipe_yaml=recipe_yaml,
            run_id=run_id,
            measure_memory=bool(OmegaConf.select(cfg, "executor.measure_memory", default=False)),
        )
        for name in names:
            with _timed(step_seconds, name):  # every way out of a step is timed
                step = run.instantiate(name)
                if not step.config.enabled:
                    run.skip(step)
                    continue
                try:
                    specs = run.plan(step)
                except StepFailed as exc:
                    run.planning_failed(step, exc)
                    if step.cls.scope is Scope.run:
                        break  # nothing downstream can work without it
                    continue
                if specs:
                    run.execute(step, specs)
    return RunResult(
        list(run.items.values()),
        run.records,
        publish_root,
        step_seconds,
        run_id,
        list(dict.fromkeys(run.published)),
    )


def new_run_id() -> str:
    """A run's id: its UTC start time and six random hex digits (``20261206T231500Z-3fa9c1``)."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = time.perf_counter() - start


@dataclass
class _StepRun:
    """One step of this run: its class, typed config, instance and provenance record."""

    name: str
    cls: type[Step]
    config: Any
    step: Step
    params: dict[str, Any]

    def record(self, status: str) -> dict[str, Any]:
        """The provenance record this step adds to the items it handles."""
        return {
            "step": self.name,
            "version": self.cls.version,
            "cfg_hash": digest(self.params),
            "params": self.params,
            "status": status,
        }


@dataclass
class _Run:
    """What one run carries from step to step: the items so far and one record per task."""

    cfg: DictConfig
    context: StepContext
    cache: Cache
    executor: Any
    bars: Any
    publish_root: Path
    data_path: Path
    recipe_yaml: str | None
    run_id: str
    measure_memory: bool
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    records: list[TaskRecord] = field(default_factory=list)
    published: list[Path] = field(default_factory=list)

    def instantiate(self, name: str) -> _StepRun:
        """The registered step ``name`` with its config node as a dataclass."""
        cls = STEPS[name]
        config = OmegaConf.to_object(self.cfg[name])
        params = _jsonable(dataclasses.asdict(config))
        return _StepRun(name, cls, config, cls(config, self.context), params)

    def skip(self, step: _StepRun) -> None:
        """A disabled step: its items pass through with a SKIPPED provenance record."""
        skipped = step.step.select(list(self.items.values()))
        for item in skipped:
            item.provenance = _merge([item.provenance, [step.record("SKIPPED")]])
        self.records.append(
            TaskRecord(step.name, "*", "skipped", note=f"enabled=false ({len(skipped)} items)")
        )
        log.info("[%s] skipped (enabled=false)", step.name)

    def planning_failed(self, step: _StepRun, exc: StepFailed) -> None:
        log.error("[%s] %s", step.name, exc)
        self.records.append(TaskRecord(step.name, "*", "failed", note=str(exc)))

    def plan(self, step: _StepRun) -> list[_TaskSpec]:
        """The step's tasks with their cache keys; none (recorded as empty) if nothing to do."""
        tasks = step.step.tasks(list(self.items.values()))
        if not tasks:
            log.info("[%s] nothing to do", step.name)
            self.records.append(TaskRecord(step.name, "*", "empty", note="no inputs"))
            return []
        deps = {key: _config_value(self.cfg, key) for key in step.cls.depends_on}
        # A file edited in place keeps its name: its content must enter the key.
        deps.update(
            {f"{key}:sha256": _file_digest(self.cfg, key) for key in step.cls.depends_on_files}
        )
        return [
            _TaskSpec(
                step_cls=step.cls,
                config=step.config,
                context=self.context,
                task=task,
                key=_task_key(step.name, step.cls.version, step.params, deps, task),
                provenance=_merge(
                    [i.provenance for i in task.inputs] + [[step.record("COMPLETE")]]
                ),
                cache=self.cache,
                recipe=self.recipe_yaml if step.cls.scope is Scope.target else None,
                run_id=self.run_id,
                measure_memory=self.measure_memory,
            )
            for task in tasks
        ]

    def execute(self, step: _StepRun, specs: list[_TaskSpec]) -> None:
        """Run (or reuse) every task through the executor, absorbing results as they come."""
        bar = self.bars.add_task(step.name, total=len(specs))
        results = self.executor.map(_execute, specs, on_error=_lost)
        for spec, result in zip(specs, results, strict=True):
            self.bars.advance(bar)
            self.absorb(step.name, spec, result)

    def absorb(self, name: str, spec: _TaskSpec, result: _TaskResult) -> None:
        """Record a task's fate; set its inputs aside if it failed, let them go on if it passed
        them through unchanged, else take in its outputs."""
        outputs = result.manifest.get("outputs", [])
        # A warning is noted where it arose: outputs copy their input's meta, warnings included.
        inherited = {w for i in spec.task.inputs for w in i.meta.get("warnings", [])}
        notes = dict.fromkeys(
            w for out in outputs for w in out["meta"].get("warnings", []) if w not in inherited
        )
        note = "; ".join([result.note, *notes]).strip("; ")
        self.records.append(
            TaskRecord(
                name,
                spec.task.id,
                result.status,
                result.seconds,
                note,
                result.cpu_seconds,
                result.peak_rss_mb,
                any(out["meta"].get("flagged") for out in outputs),
            )
        )
        if result.status == "aborted":  # earlier products stay as they were
            log.error("[%s] %s: %s; run stopped", name, spec.task.id, result.note)
            raise RunAborted(f"[{name}] {spec.task.id}: {result.note}")
        if result.status == "failed":
            log.error("[%s] %s: %s", name, spec.task.id, result.note)
            for item in spec.task.inputs:
                if (item.kind, item.id) in self.items:
                    item.failed = f"{name}: {result.note}"
            return
        if result.status == "passed":
            log.warning("[%s] %s: %s", name, spec.task.id, result.note)
            if not outputs:  # the frames go on as they came, their history saying so
                passed = [
                    r for r in _with_status(spec.provenance, name, "PASSED") if r["step"] == name
                ]
                for item in spec.task.inputs:
                    item.provenance = _merge([item.provenance, passed])
                return
        else:
            log.info("[%s] %s %s in %.2fs", name, spec.task.id, result.status, result.seconds)
        entry = self.cache.entry(name, spec.key)
        for out in outputs:
            files = {role: str(entry / p["file"]) for role, p in out["products"].items()}
            item = Item(out["id"], out["kind"], out["meta"], files, spec.key, out["provenance"])
            self.items[(item.kind, item.id)] = item
            self.published += _publish(out, entry, self.publish_root, self.data_path)
            # An input file the step refused, or one the instrument's rules set aside, by name.
            for fate in ("rejected", "excluded"):
                if out["meta"].get(fate):
                    self.records.append(
                        TaskRecord(name, out["id"], fate, note=str(out["meta"][fate]))
                    )
                    break
            self.set_aside(name, spec.task, out["meta"].get("set_aside", {}))

    def set_aside(self, name: str, task: Task, reasons: dict[str, str]) -> None:
        """Inputs a task left out of its product (a bad calibration exposure the master was made
        without): each is set aside by name with its reason, as if its own task had failed."""
        for item in task.inputs:
            if item.id in reasons and (item.kind, item.id) in self.items:
                item.failed = f"{name}: {reasons[item.id]}"
                log.warning("[%s] %s: %s", name, item.id, reasons[item.id])
                self.records.append(TaskRecord(name, item.id, "failed", note=reasons[item.id]))


def step_dependencies(cfg: DictConfig, cls: type[Step]) -> dict[str, Any]:
    """What a step's cache key takes from outside its own config node: the values of its
    ``depends_on`` keys and the content digests of the files its ``depends_on_files`` name (a
    file edited in place keeps its name)."""
    deps = {key: _config_value(cfg, key) for key in cls.depends_on}
    deps.update({f"{key}:sha256": _file_digest(cfg, key) for key in cls.depends_on_files})
    return deps


def _file_digest(cfg: DictConfig, key: str) -> str | None:
    """SHA-256 of the file a dotted config key names (None when unset or not a file)."""
    value = OmegaConf.select(cfg, key)
    path = Path(str(value)).expanduser() if value else None
    if path is None or not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _config_value(cfg: DictConfig, key: str) -> Any:
    """The plain value of a dotted config key (a node as a resolved container)."""
    value = OmegaConf.select(cfg, key)
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    return _jsonable(value)


# -- task execution (runs in worker processes: keep it picklable) ---------------------------------


@dataclass
class _TaskSpec:
    step_cls: type[Step]
    config: Any
    context: StepContext
    task: Task
    key: str
    provenance: list[dict[str, Any]]
    cache: Cache
    recipe: str | None = None
    run_id: str = ""
    measure_memory: bool = False


@dataclass
class _TaskResult:
    status: str
    seconds: float
    manifest: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0


def _lost(spec: _TaskSpec, exc: BaseException) -> _TaskResult:
    """The record of a task whose worker raised outside the step or died (out of memory...)."""
    return _TaskResult("failed", 0.0, note=f"worker lost: {type(exc).__name__}: {exc}")


def _execute(spec: _TaskSpec) -> _TaskResult:
    """Reuse or produce one task's cache entry; record its wall time, CPU time and peak memory."""
    if spec.measure_memory:
        _reset_peak_rss()
    cpu = _cpu_seconds()
    try:
        result = _execute_task(spec)
    finally:
        _release_freed_memory()
    result.cpu_seconds = _cpu_seconds() - cpu
    result.peak_rss_mb = _peak_rss_mb()
    return result


def _release_freed_memory() -> None:
    """Hand the heap pages freed by a task back to the system (glibc ``malloc_trim``).

    A task frees its frames when it ends, but glibc keeps freed pages of its heap arenas mapped;
    without trimming, a long run's resident memory creeps up with every frame it processed.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to do
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _execute_task(spec: _TaskSpec) -> _TaskResult:
    """Reuse or produce one task's cache entry, holding its lock throughout."""
    start = time.perf_counter()
    name = spec.step_cls.name
    with spec.cache.lock(name, spec.key):
        manifest = spec.cache.lookup(name, spec.key)
        if manifest is not None:
            status = "passed" if manifest.get("passed") else "cached"
            return _TaskResult(
                status, time.perf_counter() - start, manifest, note=manifest.get("passed", "")
            )
        step = spec.step_cls(spec.config, spec.context)
        provenance, passed = spec.provenance, ""
        try:
            outputs = step.run(spec.task)
        except PassedThrough as exc:
            if exc.outputs is None:  # nothing to write: the inputs go on unchanged
                return _TaskResult("passed", time.perf_counter() - start, note=str(exc))
            outputs, passed = exc.outputs, str(exc)
            provenance = _with_status(spec.provenance, name, "PASSED")
        except StepFailed as exc:
            return _TaskResult("failed", time.perf_counter() - start, note=str(exc))
        except Exception as exc:  # one bad frame must not stop the night
            spec.context.log.debug("%s", traceback.format_exc())
            return _TaskResult(
                "failed", time.perf_counter() - start, note=f"{type(exc).__name__}: {exc}"
            )
        staged = None
        try:
            staged = spec.cache.staging(name)
            manifest = {
                "step": name,
                "version": spec.step_cls.version,
                "key": spec.key,
                "task": spec.task.id,
                "outputs": [_write_output(out, staged, spec, provenance) for out in outputs],
            }
            if passed:
                manifest["passed"] = passed
            spec.cache.commit(name, spec.key, staged, manifest)
        except OSError as exc:  # a full disk, a read-only cache: no later task can write either
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
            where = exc.filename or spec.cache.entry(name, spec.key)
            return _TaskResult(
                "aborted",
                time.perf_counter() - start,
                note=f"cannot write {where}: {exc.strerror or exc}",
            )
        except BaseException:
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
            raise
    if passed:
        return _TaskResult("passed", time.perf_counter() - start, manifest, note=passed)
    return _TaskResult("ran", time.perf_counter() - start, manifest)


def _with_status(provenance: list[dict[str, Any]], step: str, status: str) -> list[dict[str, Any]]:
    """A provenance chain with ``step``'s record given ``status`` (a copy)."""
    return [{**rec, "status": status} if rec["step"] == step else rec for rec in provenance]


def _write_output(
    out, staged: Path, spec: _TaskSpec, provenance: list[dict[str, Any]]
) -> dict[str, Any]:
    products = {}
    for role, product in out.products.items():
        if Path(product.filename).name != product.filename or product.filename.startswith("."):
            raise ValueError(f"product file name {product.filename!r} must be a plain file name")
        content = product.content
        if isinstance(content, fits.HDUList):
            stamp(content[0].header, provenance)
            if spec.run_id:
                content[0].header["PPRUNID"] = (spec.run_id, "potpyri run that wrote this product")
            if spec.recipe is not None:
                embed_recipe(content, spec.recipe)
        write_content(content, staged / product.filename)
        products[role] = {"file": product.filename, "publish": product.publish}
    return {
        "id": out.id,
        "kind": out.kind,
        "meta": _jsonable(out.meta),
        "products": products,
        "provenance": provenance,
    }


# -- helpers --------------------------------------------------------------------------------------


def _reset_peak_rss() -> None:
    """Reset this process's peak-RSS counter (Linux ``clear_refs``; a no-op elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``VmHWM``; ``ru_maxrss`` without /proc)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except (ImportError, OSError):
        return 0.0


@contextlib.contextmanager
def _tidy_if_interrupted(cache: Cache, folders: list[Path]) -> Iterator[None]:
    """On Ctrl-C, once the executor has stopped its workers (this context is entered first, so it
    exits last), remove the temporaries this run and its workers left. A task cleans its own on
    an exception, but the signal reaches every process of the group and can land between a
    staging folder's creation and the code that would remove it."""
    try:
        yield
    except KeyboardInterrupt:
        for stale in cache.clean_stale(own=os.getpid()) + _stale_links(folders, own=os.getpid()):
            log.info("removed the partial product of the interrupted run: %s", stale.name)
        raise


def _stale_links(folders: list[Path], own: int | None = None) -> list[Path]:
    """Remove publication temporaries (``.name.PID@HOST.link``) of this host's processes that no
    longer exist (and of process ``own``)."""
    removed = []
    for folder in folders:
        for path in [*folder.glob(".*.link"), *folder.glob("*/.*.link")]:
            if is_stale(path.name.rsplit(".", 2)[-2], own):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _publish(out: dict[str, Any], entry: Path, publish_root: Path, data_path: Path) -> list[Path]:
    """Make products visible under the user-facing layout (hard links; copies for data_path);
    returns the published files."""
    published = []
    for product in out["products"].values():
        where = product["publish"]
        if where is None:
            continue
        source = entry / product["file"]
        if where == "data_path":
            folder = data_path if publish_root == data_path / "red" else publish_root
        else:
            folder = publish_root if where == "." else publish_root / where
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / product["file"]
        temporary = folder / f".{product['file']}.{process_tag()}.link"
        temporary.unlink(missing_ok=True)
        try:
            try:
                if where == "data_path":  # users edit these (file_list.txt): never share the inode
                    shutil.copyfile(source, temporary)
                else:
                    os.link(source, temporary)
            except OSError:
                shutil.copyfile(source, temporary)
            os.replace(temporary, target)
            # rename() does nothing when both names already link the same file (a re-run
            # republishing a cached product): the temporary name would stay behind.
            temporary.unlink(missing_ok=True)
        except OSError as exc:  # a full disk: the published file stays the previous one
            temporary.unlink(missing_ok=True)
            raise RunAborted(f"cannot publish {target}: {exc.strerror or exc}") from None
        published.append(target)
    return published


def _task_key(name: str, version: str, params: dict, deps: dict, task: Task) -> str:
    return digest(
        {
            "step": name,
            "version": version,
            "config": params,
            "depends_on": deps,
            "inputs": sorted((i.id, i.key) for i in task.inputs),
            "refs": sorted((i.id, i.key) for i in task.refs),
        },
        length=64,
    )


def _merge(chains: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Union of provenance chains in first-seen order, one record per step."""
    merged: dict[str, dict[str, Any]] = {}
    for chain in chains:
        for rec in chain:
            merged.setdefault(rec["step"], rec)
    return list(merged.values())


def _jsonable(obj: Any) -> Any:
    """Enums to their values, paths to strings, recursively (for hashing and manifests)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_summary(result: RunResult, path: Path) -> None:
    """Write the per-task records as JSON next to the run's log."""
    rows = [dataclasses.asdict(r) for r in result.records]
    path.write_text(json.dumps(rows, indent=1))
