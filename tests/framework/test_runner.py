"""The runner on a tiny night: products, provenance, caching, skipping, failures."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.framework.step import STEPS
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.framework.tiny import BIAS_ADU, GAIN, SEARCHPATH, TOY_STEPS, write_tiny_night


def _run(data_path, *overrides):
    cfg = compose_config(
        SEARCHPATH, "instrument=toycam", f"data_path={data_path}", TOY_STEPS, *overrides
    )
    validate(cfg)
    return run_pipeline(cfg, recipe_yaml="data_path: x\n")


def _counts(result, step):
    return result.by_status(step)


def test_tiny_night_end_to_end(tmp_path):
    write_tiny_night(tmp_path, n_frames=3)
    result = _run(tmp_path)
    assert _counts(result, "ingest") == {"ran": 1}
    assert _counts(result, "process") == {"ran": 3}
    assert _counts(result, "stack") == {"ran": 1}
    listing = (tmp_path / "file_list.txt").read_text().splitlines()
    assert listing[0].split()[:3] == ["File", "Target", "TargType"] and len(listing) == 1 + 3
    stacks = list((tmp_path / "red").glob("*.stk.fits"))
    assert [s.name for s in stacks] == ["field1.r.20240619.1.11.stk.fits"]
    with fits.open(stacks[0]) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "MASK", "ERR", "COVERAGE", "PPRECIPE"]
        head = hdul[0].header
        steps = ["ingest", "process", "cosmic_rays", "satellites", "skysub", "resample", "stack"]
        assert [head[f"PPSTEP{n}"] for n in range(1, 8)] == steps
        assert all(head[f"PPSTA{n}"] == "COMPLETE" for n in range(1, 8))
        assert head["PPVER"] and len(head["PPCFG7"]) == 16
        assert any(f"stack v{STEPS['stack'].version}" in str(h) for h in head["HISTORY"])
        assert head["NCOMBINE"] == 3 and head["EXPTIME"] == 40.0
        # The star at (30.3, 40.7) gives 2000 e-/s: the stack is in e-/s, bias, gain, sky removed.
        box = (slice(33, 49), slice(22, 39))
        flux = hdul["SCI"].data[box].sum()
        flux_err = np.sqrt((hdul["ERR"].data[box] ** 2).sum())
        assert abs(flux - 2000.0) < 5 * flux_err + 20.0
    workspace = sorted(p.name for p in (tmp_path / "red" / "workspace").iterdir())
    assert len(workspace) == 9 and all(
        n.startswith("field1.r.20240619.1.11.toy0") for n in workspace
    )
    assert sum(n.endswith("_reproj.fits") for n in workspace) == 3
    assert sum(n.endswith("_bkg.fits") for n in workspace) == 3


def test_process_converts_to_electrons_with_honest_uncertainty(tmp_path):
    write_tiny_night(tmp_path, n_frames=1)
    _run(tmp_path, "pipeline.steps=[ingest,process]")
    (frame,) = (tmp_path / "red" / "workspace").iterdir()
    with fits.open(frame) as hdul:
        sci, err = hdul["SCI"].data, hdul["UNCERT"].data
        assert sci.shape == (128, 120)  # overscan columns trimmed
        corner = (slice(0, 20), slice(100, 120))  # empty sky: 100 e-/s × 10 s
        pull = (sci[corner] - 1000.0) / err[corner]
        assert abs(pull.mean()) < 0.15 and 0.85 < pull.std() < 1.15
    assert BIAS_ADU and GAIN  # the night's constants the expectation above is built from


def test_second_run_reuses_everything(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    first = _run(tmp_path)
    stack = next((tmp_path / "red").glob("*.stk.fits")).read_bytes()
    second = _run(tmp_path)
    assert {r.status for r in second.records} - {"empty"} == {"cached"}
    assert next((tmp_path / "red").glob("*.stk.fits")).read_bytes() == stack
    assert len(first.records) == len(second.records)


def test_downstream_change_reruns_only_downstream(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    _run(tmp_path)
    again = _run(tmp_path, "stack.method=mean")
    assert _counts(again, "process") == {"cached": 2}
    assert _counts(again, "cosmic_rays") == {"cached": 2}
    assert _counts(again, "stack") == {"ran": 1}


def test_disabled_step_is_recorded_skipped(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    result = _run(tmp_path, "cosmic_rays.enabled=false")
    assert _counts(result, "cosmic_rays") == {"skipped": 1}
    with fits.open(next((tmp_path / "red").glob("*.stk.fits"))) as hdul:
        head = hdul[0].header
        steps = {head[f"PPSTEP{n}"]: head[f"PPSTA{n}"] for n in range(1, 8)}
    assert steps == {
        "ingest": "COMPLETE",
        "process": "COMPLETE",
        "cosmic_rays": "SKIPPED",
        "satellites": "COMPLETE",
        "skysub": "COMPLETE",
        "resample": "COMPLETE",
        "stack": "COMPLETE",
    }


def test_bad_files_are_listed_and_the_run_goes_on(tmp_path):
    paths = write_tiny_night(tmp_path, n_frames=3)
    paths[0].write_bytes(paths[0].read_bytes()[:4000])  # truncated
    (tmp_path / "raw" / "notfits.fits").write_text("this is not FITS")
    flagged = tmp_path / "raw" / "toyflag.fits"
    with fits.open(paths[1]) as hdul:
        hdul[0].header["QUALITY"] = "bad"
        hdul.writeto(flagged)
    result = _run(tmp_path)
    listing = (tmp_path / "file_list.txt").read_text()
    assert listing.count("BAD") == 3
    assert _counts(result, "process") == {"ran": 2}
    frames = {i.id: i for i in result.items if i.kind == "frame"}
    assert "unreadable" in frames["notfits.fits"].meta["excluded"]
    assert "header flags" in frames["toyflag.fits"].meta["excluded"]
    with fits.open(next((tmp_path / "red").glob("*.stk.fits"))) as hdul:
        assert hdul[0].header["NCOMBINE"] == 2


def test_empty_folder_stops_with_one_error(tmp_path):
    (tmp_path / "raw").mkdir()
    result = _run(tmp_path)
    assert [(r.step, r.status) for r in result.records] == [("ingest", "failed")]
    assert "no raw files matching '*.fits'" in result.records[0].note


def test_names_from_headers_cannot_escape_red(tmp_path):
    write_tiny_night(tmp_path, n_frames=2, targets=("../../etc/x y",))
    _run(tmp_path)
    produced = [p for p in tmp_path.rglob("*.fits") if "raw" not in p.parts]
    assert produced and all(tmp_path / "red" in p.parents for p in produced)
    assert any(p.name.startswith("etc_x_y.r.") for p in produced)


def test_summary_tables_show_every_step_and_frame(tmp_path):
    from rich.console import Console

    from potpyri.framework.summary import frame_table, summary_table

    write_tiny_night(tmp_path, n_frames=2)
    result = _run(tmp_path, "cosmic_rays.enabled=false")
    console = Console(width=200, record=True)
    console.print(summary_table(result))
    console.print(frame_table(result))
    text = console.export_text()
    for word in (
        "ingest",
        "process",
        "cosmic_rays",
        "stack",
        "toy0000.fits",
        "toy0001.fits",
        "skipped",
    ):
        assert word in text
    assert "ran" in text.split("toy0000.fits")[1].splitlines()[0]


def test_nir_sky_from_dithers_removes_a_changing_sky(tmp_path):
    """A toy NIR night: the sky pattern (a gradient) is the same in every frame, its level
    changes; stars move between dithers. nirsky must remove the pattern, keep the stars."""

    rng = np.random.default_rng(5)
    raw = tmp_path / "raw"
    raw.mkdir()
    yy, xx = np.mgrid[0:128, 0:120]  # toycam: 120 data columns, then 8 of overscan
    pattern = 1.0 + 0.2 * xx / 120
    for n, (dx, level) in enumerate([(0, 3000), (15, 3300), (30, 2800), (45, 3100)]):
        electrons = level * pattern + 5000 * np.exp(-((xx - 40 - dx) ** 2 + (yy - 64) ** 2) / 8)
        _write_toycam(raw, n, rng.poisson(electrons), "nir1", "J")
    result = _run(
        tmp_path,
        "instrument.wavelength=NIR",
        "cosmic_rays.enabled=false",
        "skysub.enabled=false",
        "pipeline.steps=[ingest,process,nirsky]",
    )
    assert result.by_status("nirsky") == {"ran": 1}
    frame = next(i for i in result.items if i.id == "toy0000.fits")
    with fits.open(frame.path("image")) as hdul:
        sci, err = hdul["SCI"].data, hdul["UNCERT"].data
    away = (slice(0, 40), slice(None))  # far from the star track
    assert abs(np.mean(sci[away][:, :20]) - np.mean(sci[away][:, -20:])) < 5 * np.median(
        err[away]
    ) / np.sqrt(400)
    assert sci[64, 40] > 3000  # the star survives


def test_fringes_are_fitted_and_removed(tmp_path):
    """z-band frames share a fringe pattern whose amplitude follows each frame's sky; stars move."""

    rng = np.random.default_rng(11)
    raw = tmp_path / "raw"
    raw.mkdir()
    yy, xx = np.mgrid[0:128, 0:120]
    fringes = np.sin(xx / 3.0) * np.cos(yy / 4.0)
    for n, (dx, sky) in enumerate([(0, 2000), (20, 2400), (40, 1800), (60, 2200)]):
        electrons = sky * (1 + 0.15 * fringes) + 8000 * np.exp(
            -((xx - 20 - dx) ** 2 + (yy - 64) ** 2) / 8
        )
        _write_toycam(raw, n, rng.poisson(electrons), "f1", "z")
    result = _run(tmp_path, "cosmic_rays.enabled=false", "pipeline.steps=[ingest,process,fringe]")
    assert result.by_status("fringe") == {"ran": 1}
    frame = next(i for i in result.items if i.id == "toy0001.fits")
    with fits.open(frame.path("image")) as hdul:
        sci, err, scale = hdul["SCI"].data, hdul["UNCERT"].data, hdul[0].header["FRINGSCL"]
    rows = slice(0, 40)  # away from the star track
    before = 2400 * 0.15 * fringes[rows]
    residual = sci[rows] - np.median(sci[rows])
    assert np.std(residual) < 1.2 * np.median(
        err[rows]
    )  # fringes (±360 e-) gone to the noise (~50 e-)
    assert np.std(before) > 3 * np.median(err[rows]) and scale > 0


