"""The content-addressed product cache.

A step's products for one task live in ``<cache>/<step>/<key[:32]>/`` with a ``MANIFEST.json``
that marks them complete. Entries are produced in a hidden temporary folder and renamed into place,
so an interrupted run leaves no partial entry; a per-key ``flock`` makes concurrent jobs (a Hydra
sweep) wait for the first producer instead of repeating its work.

Temporary names carry their writer's host and pid (:func:`process_tag`): a cache shared by jobs on
several cluster nodes is cleaned only of the dead processes of the cleaning job's own host, since
a pid says nothing about a process on another machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from potpyri.files import host_name, process_tag, shared_mode

__all__ = ["MANIFEST", "Cache", "host_name", "is_stale", "pid_alive", "process_tag"]

MANIFEST = "MANIFEST.json"
_TMP_PREFIX = ".tmp-"


class Cache:
    """Product storage addressed by cache key.

    Parameters
    ----------
    root : Path
        Folder holding one sub-folder per step.
    reuse : bool
        Whether complete entries are reused (``cache.enabled``); when False every task runs and
        replaces its entry.
    """

    def __init__(self, root: Path, *, reuse: bool = True) -> None:
        self.root = Path(root)
        self.reuse = reuse
        self.root.mkdir(parents=True, exist_ok=True)

    def entry(self, step: str, key: str) -> Path:
        """Folder of the entry for ``key``."""
        return self.root / step / key[:32]

    def lookup(self, step: str, key: str) -> dict[str, Any] | None:
        """The manifest of a complete entry, or None."""
        if not self.reuse:
            return None
        manifest = self.entry(step, key) / MANIFEST
        try:
            return json.loads(manifest.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a damaged manifest is treated as absent and the task re-runs

    @contextlib.contextmanager
    def lock(self, step: str, key: str) -> Iterator[None]:
        """Hold the per-key lock (blocking) while producing or reading an entry."""
        folder = self.root / step
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f".{key[:32]}.lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def staging(self, step: str) -> Path:
        """A fresh hidden folder to write an entry into (named after this process)."""
        folder = self.root / step
        folder.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=folder, prefix=f"{_TMP_PREFIX}{process_tag()}-"))

    def commit(self, step: str, key: str, staged: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        """Write the manifest into ``staged`` and move it into place; returns the manifest."""
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        for path in staged.iterdir():
            # Products are shared by every published link: never edit in place; readable as the
            # umask allows (mkdtemp made the folder 0700 whatever the umask).
            path.chmod(shared_mode(0o444))
        staged.chmod(shared_mode(0o777))
        target = self.entry(step, key)
        if target.exists():  # only when reuse is off: move the old entry away, then replace it
            old = target.with_name(f"{_TMP_PREFIX}{process_tag()}-old-{target.name}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(staged, target)
        return manifest

    def clean_stale(self, own: int | None = None) -> list[Path]:
        """Remove staging folders (and temporary files) left by processes of this host that no
        longer exist, and those of process ``own`` (a run that was interrupted and has stopped its
        tasks). Another host's temporaries are never touched: its processes cannot be seen."""
        removed = []
        for staged in self.root.glob(f"*/{_TMP_PREFIX}*"):
            if is_stale(staged.name[len(_TMP_PREFIX) :].split("-", 1)[0], own):
                if staged.is_dir():
                    shutil.rmtree(staged, ignore_errors=True)
                else:
                    staged.unlink(missing_ok=True)
                removed.append(staged)
        return removed


def is_stale(tag: str, own: int | None = None) -> bool:
    """Whether a temporary owned by ``tag`` (``PID@HOST``, text from its name) is garbage: a
    process of this host that no longer exists, or ``own`` (an interrupted run whose tasks have
    stopped). Another host's temporaries, and names without a host (written by versions before
    hosts were recorded), are never judged stale."""
    pid, _, host = tag.partition("@")
    if not pid.isdigit() or host != host_name():
        return False
    return int(pid) == own or not pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (temporaries named after a dead pid are
    stale)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
