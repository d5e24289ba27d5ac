"""What the QA report shows (issue 20): sky axes, north/east arrows and a mask legend on the stack
preview, one FWHM and one source count (the product's header cards), labelled per-frame
astrometry panels, the rejected and excluded input files, and a sweep job's swept values."""

from __future__ import annotations

import json
import re
from html import unescape

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from potpyri.calibration.masks import BAD, SATURATED
from potpyri.framework.runner import RunResult, TaskRecord
from potpyri.qa.compass import north_east
from potpyri.qa.measure import Match
from potpyri.qa.names import DETECTIONS_LABEL, MASK_CLASSES, STAMP_FWHM_LABEL
from potpyri.qa.plots import frames_astrometry_figure, preview_figure
from potpyri.report import _fmt, write_report
from tests.docs.test_qa_report import _parse

SCALE_DEG = 0.2 / 3600


def _wcs(cd: np.ndarray, dec: float = 2.0, n: int = 120) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, dec]
    wcs.wcs.crpix = [n / 2, n / 2]
    wcs.wcs.cd = cd
    return wcs


def _rotated(theta_deg: float) -> np.ndarray:
    """CD of north-up east-left turned by ``theta`` (north tilts towards +x)."""
    c, s = np.cos(np.radians(theta_deg)), np.sin(np.radians(theta_deg))
    return SCALE_DEG * np.array([[-c, s], [s, c]])


@pytest.mark.parametrize(
    ("cd", "dec", "north", "east"),
    [
        (SCALE_DEG * np.diag([-1.0, 1.0]), 2.0, (0, 1), (-1, 0)),  # north up, east left
        (_rotated(30.0), 2.0, (0.5, np.sqrt(3) / 2), (-np.sqrt(3) / 2, 0.5)),
        (_rotated(30.0), 60.0, (0.5, np.sqrt(3) / 2), (-np.sqrt(3) / 2, 0.5)),  # cos(Dec) matters
        (_rotated(90.0), 2.0, (1, 0), (0, 1)),  # north right, east up
        (SCALE_DEG * np.diag([1.0, 1.0]), 2.0, (0, 1), (1, 0)),  # flipped: east right
        (SCALE_DEG * np.diag([-1.0, -1.0]), 30.0, (0, -1), (-1, 0)),  # flipped: north down
    ],
)
def test_north_and_east_follow_the_wcs(cd, dec, north, east):
    got_north, got_east = north_east(_wcs(cd, dec), (120, 120))
    assert got_north == pytest.approx(north, abs=1e-4)
    assert got_east == pytest.approx(east, abs=1e-4)