def test_odd_files_are_set_aside_with_their_reason(tmp_path):
    """A frame with no OBSTYPE and a file from another instrument: each one line, the run goes
    on."""
    paths = write_tiny_night(tmp_path, n_frames=2)
    with fits.open(paths[0]) as hdul:
        del hdul[0].header["OBSTYPE"]
        hdul.writeto(tmp_path / "raw" / "toynotype.fits")
    foreign = fits.HDUList(
        [
            fits.PrimaryHDU(header=fits.Header({"INSTRUME": "GMOS-N", "OBSTYPE": "BIAS"})),
            fits.ImageHDU(np.zeros((4, 4), np.uint16), name="SCI"),
        ]
    )
    foreign.writeto(tmp_path / "raw" / "N20240618S0001.fits")
    result = _run(tmp_path)
    frames = {i.id: i for i in result.items if i.kind == "frame"}
    assert frames["toynotype.fits"].meta["excluded"] == "matches no classification rule"
    assert frames["N20240618S0001.fits"].meta["excluded"] == "matches no classification rule"
    assert result.by_status("stack") == {"ran": 1}


def test_science_without_calibrations_is_reduced_with_a_warning(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    result = _run(tmp_path, "instrument.bias=true", "cosmic_rays.enabled=false")
    notes = [r.note for r in result.records if r.step == "process"]
    assert notes == ["bias correction skipped (no master)"] * 2
    frame = next(i for i in result.items if i.id == "toy0000.fits")
    with fits.open(frame.path("image")) as hdul:
        assert hdul[0].header["BIASCOR"] == "SKIPPED"


def _write_toycam(raw, n: int, electrons, target: str, band: str) -> None:
    """Raw toycam frame ``n`` (10 s) from detected electrons: gain 2, bias 500 ADU, 8 overscan
    columns."""
    adu = np.hstack([electrons / 2.0 + 500, np.full((128, 8), 500.0)]).astype(np.float32)
    head = fits.Header(
        {
            "OBJECT": target,
            "OBSTYPE": "object",
            "FILTER": band,
            "EXPTIME": 10.0,
            "MJD-OBS": 60480.1 + n / 1000,
        }
    )
    fits.PrimaryHDU(adu, head).writeto(raw / f"toy0{n:03d}.fits")
