"""Writing products: atomic file writes, safe names from header values, the frame model."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table

__all__ = [
    "atomic_path",
    "make_frame",
    "safe_name",
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


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    An interrupted write leaves only a hidden ``.name.*.tmp`` file, never a partial ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def make_frame(
    sci: np.ndarray,
    mask: np.ndarray,
    uncert: np.ndarray,
    header: fits.Header | None = None,
    *,
    err_name: str = "UNCERT",
    wcs_header: fits.Header | None = None,
) -> fits.HDUList:
    """The pipeline's frame product: an empty primary HDU (header) and SCI, MASK, UNCERT/ERR.

    SCI and the uncertainty are float32 in electrons; MASK is uint8 with the reference's bits
    (1 bad, 2 cosmic ray, 4 saturated, 8 neighbour). The WCS of ``wcs_header`` (default:
    ``header``) is copied to every extension.
    """
    from astropy.wcs import WCS, FITSFixedWarning

    primary = fits.PrimaryHDU(header=header.copy() if header is not None else None)
    source = wcs_header if wcs_header is not None else header
    wcs_cards = fits.Header()
    if source is not None:
        try:
            with (
                warnings.catch_warnings()
            ):  # astropy's header repairs (DATE-OBS from MJD) are noise here
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(source)
            if wcs.has_celestial:
                wcs_cards = wcs.to_header(relax=True)
        except Exception:  # a header without a usable WCS keeps none
            wcs_cards = fits.Header()
    hdus = [primary]
    for name, data in (
        ("SCI", sci.astype(np.float32)),
        ("MASK", mask.astype(np.uint8)),
        (err_name, uncert.astype(np.float32)),
    ):
        hdus.append(fits.ImageHDU(data=data, header=wcs_cards.copy(), name=name))
    return fits.HDUList(hdus)
