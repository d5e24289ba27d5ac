"""photometry + zeropoint on a simulated GMOS-N night (one r frame), against the simulator's truth.

The measured zero point is compared with the truth zero point of the exposure plus
2.5 log10(median true flat response): the pipeline's flats are normalised to a median of 1.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.compare import truth_zeropoint
from potpyri.sim.night import simulate_night
from tests.conftest import compose_config

STEPS = "[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub,stack,photometry,zeropoint]"


def _run(folder, cache_dir):
    cfg = compose_config(
        "instrument=gmos",
        f"data_path={folder}",
        f"pipeline.steps={STEPS}",
        f"catalog.cache_dir={cache_dir}",
        "catalog.offline=true",
        "photometry.sn_min=5",
    )
    validate(cfg)
    return run_pipeline(cfg)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmos_phot")
    sim = simulate_night("gmos-n", folder, seed=3, frames=1, bands=["r"], rejects=False)
    result = _run(folder, folder / "catalog_cache")
    (stack,) = (folder / "red").glob("*.stk.fits")
    frames = Table.read(sim.truth_dir / "frames.ecsv")
    row = frames[frames["kind"] == "science"][0]
    zp_truth = truth_zeropoint(sim.truth_dir, [str(row["file"])])[0]
    return folder, result, stack, row, zp_truth


def test_products_tables_and_keywords(night):
    folder, result, stack, _, _ = night
    assert result.by_status("photometry") == {"ran": 1} and result.by_status("zeropoint") == {
        "ran": 1
    }
    with fits.open(stack) as hdul:
        names = [h.name for h in hdul]
        header = hdul[0].header
        psfphot = Table(hdul["PSFPHOT"].data)
        assert hdul["PSF"].data.ndim == 2 and hdul["RESIDUAL"].data.shape == hdul["SCI"].data.shape
    for ext in ("APPPHOT", "PSFSTARS", "PSF", "PSFPHOT", "RESIDUAL", "ZPSTARS"):
        assert ext in names
    for key in (
        "FWHM",
        "SKYSIG",
        "ZPTMAG",
        "ZPTMUCER",
        "ZPTNSTAR",
        "M3SIGMA",
        "M5SIGMA",
        "M10SIGMA",
    ):
        assert key in header
    assert header["M3SIGMA"] > header["M5SIGMA"] > header["M10SIGMA"]
    assert {"x_fit", "y_fit", "flux_fit", "flux_err", "mag", "mag_err", "ra", "dec"} <= set(
        psfphot.colnames
    )
    stem = stack.name.removesuffix(".stk.fits")
    for suffix in (
        ".apphot.ecsv",
        ".psfphot.ecsv",
        ".zpstars.ecsv",
        ".reg",
        ".epsf.png",
        ".zp.png",
    ):
        assert (folder / "red" / f"{stem}{suffix}").stat().st_size > 0
    assert "mag" in Table.read(folder / "red" / f"{stem}.psfphot.ecsv").colnames


def test_zeropoint_matches_truth(night, measured):
    _, _, stack, _, zp_truth = night
    header = fits.getheader(stack)
    measured(
        f"ZP {header['ZPTMAG']:.4f} +- {header['ZPTMUCER']:.4f} ({header['ZPTNSTAR']} stars), "
        f"truth {zp_truth:.4f}, diff {header['ZPTMAG'] - zp_truth:+.4f}"
    )
    # This small field has ~20 usable PS1 stars (ZPTMUCER ~0.015): the truth must lie within the
    # quoted uncertainty (2 sigma), and the quoted uncertainty must be small.
    assert abs(header["ZPTMAG"] - zp_truth) <= max(0.01, 2 * header["ZPTMUCER"]), (
        header["ZPTMAG"],
        zp_truth,
    )
    assert header["ZPTMUCER"] < 0.03 and header["ZPTNSTAR"] >= 10


def test_fwhm_matches_truth_seeing(night, measured):
    _, _, stack, row, _ = night
    fwhm, truth = fits.getheader(stack)["FWHM"], row["seeing_fwhm_px"]
    measured(f"FWHM {fwhm:.3f} px, truth {truth:.3f} px ({fwhm / truth - 1:+.2%})")
    assert fwhm == pytest.approx(truth, rel=0.03)


def _truth_matches(night):
    """PSFPHOT rows matched (< 1 px) to isolated truth stars (no other source within 8 px)."""
    from astropy.wcs import WCS
    from scipy.spatial import cKDTree

    folder, _, stack, row, _ = night
    stars = Table.read(folder / "truth" / "stars.ecsv")
    wcs = WCS(fits.Header.fromstring(str(row["wcs"])))
    x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0)
    with fits.open(stack) as hdul:
        psf = Table(hdul["PSFPHOT"].data)
        ny, nx = hdul["SCI"].data.shape
    tree = cKDTree(np.transpose([x, y]))
    neighbour = tree.query(np.transpose([x, y]), k=2)[0][:, 1]
    isolated = (
        (neighbour > 8)
        & ~np.asarray(stars["is_galaxy"])
        & (x > 20)
        & (y > 20)
        & (x < nx - 21)
        & (y < ny - 21)
    )
    dist, j = tree.query(np.transpose([psf["x_fit"], psf["y_fit"]]))
    keep = (dist < 1.0) & isolated[j]
    return stars, isolated, psf[keep], np.asarray(stars[f"mag_{row['band']}"])[j[keep]], j[keep]


def test_psf_photometry_of_isolated_stars_matches_truth(night, measured):
    """Total PSF fluxes with the truth zero point within 0.01 mag; calibrated magnitudes within
    the zero point's own uncertainty; errors that describe the scatter (pulls 1 +- 0.2)."""
    _, psf, true_mag = _truth_matches(night)[1:4]
    zp_truth, header = night[4], fits.getheader(night[2])
    bright = (psf["snr"] > 50) & (psf["snr"] < 300)  # brighter stars saturate on this night
    instrumental = np.median(psf["mag_inst"][bright] + zp_truth - true_mag[bright])
    assert abs(instrumental) <= 0.01, instrumental
    offset = np.median(psf["mag"][bright] - true_mag[bright])
    assert abs(offset) <= max(0.01, abs(instrumental) + 2 * header["ZPTMUCER"]), offset
    useful = (psf["snr"] > 5) & (psf["snr"] < 200)
    pulls = (psf["mag"][useful] - offset - true_mag[useful]) / psf["mag_err"][useful]
    core = pulls[np.abs(pulls - np.median(pulls)) < 5]
    measured(
        f"S/N 50-300: instrumental {instrumental:+.4f}, calibrated {offset:+.4f} mag; "
        f"S/N 5-200 pull sigma {np.std(core):.3f} ({len(core)} stars)"
    )
    assert abs(np.std(core) - 1) < 0.2, np.std(core)