def _image_with_mask(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    sci = rng.normal(10.0, 1.0, (n, n))
    mask = np.zeros((n, n), np.uint8)
    mask[:, :12] = BAD  # 10 % no data
    mask[60:66, 60:66] = SATURATED  # 36 pixels
    sci[:3, 20:40] = np.nan  # non-finite: no data as well
    return sci, mask


def test_preview_has_sky_axes_arrows_and_a_mask_legend():
    sci, mask = _image_with_mask()
    wcs = _wcs(_rotated(30.0))
    detected = np.array([[30.0, 40.0], [80.0, 90.0]])
    stars = np.array([[30.0, 40.0], [500.0, 20.0]])  # one off the image
    fig = preview_figure(sci, mask, stars, detected, "stack", wcs, "ps1")
    (ax,) = fig.axes
    assert ax.coords[0].get_axislabel().startswith("RA")
    assert ax.coords[1].get_axislabel().startswith("Dec")
    arrows = {a.get_gid(): np.subtract(a.xy, a.xyann) for a in ax.texts if a.get_gid()}
    north, east = north_east(wcs, sci.shape)
    for name, truth in (("compass-N", north), ("compass-E", east)):
        assert arrows[name] / np.hypot(*arrows[name]) == pytest.approx(truth, abs=1e-6), name
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    no_data = (12 * 120 + 3 * 20) / 120**2
    assert f"{MASK_CLASSES[0][2]}: {no_data:.1%} of the image" in legend
    assert f"{MASK_CLASSES[1][2]}: {36 / 120**2:.1%} of the image" in legend
    assert f"{DETECTIONS_LABEL} (2)" in legend and "Pan-STARRS stars (1)" in legend
    assert not any(MASK_CLASSES[2][2] in t for t in legend)  # no such pixel: no legend entry


def test_preview_without_a_wcs_keeps_pixel_axes():
    sci, mask = _image_with_mask()
    (ax,) = preview_figure(sci, mask, None, None, "stack", WCS(naxis=2)).axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x [pixel]", "y [pixel]")
    assert not [a for a in ax.texts if a.get_gid()]


def test_every_frame_panel_has_axis_labels():
    rng = np.random.default_rng(1)
    match = Match(*rng.uniform(0, 100, (2, 8)), *rng.normal(0, 0.05, (2, 8)))
    empty = Match(*(np.zeros(0),) * 4)
    fig = frames_astrometry_figure(
        [("a.fits", match, (100, 120)), ("b.fits", empty, (100, 120))], "t"
    )
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2
    for ax in visible:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x [pixel]", "y [pixel]")


def _stack_rows(html: str, stack_name: str) -> list[tuple[str, str, str]]:
    """(quantity, keyword, value) rows of the values table of one stack's section."""
    section = html.split(f">{stack_name}</h3>", 1)[1].split("<h3", 1)[0]
    table = section.split('<div class="values">', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<tr>(.*?)</tr>", table)
    rows = [tuple(unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)) for row in cells]
    return [row for row in rows if row]  # not the heading


def test_one_fwhm_and_one_source_count_equal_to_the_header(reduced_night):
    html = reduced_night.report.read_text()
    data = json.loads(_parse(reduced_night.report).data)
    (meta,) = data["stacks"].values()
    header = fits.getheader(reduced_night.red / meta["stack"])
    assert "FWHM" in header and "NSOURCES" in header, "the default pipeline writes both"
    rows = _stack_rows(html, meta["stack"])
    fwhm = [r for r in rows if "FWHM" in r[0]]
    assert fwhm == [("seeing FWHM [px]", "FWHM", _fmt(header["FWHM"]))], fwhm
    sources = [r for r in rows if "source" in r[0]]
    by_key = {r[1]: r for r in sources}
    assert by_key["NSOURCES"][2] == str(header["NSOURCES"])
    # The qa step's own detections are a different number, with a name of its own.
    detections = [r for r in sources if r[1] == "qa"]
    assert {r[0] for r in detections} <= {
        DETECTIONS_LABEL,
        "QA point sources matched to the catalog",
    }
    assert len({r[0] for r in rows}) == len(rows), "two rows share a name"
    for quantity, keyword, value in rows:  # every header card shows the header's value
        if keyword != "qa":
            assert value == _fmt(header[keyword]), (quantity, keyword, value)
    # The PSF stamp's own width is named apart from the seeing FWHM (figure and caption).
    text = unescape(html)
    assert f"The {STAMP_FWHM_LABEL} is this stamp's width" in text
    for _, name, label, _ in MASK_CLASSES:  # the caption explains every mask colour
        assert f"{name}: {label}" in text


def _result(tmp_path, records) -> RunResult:
    return RunResult([], records, tmp_path / "red", run_id="20261207T000000-abcdef")


def test_rejected_and_excluded_files_are_listed_with_their_reasons(tmp_path):
    records = [
        TaskRecord("ingest", "cut.fits", "rejected", 0.0, "unreadable (truncated file)"),
        TaskRecord("ingest", "arc.fits", "excluded", 0.0, "a spectrum (MASKTYP=1)"),
    ]
    html = write_report(_result(tmp_path, records)).read_text()
    assert '<a href="#fate-rejected">1 input file(s) rejected</a>' in html
    assert '<a href="#fate-excluded">1 input file(s) excluded</a>' in html
    for name, reason in (("cut.fits", "unreadable (truncated file)"), ("arc.fits", "a spectrum")):
        assert re.search(rf"<td>{re.escape(name)}</td><td>{re.escape(reason)}", html), name
    assert 'id="fate-rejected"' in html and 'id="fate-excluded"' in html


@pytest.mark.parametrize("record_file", ["summary.json", "run.json"])
def test_a_sweep_jobs_values_are_in_the_report_header(tmp_path, record_file):
    log_dir = tmp_path / "multirun" / "0"
    log_dir.mkdir(parents=True)
    sweep = {"photometry.sn_min": 5, "stack.method": "median"}
    (log_dir / record_file).write_text(json.dumps({"sweep": sweep}))
    report = write_report(_result(tmp_path, []), log_dir=log_dir)
    html = report.read_text()
    assert (
        '<p id="sweep"><b>Sweep job:</b> photometry.sn_min = 5, stack.method = median</p>' in html
    )
    assert json.loads(_parse(report).data)["sweep"] == sweep


@pytest.mark.parametrize("record", [None, {"sweep": {}}, [{"step": "ingest"}]])
def test_no_sweep_line_without_swept_values(tmp_path, record):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    if record is not None:
        (log_dir / "summary.json").write_text(json.dumps(record))
    html = write_report(_result(tmp_path, []), log_dir=log_dir).read_text()
    assert 'id="sweep"' not in html
