"""The QA report of a reduced simulated night: every file it references exists, the values it
shows are the products' header values, every science frame is accounted for, and sections whose
steps did not run say so instead of failing."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from astropy.io import fits


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.data = ""
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name):
                self.refs.append(attrs[name])
        self._in_data = tag == "script" and attrs.get("id") == "qa-data"

    def handle_data(self, data):
        if self._in_data:
            self.data += data

    def handle_endtag(self, tag):
        self._in_data = False


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text())
    return parser


def test_every_file_the_report_references_exists(reduced_night):
    report = reduced_night.report
    assert report.is_file(), f"no report at {report}; stderr:\n{reduced_night.stderr[-2000:]}"
    refs = _parse(report).refs
    local = [r for r in refs if not r.startswith(("#", "http:", "https:"))]
    images = [r for r in local if r.endswith(".png")]
    stacks = sorted(reduced_night.red.glob("*.stk.fits"))
    assert stacks and len(images) >= 2 * len(stacks), (
        f"expected preview and PSF figures per stack, got {images}"
    )
    for ref in local:
        target = (report.parent / ref).resolve()
        assert target.is_file(), f"index.html references {ref}, which does not exist"
    for png in images:  # each figure is also a file of its own under red/qa
        path = report.parent / png
        assert path.parent == report.parent and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert any(r.endswith("recipe.yaml") for r in local), "no link to the run's recipe"


def test_values_shown_are_the_header_values(reduced_night):
    data = json.loads(_parse(reduced_night.report).data)
    stacks = {p.name: p for p in reduced_night.red.glob("*.stk.fits")}
    assert len(data["stacks"]) == len(stacks)
    for meta in data["stacks"].values():
        header = fits.getheader(stacks[meta["stack"]])
        assert meta["header"], meta["stack"]
        for key, value in meta["header"].items():
            assert header[key] == value, (
                f"{meta['stack']}: report shows {key}={value}, header has {header[key]}"
            )
        assert header["NCOMBINE"] == len(meta["inputs"])
        html = reduced_night.report.read_text()
        assert f'<td>NCOMBINE</td><td class="num">{header["NCOMBINE"]}</td>' in html


def test_every_science_frame_is_accounted_for(reduced_night):
    data = json.loads(_parse(reduced_night.report).data)
    science = sorted(r["file"] for r in reduced_night.night.frames if r["kind"] == "science")
    rows = {r["frame"]: r for r in data["frames"]}
    for name in science:
        assert name in rows, f"science frame {name} missing from the frame table"
        assert rows[name]["fate"].startswith("kept"), rows[name]
    for row in rows.values():
        assert re.match(r"(kept|set aside|excluded|not stacked)", row["fate"]), row


def test_missing_steps_are_reported_not_crashed(reduced_night):
    html = reduced_night.report.read_text()
    data = json.loads(_parse(reduced_night.report).data)
    for meta in data["stacks"].values():
        if "ZPTMAG" not in meta["header"]:
            assert "step zeropoint did not run" in meta["missing"]["zeropoint"]
            assert "zeropoint: not available (step zeropoint did not run)" in html


def test_qc_flags_reach_the_summary_log_and_report(reduced_night):
    data = json.loads(_parse(reduced_night.report).data)
    qa_notes = [r["note"] for r in data["records"] if r["step"] == "qa" and r["note"]]
    for note in qa_notes:  # every flag the qa step raised is in the report, the log and the summary
        for flag in note.split("; "):
            assert f"[qa] {flag}" in data["flags"]
            assert flag in (reduced_night.run_dir / "potpyri.log").read_text()
    if qa_notes:
        assert "warnings (QC flags" in reduced_night.stderr


def test_frame_seeing_in_the_report_matches_the_truth(reduced_night):
    """The per-frame FWHM the report shows (Moffat fit of a median star stamp, pixel-sampled) is the
    simulated seeing within 15 %."""
    from astropy.table import Table

    truth = Table.read(reduced_night.night.truth_dir / "frames.ecsv")
    seeing = {
        row["file"]: float(row["seeing_fwhm_px"]) for row in truth if row["kind"] == "science"
    }
    rows = {r["frame"]: r for r in json.loads(_parse(reduced_night.report).data)["frames"]}
    for name, fwhm in seeing.items():
        shown = rows[name]["fwhm"]
        assert shown is not None, f"{name}: no FWHM in the report"
        assert abs(shown / fwhm - 1) < 0.15, (
            f"{name}: report FWHM {shown:.2f} px, truth {fwhm:.2f} px"
        )