def test_offline_empty_cache_names_catalog_and_cone_and_keeps_photometry(night, tmp_path):
    folder, _, stack, _, _ = night
    result = _run(folder, tmp_path / "empty_cache")
    (failed,) = [r for r in result.records if r.step == "zeropoint"]
    assert failed.status == "failed"
    assert (
        "ps1: no cached answer covers the cone ra=" in failed.note
        and "catalog.offline=true" in failed.note
    )
    assert result.by_status("photometry") == {"cached": 1}
    with fits.open(stack) as hdul:  # the published stack still carries the instrumental photometry
        assert "PSFPHOT" in [h.name for h in hdul] and len(hdul["APPPHOT"].data) > 50


def test_sweep_over_sn_min_reuses_the_stack_and_keeps_jobs_apart(night):
    """``potpyri --multirun photometry.sn_min=3,5,10``: the stack comes from the cache and each
    job's photometry lands in its own folder (the single-run products in red/ are untouched)."""
    from tests.framework.helpers import potpyri, statuses, summary

    folder, _, stack, _, _ = night
    before = fits.getheader(stack)["PHOTSNMN"]
    potpyri(
        "--multirun",
        "instrument=gmos",
        f"data_path={folder}",
        f"pipeline.steps={STEPS}",
        f"catalog.cache_dir={folder / 'catalog_cache'}",
        "catalog.offline=true",
        "photometry.sn_min=3,5,10",
        check=True,
        timeout=600,
    )
    (sweep,) = (folder / "red" / "multirun").iterdir()
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    assert len(jobs) == 3
    thresholds, counts = [], []
    for job in jobs:
        records = summary(job)
        assert statuses(records, "stack") == ["cached"]
        (product,) = (job / "products").glob("*.stk.fits")
        header = fits.getheader(product)
        thresholds.append(header["PHOTSNMN"])
        counts.append(header["NSOURCES"])
        assert "ZPTMAG" in header and list((job / "products").glob("*.psfphot.ecsv"))
    assert thresholds == [3.0, 5.0, 10.0] and counts[0] > counts[1] > counts[2]
    assert fits.getheader(stack)["PHOTSNMN"] == before
    # The sweep's summary table: swept value -> the jobs' own source counts and zero points.
    with open(sweep / "sweep_summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["photometry.sn_min"]) for r in rows] == thresholds
    assert [int(r["nsources"]) for r in rows] == counts
    for row, job in zip(rows, jobs, strict=True):
        (product,) = (job / "products").glob("*.stk.fits")
        assert float(row["zeropoint_mag"]) == pytest.approx(fits.getheader(product)["ZPTMAG"])
        assert json.loads((job / "run.json").read_text())["sweep"] == {
            "photometry.sn_min": float(row["photometry.sn_min"])
        }
