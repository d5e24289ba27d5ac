"""Files: atomic writes, and file names made safe from header values.

The lowest layer: the framework, the steps and the science packages all write through it.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

__all__ = [
    "atomic_path",
    "current_umask",
    "host_name",
    "process_tag",
    "safe_name",
    "shared_mode",
    "ut_date",
    "write_atomic",
    "write_content",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_+\-]+")


def safe_name(value: Any, *, max_len: int = 64, fallback: str = "unknown") -> str:
    """A header value made safe to use inside a file name.

    Unicode is folded to ASCII, anything other than letters, digits, ``_+-`` becomes ``_``, dots
    and path separators included (so ``'../../etc/x'`` cannot climb out of a folder), and long
    names are cut, with a short digest of the original appended so that two different long names
    never collide silently.

    Examples
    --------
    >>> safe_name("../../etc/x")
    'etc_x'
    >>> safe_name("SN 2024abc")
    'SN_2024abc'
    """
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", text).strip("_")
    if not cleaned:
        return fallback
    if len(cleaned) > max_len:
        tail = hashlib.sha256(str(value).encode()).hexdigest()[:6]
        cleaned = f"{cleaned[: max_len - 7]}_{tail}"
    return cleaned


def host_name() -> str:
    """This machine's name as temporary names carry it: letters, digits and ``_`` only (a ``.``
    or ``-`` would be taken for the separators of the names)."""
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "localhost"


def process_tag(pid: int | None = None) -> str:
    """``PID@HOST``: the owner of a temporary file or folder (this process by default)."""
    return f"{os.getpid() if pid is None else pid}@{host_name()}"


def current_umask() -> int:
    """This process's umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief window for other threads)
    os.umask(mask)
    return mask


def shared_mode(mode: int = 0o666) -> int:
    """``mode`` with the umask applied: what ``open()`` would give a new file.

    Temporary files and folders (:func:`tempfile.mkstemp`, ``mkdtemp``) are created 0600/0700
    whatever the umask; a product renamed from one into place gets this mode instead, so that
    sharing follows the user's umask (022: readable by all; 077: private).
    """
    return mode & ~current_umask()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    An interrupted write leaves only a hidden ``.name.*.tmp`` file, never a partial ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, shared_mode())  # mkstemp's 0600 would make every product private
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_content(content: Any, path: Path) -> None:
    """Write an HDUList, Table, str or bytes to ``path`` (not atomic; see :func:`write_atomic`)."""
    if isinstance(content, fits.HDUList):
        content.writeto(path, overwrite=True, output_verify="silentfix")
    elif isinstance(content, Table):
        fmt = "fits" if path.suffix == ".fits" else "ascii.ecsv"
        content.write(path, format=fmt, overwrite=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        raise TypeError(f"cannot write a {type(content).__name__} product to {path.name}")


def write_atomic(content: Any, path: str | os.PathLike) -> Path:
    """Write a product atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write_content(content, tmp)
    return path


def ut_date(mjd: Any) -> str:
    """``YYYYMMDD`` of an MJD or an ISO date (``'00000000'`` if it is missing or malformed)."""
    try:
        return Time(float(mjd), format="mjd").strftime("%Y%m%d")
    except (TypeError, ValueError):
        pass
    try:
        return Time(str(mjd).strip(), format="isot").strftime("%Y%m%d")
    except ValueError:
        return "00000000"
