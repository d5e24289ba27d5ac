"""ingest: find the raw files, read their headers once, classify them, write the file list."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.table import Table

from potpyri.framework.naming import ut_date
from potpyri.framework.products import safe_name
from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)

__all__ = ["Ingest", "classify", "read_file_list"]

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


@register_step("ingest")
class Ingest(Step):
    """Classify every raw file by the instrument's keyword rules and write ``file_list.txt``."""

    @dataclass
    class Config(StepConfig):
        proc: str | None = None  #: raw file-name mode of the reference: raw, archive, dragons
        include_bad: bool = False  #: keep files flagged bad in the reduction
        file_list_name: str = "file_list.txt"  #: name of the file list written in data_path
        no_redo_sort: bool = (
            False  #: reuse the file list in data_path as it is (hand edits respected)
        )

    version = "4"
    scope = Scope.run
    depends_on = ("instrument", "target")

    def tasks(self, items: list[Item]) -> list[Task]:
        raw_dir = self.context.data_path / "raw"
        if not raw_dir.is_dir():
            raise StepFailed(f"no raw/ folder in {self.context.data_path}")
        pattern = self._pattern()
        files = sorted(
            p for p in raw_dir.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern)
        )
        if not files:
            raise StepFailed(f"no raw files matching {pattern!r} in {raw_dir}")
        # Raw files are identified by name, size and modification time: cheap, and any edit shows.
        inputs = [
            Item(
                p.name,
                "raw",
                {"raw": f"raw/{p.name}"},
                key=f"{p.stat().st_size}:{p.stat().st_mtime_ns}",
            )
            for p in files
        ]
        refs = []
        if self.config.no_redo_sort:
            listing = self._file_list_path()
            if not listing.is_file():
                raise StepFailed(
                    f"ingest.no_redo_sort=true but there is no {listing.name} in {self.context.data_path}"
                )
            # The list's content enters the cache key: an edit re-runs everything downstream of it.
            text = listing.read_text()
            digest = hashlib.sha256(text.encode()).hexdigest()
            refs.append(
                Item(listing.name, "table", {"text": text}, {"file_list": str(listing)}, key=digest)
            )
        return [Task("run", inputs, refs)]

    def run(self, task: Task) -> list[Output]:
        if task.refs:
            return self._from_file_list(task)
        reader = self.context.reader()
        outputs, rows, metas = [], [], []
        for raw in task.inputs:
            meta = describe(
                self.context.data_path / raw.meta["raw"], reader, self.context.instrument
            )
            meta["raw"] = raw.meta["raw"]
            self._filter_target(meta)
            if meta["type"] == "BAD" and self.config.include_bad and meta.get("bad_by_header"):
                meta["type"] = "SCIENCE"
            if meta.get("excluded"):
                self.log.warning("%s: %s; set aside", raw.id, meta["excluded"])
            metas.append(meta)
        for note in _disambiguate(metas):
            self.log.warning("%s", note)
        for raw, meta in zip(task.inputs, metas, strict=True):
            outputs.append(Output(raw.id, "frame", meta))
            rows.append([raw.id] + [meta.get(k.lower(), "") for k in FILE_LIST_COLUMNS[1:]])
        table = (
            Table(rows=rows, names=FILE_LIST_COLUMNS) if rows else Table(names=FILE_LIST_COLUMNS)
        )
        buffer = io.StringIO()
        table.write(buffer, format="ascii.fixed_width", delimiter=" ", bookend=False)
        listing = buffer.getvalue()
        name = self._file_list_path().name
        outputs.append(
            Output("file_list", "table", {}, {"file_list": Product(name, listing, "data_path")})
        )
        return outputs

    def select(self, items: list[Item]) -> list[Item]:
        return items

    def _file_list_path(self) -> Path:
        return self.context.data_path / (
            safe_name(self.config.file_list_name.removesuffix(".txt")) + ".txt"
        )

    def _from_file_list(self, task: Task) -> list[Output]:
        """Frames as the existing file list describes them (the reference's ``--no-redo-sort``).

        Raw files the list does not name are left out, and listed files missing from raw/ are
        reported; both with one log line each. The list itself is not rewritten.
        """
        path = task.refs[0].path("file_list")  # read once, when the task was planned
        listed = {row["File"]: row for row in read_file_list(task.refs[0].meta["text"], path.name)}
        on_disk = {raw.id for raw in task.inputs}
        for name in sorted(on_disk - set(listed)):
            self.log.warning("%s: not in %s; left out (ingest.no_redo_sort=true)", name, path.name)
        outputs = []
        for name, row in listed.items():
            if name not in on_disk:
                self.log.warning("%s: listed in %s but not in raw/; skipped", name, path.name)
                continue
            meta = {key.lower(): _cell(row[key]) for key in FILE_LIST_COLUMNS[1:]}
            meta["exp"] = float(meta["exp"] or "nan")
            meta["type"] = meta["type"].upper()
            meta["raw"] = f"raw/{name}"
            if meta["type"] not in ("SCIENCE", "BIAS", "DARK", "FLAT"):
                meta["excluded"] = f"Type {meta['type']} in {path.name}"
            self._filter_target(meta)
            outputs.append(Output(name, "frame", meta))
        self.log.info("file list %s reused as written: %d frames", path.name, len(outputs))
        return outputs

    def _filter_target(self, meta: dict) -> None:
        """Set aside science frames of other targets than the run's ``target=`` (when given)."""
        wanted = self.context.cfg.target
        if (
            meta["type"] == "SCIENCE"
            and wanted
            and wanted not in meta["target"]
            and not meta.get("excluded")
        ):
            meta["excluded"] = f"target does not contain {wanted!r}"

    def _pattern(self) -> str:
        formats = self.context.instrument.raw_format
        return (
            formats.get(self.config.proc, formats.default) if self.config.proc else formats.default
        )


