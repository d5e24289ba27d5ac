"""ingest: find the raw files, read their headers once, classify them, write the file list."""

from __future__ import annotations

import enum
import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path

from potpyri.files import safe_name
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
from potpyri.instruments.classify import (
    describe,
    disambiguate,
    group_keys,
    set_aside_other_target,
    unreadable,
)
from potpyri.instruments.file_list import (
    FileListError,
    file_list_text,
    frame_meta,
    read_file_list,
)

__all__ = ["Ingest"]


class RawMode(str, enum.Enum):
    """Raw file-name mode of the reference CLI (``--proc``): picks ``instrument.raw_format``."""

    raw = "raw"  #: the glob ``instrument.raw_format.raw``
    archive = "archive"  #: the glob ``instrument.raw_format.archive``
    dragons = "dragons"  #: the glob ``instrument.raw_format.dragons``


@register_step("ingest")
class Ingest(Step):
    """Classify every raw file by the instrument's keyword rules and write ``file_list.txt``."""

    @dataclass
    class Config(StepConfig):
        proc: RawMode | None = None  #: raw file-name mode of the reference: raw, archive, dragons
        include_bad: bool = False  #: keep files flagged bad in the reduction
        file_list_name: str = "file_list.txt"  #: name of the file list written in data_path
        no_redo_sort: bool = False  #: reuse data_path's file list as it is (hand edits kept)

    version = "5"  # 5: files it cannot use carry ``rejected`` (reported in the summary)
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
                    f"ingest.no_redo_sort=true but there is no {listing.name} in "
                    f"{self.context.data_path}"
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
        reader, metas = self.context.reader(), []
        for raw in task.inputs:
            meta = self._describe(self.context.data_path / raw.meta["raw"], reader)
            meta["raw"] = raw.meta["raw"]
            set_aside_other_target(meta, self.context.cfg.target)
            if meta["type"] == "BAD" and self.config.include_bad and meta.get("bad_by_header"):
                meta["type"] = "SCIENCE"
            if meta.get("excluded"):
                self.log.warning("%s: %s; set aside", raw.id, meta["excluded"])
            metas.append(meta)
        for note in disambiguate(metas):
            self.log.warning("%s", note)
        outputs = [
            Output(raw.id, "frame", meta) for raw, meta in zip(task.inputs, metas, strict=True)
        ]
        listing = file_list_text(
            (raw.id, meta) for raw, meta in zip(task.inputs, metas, strict=True)
        )
        name = self._file_list_path().name
        outputs.append(
            Output("file_list", "table", {}, {"file_list": Product(name, listing, "data_path")})
        )
        return outputs

    def select(self, items: list[Item]) -> list[Item]:
        return items

    def _describe(self, path: Path, reader) -> dict:
        """Facts of one raw file; an unreadable one comes back as BAD with the reason."""
        try:
            header = reader.header(path)
        except Exception as exc:  # truncated, not FITS, bad compression: never crash the run
            return unreadable(exc)
        meta = describe(header, self.context.instrument)
        meta.update(group_keys(meta))
        return meta

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
        try:
            rows = read_file_list(task.refs[0].meta["text"], path.name)
        except FileListError as exc:
            raise StepFailed(str(exc)) from None
        listed = {row["File"]: row for row in rows}
        on_disk = {raw.id for raw in task.inputs}
        for name in sorted(on_disk - set(listed)):
            self.log.warning("%s: not in %s; left out (ingest.no_redo_sort=true)", name, path.name)
        outputs = []
        for name, row in listed.items():
            if name not in on_disk:
                self.log.warning("%s: listed in %s but not in raw/; skipped", name, path.name)
                continue
            meta = frame_meta(row, name, path.name)
            set_aside_other_target(meta, self.context.cfg.target)
            outputs.append(Output(name, "frame", meta))
        self.log.info("file list %s reused as written: %d frames", path.name, len(outputs))
        return outputs

    def _pattern(self) -> str:
        formats = self.context.instrument.raw_format
        proc = self.config.proc
        return formats.get(RawMode(proc).value, formats.default) if proc else formats.default
