"""The night's science frames from their raw headers, chosen as ingest chooses them.

Before any step runs, two things need the science frames of ``DATA_PATH/raw``: the check of a
user's catalog file (which filters it must calibrate) and ``potpyri catalogs fetch`` (which
fields and filters need catalogs). Both read each header once, here, with ingest's rules: the
raw-file pattern of ``ingest.proc``, ``ingest.include_bad`` and the run's ``target``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits
from omegaconf import DictConfig, OmegaConf

from potpyri.instruments.base import open_raw
from potpyri.instruments.classify import describe, set_aside_other_target

__all__ = ["ScienceFrame", "raw_pattern", "science_frames", "unreadable_note"]


@dataclass
class ScienceFrame:
    """One science frame the reduction will use: its file, open HDUs and classification."""

    path: Path
    hdul: fits.HDUList  #: open only while the iteration is at this frame
    header: fits.Header  #: the header the instrument classifies by
    meta: dict[str, Any]  #: :func:`potpyri.instruments.classify.describe`'s facts


def raw_pattern(cfg: DictConfig) -> str:
    """The file-name pattern of the raw files ingest reads (``ingest.proc`` picks one of the
    instrument's ``raw_format`` patterns)."""
    formats = cfg.instrument.raw_format
    proc = OmegaConf.select(cfg, "ingest.proc")
    return formats.get(getattr(proc, "value", proc), formats.default) if proc else formats.default


def science_frames(cfg: DictConfig, reader: Any, notes: list[str]) -> Iterator[ScienceFrame]:
    """Each science frame of ``cfg.data_path``/raw that ingest would reduce, read with the
    instrument's raw-file ``reader``; an unreadable file adds one line to ``notes`` (ingest
    rejects it by name) and is skipped."""
    include_bad = bool(OmegaConf.select(cfg, "ingest.include_bad", default=False))
    target = OmegaConf.select(cfg, "target")
    pattern = raw_pattern(cfg)
    raw = Path(str(cfg.data_path)).expanduser() / "raw"
    for path in sorted(raw.iterdir()):
        if not (path.is_file() and fnmatch.fnmatch(path.name, pattern)):
            continue
        try:
            hdul = open_raw(path)
        except Exception as exc:  # an unreadable file is ingest's to reject, not ours to crash on
            notes.append(unreadable_note(path, exc))
            continue
        with hdul:
            try:
                header = reader.classification_header(hdul)
                meta = describe(header, cfg.instrument)
            except Exception as exc:
                notes.append(unreadable_note(path, exc))
                continue
            if include_bad and meta["type"] == "BAD" and meta.get("bad_by_header"):
                meta.update(type="SCIENCE", excluded="")  # reduced: ingest.include_bad=true
            set_aside_other_target(meta, target)
            if meta["type"] == "SCIENCE" and not meta.get("excluded"):
                yield ScienceFrame(path, hdul, header, meta)


def unreadable_note(path: Path, exc: Exception) -> str:
    """The one-line note for a raw file that could not be read (ingest rejects it by name)."""
    return f"{path.name}: unreadable ({type(exc).__name__}: {exc}); left out"
