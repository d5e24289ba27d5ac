"""Provenance: what made a product, written into the product itself.

Every FITS product carries ``PPVER`` and, per step in pipeline order, ``PPSTEPnn`` (name),
``PPCFGnn`` (16-hex digest of the step's config), ``PPSTAnn`` (COMPLETE or SKIPPED) and a HISTORY
line with the step's parameters. Final products also carry a ``PPRECIPE`` table extension holding
the whole resolved recipe, with its digest in ``PPRCPSHA``, so any stack can be re-run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from potpyri import __version__

__all__ = [
    "RECIPE_EXTNAME",
    "digest",
    "embed_recipe",
    "read_recipe",
    "stamp",
]

RECIPE_EXTNAME = "PPRECIPE"


def digest(obj: Any, length: int = 16) -> str:
    """Stable hex digest of a JSON-serialisable object (sorted keys)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def stamp(header: fits.Header, records: list[dict[str, Any]]) -> None:
    """Write the package version and one numbered record per step into ``header``.

    Records are dicts with ``step``, ``cfg_hash``, ``status`` and ``params``; earlier PP cards are
    replaced, so stamping is idempotent.
    """
    if len(records) > 99:
        raise ValueError("provenance keywords allow at most 99 steps")
    for key in [k for k in header if k.startswith(("PPSTEP", "PPCFG", "PPSTA"))]:
        del header[key]
    header["PPVER"] = (__version__, "potpyri version")
    history = [h for h in header.get("HISTORY", []) if not str(h).startswith("potpyri ")]
    if "HISTORY" in header:
        del header["HISTORY"]
    for line in history:
        header.add_history(line)
    for n, rec in enumerate(records, start=1):
        header[f"PPSTEP{n}"] = (rec["step"], "potpyri step name")
        header[f"PPCFG{n}"] = (rec["cfg_hash"], f"config digest of {rec['step']}")
        header[f"PPSTA{n}"] = (rec["status"], f"{rec['step']} status")
        params = json.dumps(rec.get("params", {}), sort_keys=True, default=str)
        header.add_history(
            f"potpyri {__version__} {rec['step']} v{rec.get('version', '?')}: {params}"
        )


def embed_recipe(hdul: fits.HDUList, recipe_yaml: str) -> None:
    """Append (or replace) the ``PPRECIPE`` extension and set ``PPRCPSHA`` in the primary header."""
    if RECIPE_EXTNAME in hdul:
        del hdul[RECIPE_EXTNAME]
    width = max(1, len(recipe_yaml.encode()))
    column = fits.Column(name="YAML", format=f"{width}A", array=np.array([recipe_yaml.encode()]))
    ext = fits.BinTableHDU.from_columns([column], name=RECIPE_EXTNAME)
    ext.header["PPRCPSHA"] = (digest(recipe_yaml, 64)[:16], "sha256[:16] of the recipe YAML")
    hdul.append(ext)
    hdul[0].header["PPRCPSHA"] = (digest(recipe_yaml, 64)[:16], "sha256[:16] of the PPRECIPE YAML")


def read_recipe(path: str | Path) -> str:
    """The recipe YAML embedded in a product, checked against its digest.

    Raises
    ------
    ValueError
        If the file has no ``PPRECIPE`` extension or the digest does not match.
    """
    path = Path(path)
    with fits.open(path) as hdul:
        if RECIPE_EXTNAME not in hdul:
            raise ValueError(
                f"{path.name}: no {RECIPE_EXTNAME} extension; it is not a final potpyri product"
            )
        ext = hdul[RECIPE_EXTNAME]
        raw = ext.data["YAML"][0]
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        expected = ext.header.get("PPRCPSHA")
    # FITS character columns drop trailing whitespace; recipes are written with one final newline.
    for candidate in (text, text + "\n"):
        if digest(candidate, 64)[:16] == expected:
            return candidate
    raise ValueError(
        f"{path.name}: {RECIPE_EXTNAME} digest mismatch; the embedded recipe was altered"
    )
