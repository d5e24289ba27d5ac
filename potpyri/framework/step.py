"""The step contract: a registered class with a typed config, a scope, and a pure ``run``.

A step never decides where its products live and never opens files it was not handed: the runner
plans its tasks, computes cache keys, writes products atomically and stamps provenance.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "STEPS",
    "Item",
    "Output",
    "PassedThrough",
    "Product",
    "Scope",
    "Step",
    "StepConfig",
    "StepContext",
    "StepFailed",
    "Task",
    "register_step",
]


class Scope(str, enum.Enum):
    """What one call of a step works on."""

    run = "run"  #: the whole run (ingest)
    calgroup = "calgroup"  #: one calibration group (master bias per amplifier/binning set...)
    frame = "frame"  #: one frame (process, astrometry, resample)
    target = "target"  #: one target group: same object, filter, amplifiers, binning (stack)


@dataclass
class StepConfig:
    """Fields every step has.

    ``renamed`` maps old field names to new ones (old -> new): overrides and recipes that use an
    old name keep working for one release, with a warning (see :mod:`potpyri.framework.config`).
    """

    renamed: ClassVar[dict[str, str]] = {}
    enabled: bool = True  #: run this step; false records it as SKIPPED and passes data through


class StepFailed(Exception):
    """A task cannot produce its product; the message is the one-line reason shown to the user.

    The task's inputs are set aside: nothing downstream uses them."""


