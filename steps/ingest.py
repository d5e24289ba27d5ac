"""ingest: find the raw files, read their headers once, classify them, write the file list."""

from __future__ import annotations

import fnmatch
import io
import re
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.table import Table

from potpyri.instruments import get_reader
from potpyri.products import safe_name
from potpyri.step import (
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

__all__ = ["Ingest", "classify"]

#: Columns of file_list.txt, as the reference writes them.
FILE_LIST_COLUMNS = ("File", "Target", "TargType", "Filter", "Amp", "Binning", "Exp", "Type", "CalType", "Time")


@register_step("ingest")
class Ingest(Step):
    """Classify every raw file by the instrument's keyword rules and write ``file_list.txt``."""

    @dataclass
    class Config(StepConfig):
        proc: str | None = None  #: raw file-name mode of the reference: raw, archive, dragons
        include_bad: bool = False  #: keep files flagged bad in the reduction
        file_list_name: str = "file_list.txt"  #: name of the file list written in data_path

    version = "1"
    scope = Scope.run
    depends_on = ("instrument", "target")

    def tasks(self, items: list[Item]) -> list[Task]:
        raw_dir = self.context.data_path / "raw"
        if not raw_dir.is_dir():
            raise StepFailed(f"no raw/ folder in {self.context.data_path}")
        pattern = self._pattern()
        files = sorted(p for p in raw_dir.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern))
        if not files:
            raise StepFailed(f"no raw files matching {pattern!r} in {raw_dir}")
        # Raw files are identified by name, size and modification time: cheap, and any edit shows.
        inputs = [Item(p.name, "raw", {"raw": f"raw/{p.name}"}, key=f"{p.stat().st_size}:{p.stat().st_mtime_ns}")
                  for p in files]
        return [Task("run", inputs)]

    def run(self, task: Task) -> list[Output]:
        reader = get_reader(self.context.instrument.reader)(self.context.instrument)
        target_filter = self.context.cfg.target
        outputs, rows = [], []
        for raw in task.inputs:
            meta = describe(self.context.data_path / raw.meta["raw"], reader, self.context.instrument)
            meta["raw"] = raw.meta["raw"]
            if meta["type"] == "SCIENCE" and target_filter and target_filter not in meta["target"]:
                meta["excluded"] = f"target does not contain {target_filter!r}"
            if meta["type"] == "BAD" and self.config.include_bad and meta.get("bad_by_header"):
                meta["type"] = "SCIENCE"
            if meta.get("excluded"):
                self.log.warning("%s: %s; set aside", raw.id, meta["excluded"])
            outputs.append(Output(raw.id, "frame", meta))
            rows.append([raw.id] + [meta.get(k.lower(), "") for k in FILE_LIST_COLUMNS[1:]])
        table = Table(rows=rows, names=FILE_LIST_COLUMNS) if rows else Table(names=FILE_LIST_COLUMNS)
        buffer = io.StringIO()
        table.write(buffer, format="ascii.fixed_width", delimiter=" ", bookend=False)
        listing = buffer.getvalue()
        name = safe_name(self.config.file_list_name.removesuffix(".txt")) + ".txt"
        outputs.append(Output("file_list", "table", {}, {"file_list": Product(name, listing, "data_path")}))
        return outputs

    def select(self, items: list[Item]) -> list[Item]:
        return items

    def _pattern(self) -> str:
        formats = self.context.instrument.raw_format
        return formats.get(self.config.proc, formats.default) if self.config.proc else formats.default


def describe(path: Path, reader, instrument) -> dict:
    """Facts of one raw file for the file list; unreadable files come back as BAD with the reason."""
    try:
        header = reader.header(path)
    except Exception as exc:  # truncated, not FITS, bad compression: never crash the run
        return {"type": "BAD", "excluded": f"unreadable ({type(exc).__name__}: {exc})", "target": "",
                "filter": "", "exp": 0.0}
    kw = instrument.keywords
    target = str(header.get(kw.target, "")).strip()
    filt = str(_value(header, kw.filter, "")).strip()
    amp = str(_value(header, kw.amp, "1")).strip()
    binning = re.sub(r"\D", "", str(_value(header, kw.binning, "11"))) or "11"  # "2 2", "2,2", "2x2" -> "22"
    try:
        exptime = float(_value(header, kw.exptime, "nan"))
    except (TypeError, ValueError):
        exptime = float("nan")
    kind, reason = classify(header, instrument, exptime)
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
    safe_target, safe_filter = safe_name(target), safe_name(filt)
    if kind == "SCIENCE":
        meta["targtype"] = f"{safe_target}_{safe_filter}_{amp}_{binning}"
    elif kind == "FLAT":
        meta["caltype"] = f"{safe_filter}_{amp}_{binning}"
    elif kind in ("BIAS", "DARK"):
        meta["caltype"] = f"{amp}_{binning}"
    meta["targtype"] = meta.get("targtype", "")
    meta["caltype"] = meta.get("caltype", "")
    return meta


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
            return "BAD", f"exposure {exptime:g} s shorter than the minimum {instrument.min_exptime:g} s"
        return "SCIENCE", ""
    return "UNKNOWN", "matches no classification rule"


def _matches(header: fits.Header, rule) -> bool:
    if not rule.keywords:
        return False
    # The reference's rule: the value appears in the header's value, case-insensitively
    # (MMIRS darks: OBJECT contains 'ark'; DEIMOS flats: OBSTYPE contains 'flat').
    return all(
        str(value).strip().lower() in str(header.get(key, "")).strip().lower()
        for key, value in zip(rule.keywords, rule["values"], strict=False)  # .values is a dict method
    )


def _describe_rule(header: fits.Header, rule) -> str:
    return ", ".join(f"{k}={header.get(k)!s}" for k in rule.keywords)


def _value(header: fits.Header, keyword: str, default):
    """A header value; a keyword starting with a digit is a literal (the reference's convention)."""
    if keyword and keyword[0].isdigit():
        return keyword
    return header.get(keyword, default)