def read_file_list(text: str, name: str) -> list[dict[str, str]]:
    """Rows of a file list as written by ingest (right-aligned columns), hand edits included.

    Each cell is the text between the end of the previous column's title and the end of its own,
    so empty cells (CalType of a science frame) and values edited within their column are read
    right. Raises :class:`StepFailed` naming the file ``name`` when the titles are not the file list's.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    titles = [(m.group(), m.end()) for m in re.finditer(r"\S+", lines[0])] if lines else []
    if [t for t, _ in titles] != list(FILE_LIST_COLUMNS):
        raise StepFailed(
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


def _cell(value: str) -> str:
    """A file-list cell ('' for a cell left empty or written as a masked value)."""
    return "" if value == "--" else value


def describe(path: Path, reader, instrument) -> dict:
    """Facts of one raw file for the file list; unreadable files come back as BAD with the reason."""
    try:
        header = reader.header(path)
    except Exception as exc:  # truncated, not FITS, bad compression: never crash the run
        return {
            "type": "BAD",
            "excluded": f"unreadable ({type(exc).__name__}: {exc})",
            "target": "",
            "filter": "",
            "exp": 0.0,
        }
    kw = instrument.keywords
    target = str(header.get(kw.target, "")).strip()
    filt = str(_value(header, kw.filter, "")).strip()
    amp = str(_value(header, kw.amp, "1")).strip()
    binning = (
        re.sub(r"\D", "", str(_value(header, kw.binning, "11"))) or "11"
    )  # "2 2", "2,2", "2x2" -> "22"
    try:
        exptime = float(_value(header, kw.exptime, "nan"))
    except (TypeError, ValueError):
        exptime = float("nan")
    kind, reason = classify(header, instrument, exptime)
    # Frames this run cannot reduce: another instrument's, or missing a keyword they need.
    instrume = str(header.get("INSTRUME", "")).strip()
    if (
        kind in ("SCIENCE", "FLAT", "DARK", "BIAS")
        and instrume
        and str(instrument.name).lower() not in instrume.lower()
    ):
        kind, reason = (
            "BAD",
            f"from another instrument (INSTRUME={instrume!r}; this run reduces {instrument.name})",
        )
    elif exptime != exptime and (kind in ("FLAT", "DARK") or reason.startswith("exposure")):
        kind, reason = "BAD", _keyword_problem(header, kw.exptime, "exposure time")
    elif kind in ("SCIENCE", "FLAT") and not filt:
        kind, reason = "BAD", _keyword_problem(header, kw.filter, "filter")
    elif kind == "SCIENCE" and ut_date(_value(header, kw.mjd, "")) == "00000000":
        kind, reason = "BAD", _keyword_problem(header, kw.mjd, "date")
    meta = {
        "type": kind,
        "target": target,
        "filter": filt,
        "amp": amp,
        "binning": binning,
        "exp": exptime,
        "time": str(_value(header, kw.mjd, "")),
    }
    if reason:
        meta["excluded"] = reason
        meta["bad_by_header"] = reason.startswith("header flags")
    meta.update(_group_keys(kind, target, filt, amp, binning))
    return meta


def _keyword_problem(header: fits.Header, keyword: str, what: str) -> str:
    if keyword not in header:
        return f"keyword {keyword} ({what}) missing"
    return f"keyword {keyword} ({what}) malformed: {str(header[keyword])[:40]!r}"


def _disambiguate(metas: list[dict]) -> list[str]:
    """Give header values that sanitise to the same file-name form distinct names.

    ``'SN 1'`` and ``'SN/1'`` both become ``SN_1``: left alone they would be stacked together and
    written to one file. Each such value (but one already in that form) gets a digest of its own
    text appended (in ``target`` or ``filter``, and in the group keys), and the change is
    reported. Returns the report lines.
    """
    notes = []
    for key in ("target", "filter"):
        forms: dict[str, set[str]] = {}
        for meta in metas:
            if meta["type"] not in ("BAD", "UNKNOWN", "SPEC") and meta.get(key):
                forms.setdefault(safe_name(meta[key]), set()).add(meta[key])
        # A value already in its file-name form ('r') keeps it; the others ('../r') are renamed.
        clashes = {
            value: f"{form[:57]}_{hashlib.sha256(value.encode()).hexdigest()[:6]}"
            for form, values in forms.items()
            if len(values) > 1
            for value in values
            if value != form
        }
        for value, unique in sorted(clashes.items()):
            notes.append(
                f"{key} {value!r} shares its file-name form with another {key}; named {unique}"
            )
        for meta in metas:
            if meta.get(key) in clashes:
                meta[f"header_{key}"] = meta[key]
                meta[key] = clashes[meta[key]]
                meta.update(
                    _group_keys(
                        meta["type"], meta["target"], meta["filter"], meta["amp"], meta["binning"]
                    )
                )
    return notes


def _group_keys(kind: str, target: str, filt: str, amp: str, binning: str) -> dict[str, str]:
    safe_target, safe_filter = safe_name(target), safe_name(filt)
    keys = {"targtype": "", "caltype": ""}
    if kind == "SCIENCE":
        keys["targtype"] = f"{safe_target}_{safe_filter}_{amp}_{binning}"
    elif kind == "FLAT":
        keys["caltype"] = f"{safe_filter}_{amp}_{binning}"
    elif kind in ("BIAS", "DARK"):
        keys["caltype"] = f"{amp}_{binning}"
    return keys


def classify(header: fits.Header, instrument, exptime: float) -> tuple[str, str]:
    """The reference's keyword rules: returns ``(type, reason_if_excluded)``."""
    rules = instrument.classify
    if _matches(header, rules.bad):
        return "BAD", "header flags the file bad (" + _describe_rule(header, rules.bad) + ")"
    if _matches(header, rules.spec):
        return "SPEC", "spectroscopic frame"
    # Calibration rules first: they are the more specific (a flat often also looks like science).
    for kind in ("bias", "dark", "flat"):
        if getattr(instrument, kind) and _matches(header, getattr(rules, kind)):
            return kind.upper(), ""
    if _matches(header, rules.science):
        if not exptime >= instrument.min_exptime:
            return (
                "BAD",
                f"exposure {exptime:g} s shorter than the minimum {instrument.min_exptime:g} s",
            )
        return "SCIENCE", ""
    return "UNKNOWN", "matches no classification rule"


def _matches(header: fits.Header, rule) -> bool:
    if not rule.keywords:
        return False
    # The reference's rule: the value appears in the header's value, case-insensitively
    # (MMIRS darks: OBJECT contains 'ark'; DEIMOS flats: OBSTYPE contains 'flat').
    return all(
        str(value).strip().lower() in str(header.get(key, "")).strip().lower()
        for key, value in zip(
            rule.keywords, rule["values"], strict=False
        )  # .values is a dict method
    )


def _describe_rule(header: fits.Header, rule) -> str:
    return ", ".join(f"{k}={header.get(k)!s}" for k in rule.keywords)


def _value(header: fits.Header, keyword: str, default):
    """A header value; a keyword starting with a digit is a literal (the reference's convention)."""
    if keyword and keyword[0].isdigit():
        return keyword
    return header.get(keyword, default)