class PassedThrough(Exception):
    """A task cannot apply its correction, but its frames are still good: they go on.

    The third outcome of a task, besides done and failed. Without ``outputs`` the task's inputs
    go on unchanged; with them (the fallback correction) they replace the inputs as a done task's
    would. Either way the message is the one-line warning shown to the user, the summary counts
    the task as ``passed`` and the products' ``PPSTAnn`` say ``PASSED``.

    Parameters
    ----------
    message : str
        The warning: what was not done, why, and what the frames got instead.
    outputs : list of Output, optional
        The frames with the fallback correction.
    """

    def __init__(self, message: str, outputs: list[Output] | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs


@dataclass
class Item:
    """One thing flowing through the pipeline: a frame, a calibration or a target group.

    Parameters
    ----------
    id : str
        Stable identifier: the raw file name for frames, e.g. ``"mbias_12_22"`` for calibrations,
        the TargType for targets.
    kind : str
        ``"frame"``, ``"calibration"`` or ``"target"``.
    meta : dict
        JSON-serialisable facts (type, target, filter, amp, binning, exptime, ...).
    files : dict
        Role -> absolute path of the product file.
    key : str
        Cache key of the task that produced the item; downstream keys chain through it.
    provenance : list of dict
        Step records (``step``, ``version``, ``cfg_hash``, ``status``, ``params``) in pipeline
        order.
    """

    id: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    key: str = ""
    provenance: list[dict[str, Any]] = field(default_factory=list)
    failed: str = ""

    @property
    def ok(self) -> bool:
        """True unless a step set the item aside."""
        return not self.failed

    def path(self, role: str) -> Path:
        """The product file for ``role`` (raises a clear error if absent)."""
        try:
            return Path(self.files[role])
        except KeyError:
            raise StepFailed(f"{self.id}: no {role!r} product (has {sorted(self.files)})") from None


@dataclass
class Task:
    """One unit of work the runner hands to a step.

    ``inputs`` are the items transformed; ``refs`` are items only read (calibrations), whose keys
    also enter the cache key.
    """

    id: str
    inputs: list[Item]
    refs: list[Item] = field(default_factory=list)


@dataclass
class Product:
    """A file a step produces. ``content`` is an ``HDUList``, an astropy ``Table`` or text.

    ``publish`` names where users find it under the run's product directory:
    ``"cals"``, ``"workspace"``, ``"qa"`` (figures of the QA report), ``"."`` (the ``red/`` root),
    ``"data_path"``, or ``None`` (cache only). Any other plain folder name is published as
    ``red/<name>/``.
    """

    filename: str
    content: Any
    publish: str | None = "workspace"


@dataclass
class Output:
    """One item a task produces, with its products by role."""

    id: str
    kind: str
    meta: dict[str, Any]
    products: dict[str, Product] = field(default_factory=dict)


@dataclass
class StepContext:
    """What the runner lends a step: run-wide facts, never paths to write into."""

    cfg: Any  #: the whole resolved config (read only; declare what you read in ``depends_on``)
    instrument: Any  #: the instrument config node
    data_path: Path
    log: logging.Logger
    executor: Any = None
    #: Folder where raw readers keep decompressed copies of compressed raw files (a cache of the
    #: raw bytes, not a product); None keeps nothing.
    unpacked: Path | None = None
    #: Makes the raw-file reader from (instrument, unpacked); given by the application (a
    #: module-level function, so that the context pickles for worker processes).
    reader_factory: Callable[[Any, Path | None], Any] | None = None

    def reader(self) -> Any:
        """The instrument's raw-file reader."""
        if self.reader_factory is None:
            raise StepFailed("this run has no raw-file reader (no reader_factory in its context)")
        return self.reader_factory(self.instrument, self.unpacked)


class Step:
    """Base class of every pipeline step.

    Subclasses set ``name`` (through :func:`register_step`), ``version`` (bump when the output
    changes for the same input), ``scope``, ``depends_on`` (dotted config keys outside the step's
    own node that change its output), ``depends_on_files`` (dotted config keys naming files whose
    *content* changes its output) and a nested ``Config`` dataclass derived from
    :class:`StepConfig`; they implement :meth:`run`, and may refine :meth:`tasks`.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = Scope.frame
    depends_on: ClassVar[tuple[str, ...]] = ()
    depends_on_files: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[StepConfig]] = StepConfig

    def __init__(self, config: StepConfig, context: StepContext) -> None:
        self.config = config
        self.context = context
        self.log = context.log

    # -- planning -----------------------------------------------------------------------------
    def select(self, items: Iterable[Item]) -> list[Item]:
        """Items this step works on; by default the science frames still in the run."""
        return [
            i
            for i in items
            if i.ok
            and i.kind == "frame"
            and i.meta.get("type") == "SCIENCE"
            and not i.meta.get("excluded")
        ]

    def group_key(self, item: Item) -> str:
        """Group of an item for calibration- and target-scoped steps."""
        return str(item.meta.get("targtype", item.id))

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        """Items a task reads without transforming (calibrations); override to add them."""
        return []

    def tasks(self, items: list[Item]) -> list[Task]:
        """Split the run's items into this step's tasks, by scope."""
        chosen = self.select(items)
        if self.scope is Scope.run:
            planned = [Task("run", chosen)]
        elif self.scope is Scope.frame:
            planned = [Task(i.id, [i]) for i in chosen]
        else:
            groups: dict[str, list[Item]] = defaultdict(list)
            for item in chosen:
                groups[self.group_key(item)].append(item)
            planned = [Task(key, members) for key, members in sorted(groups.items())]
        for task in planned:
            task.refs = self.references(task, items)
        return planned

    # -- work ---------------------------------------------------------------------------------
    def run(self, task: Task) -> list[Output]:
        """Do the work of one task and return its outputs (no file writing here)."""
        raise NotImplementedError


#: Registered steps by name.
STEPS: dict[str, type[Step]] = {}


def register_step(name: str) -> Callable[[type[Step]], type[Step]]:
    """Class decorator registering a step under its command-line name.

    The step's ``Config`` class is renamed ``<Name>Config`` so that validation errors say
    ``Key 'methd' not in 'StackConfig'`` rather than ``'Config'`` (``__qualname__`` is kept for
    pickling).
    """

    def decorate(cls: type[Step]) -> type[Step]:
        if not name.isidentifier():
            raise ValueError(f"step name {name!r} must be a Python identifier")
        if name in STEPS and STEPS[name] is not cls:
            raise ValueError(
                f"step {name!r} registered twice ({STEPS[name].__qualname__}, {cls.__qualname__})"
            )
        if not (dataclasses.is_dataclass(cls.Config) and issubclass(cls.Config, StepConfig)):
            raise TypeError(f"step {name!r}: Config must be a dataclass derived from StepConfig")
        _check_renamed(name, cls.Config)
        cls.name = name
        cls.Config.__name__ = "".join(part.capitalize() for part in name.split("_")) + "Config"
        STEPS[name] = cls
        return cls

    return decorate


def _check_renamed(name: str, config: type[StepConfig]) -> None:
    """Each renamed key must point to a field, and no field may keep an old name."""
    fields = {f.name for f in dataclasses.fields(config)}
    for old, new in config.renamed.items():
        if new not in fields:
            raise TypeError(f"step {name!r}: renamed {old!r} -> {new!r}, which is not a field")
        if old in fields:
            raise TypeError(f"step {name!r}: renamed {old!r} is still a field")
