"""``file_list.txt``: one row per raw file with its classification, as the reference writes it.

The list is written for people to read and edit (``ingest.no_redo_sort=true`` reuses a hand-edited
list), so reading it takes each column's extent from its title line rather than splitting on
blanks.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

from astropy.table import Table

from potpyri.instruments.classify import REDUCED_TYPES

__all__ = ["FILE_LIST_COLUMNS", "FileListError", "file_list_text", "frame_meta", "read_file_list"]

#: Columns of file_list.txt, as the reference writes them.
FILE_LIST_COLUMNS = (
    "File",
    "Target",
    "TargType",
    "Filter",
    "Amp",
    "Binning",
    "Exp",
    "Type",
    "CalType",
    "Time",
)


class FileListError(ValueError):
    """A file list whose first line is not the column titles."""


def file_list_text(frames: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """The file list of ``(raw file name, frame facts)`` pairs, right-aligned columns."""
    rows = [
        [name] + [meta.get(k.lower(), "") for k in FILE_LIST_COLUMNS[1:]] for name, meta in frames
    ]
    table = Table(rows=rows, names=FILE_LIST_COLUMNS) if rows else Table(names=FILE_LIST_COLUMNS)
    buffer = io.StringIO()
    table.write(buffer, format="ascii.fixed_width", delimiter=" ", bookend=False)
    return buffer.getvalue()


def read_file_list(text: str, name: str) -> list[dict[str, str]]:
    """Rows of a file list as written by ingest (right-aligned columns), hand edits included.

    Each cell is the text between the end of the previous column's title and the end of its own,
    so empty cells (CalType of a science frame) and values edited within their column are read
    right. Raises :class:`FileListError` naming the file ``name`` when the titles are not the
    file list's.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    titles = [(m.group(), m.end()) for m in re.finditer(r"\S+", lines[0])] if lines else []
    if [t for t, _ in titles] != list(FILE_LIST_COLUMNS):
        raise FileListError(
            f"{name}: the first line must be the column titles {' '.join(FILE_LIST_COLUMNS)}"
        )
    bounds = [0] + [end for _, end in titles[:-1]] + [None]
    return [
        {
            title: line[a:b].strip()
            for (title, _), a, b in zip(titles, bounds[:-1], bounds[1:], strict=True)
        }
        for line in lines[1:]
    ]


def frame_meta(row: dict[str, str], raw_name: str, list_name: str) -> dict[str, Any]:
    """The frame facts of one file-list row; a frame of a type not reduced is marked excluded."""
    meta: dict[str, Any] = {key.lower(): _cell(row[key]) for key in FILE_LIST_COLUMNS[1:]}
    meta["exp"] = float(meta["exp"] or "nan")
    meta["type"] = meta["type"].upper()
    meta["raw"] = f"raw/{raw_name}"
    if meta["type"] not in REDUCED_TYPES:
        meta["excluded"] = f"Type {meta['type']} in {list_name}"
    return meta


def _cell(value: str) -> str:
    """A file-list cell ('' for a cell left empty or written as a masked value)."""
    return "" if value == "--" else value
