"""The QA measurements on images with known answers: Moffat FWHM, catalog offsets, PSF elongation,
and the QC flags they raise."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.qa.measure import (
    detect_sources,
    fit_moffat_profile,
    match_catalog,
    median_star_stamp,
    stamp_sigmas,
)


def _wcs(nx=400, ny=400, scale=0.2):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [nx / 2, ny / 2]
    w.wcs.cdelt = [-scale / 3600, scale / 3600]
    return w


def _field(fwhm=3.0, alpha=3.0, n=60, seed=1, ellip=1.0):
    rng = np.random.default_rng(seed)
    ny = nx = 400
    yy, xx = np.indices((ny, nx))
    gamma = fwhm / (2 * np.sqrt(2 ** (1 / alpha) - 1))
    xs, ys = rng.uniform(20, nx - 20, n), rng.uniform(20, ny - 20, n)
    flux = rng.uniform(2e3, 2e4, n)
    image = rng.normal(0, 5.0, (ny, nx))
    for x, y, f in zip(xs, ys, flux, strict=True):
        r2 = ((xx - x) / ellip) ** 2 + (yy - y) ** 2
        image += f * (alpha - 1) / (np.pi * gamma**2 * ellip) * (1 + r2 / gamma**2) ** (-alpha)
    return image, xs, ys


def test_moffat_fwhm_of_a_field_is_recovered():
    image, xs, ys = _field(fwhm=3.0)
    sources = detect_sources(image, None, fwhm=3.0)
    assert len(sources) >= 40
    stamp, n = median_star_stamp(image, None, sources)
    fit = fit_moffat_profile(stamp)
    assert n >= 10 and fit is not None
    # The stamp is the PSF sampled by pixels (and recentred to the nearest pixel): within 10 %.
    assert fit.fwhm == pytest.approx(3.0, rel=0.10)


def test_elongated_psf_is_seen_by_its_moments():
    round_img, *_ = _field(fwhm=3.0, seed=2)
    long_img, *_ = _field(fwhm=3.0, seed=2, ellip=1.6)
    for image, expect in ((round_img, (0.0, 0.08)), (long_img, (0.25, 0.6))):
        stamp, _ = median_star_stamp(image, None, detect_sources(image, None, fwhm=3.0))
        sx, sy = stamp_sigmas(stamp)
        asym = abs(sx - sy) / max(sx, sy)
        assert expect[0] <= asym <= expect[1], (sx, sy)


def test_catalog_offsets_are_recovered():
    wcs = _wcs()
    rng = np.random.default_rng(3)
    x, y = rng.uniform(10, 390, 80), rng.uniform(10, 390, 80)
    ra, dec = wcs.pixel_to_world_values(x, y)
    # Detections 0.3" east and 0.1" north of the catalog, with 0.02" noise.
    dra, ddec = 0.3, -0.1
    noise = rng.normal(0, 0.02 / 0.2, (2, 80))
    sources = Table(
        {"x": x - dra / 0.2 + noise[0], "y": y + ddec / 0.2 + noise[1], "flux": np.ones(80)}
    )
    match = match_catalog(sources, wcs, ra, dec, radius_arcsec=1.5)
    assert match.n == 80
    assert np.median(match.dra) == pytest.approx(dra, abs=0.01)
    assert np.median(match.ddec) == pytest.approx(ddec, abs=0.01)
    rra, rdec = match.rms()
    assert rra == pytest.approx(0.02, rel=0.3) and rdec == pytest.approx(0.02, rel=0.3)


def test_qc_flags():
    from potpyri.steps.qa import Qa

    from potpyri.qa.flags import qc_flags

    cfg = Qa.Config()
    good = {
        "NPSFSTAR": 30,
        "PSFSIGX": 1.2,
        "PSFSIGY": 1.25,
        "RADISP": 0.05,
        "DEDISP": 0.06,
        "ZPTNSTAR": 40,
        "ZPTMUCER": 0.01,
        "NSOURCES": 500,
    }
    assert (
        qc_flags(
            good,
            {"n_sources": 500, "pixscale": 0.16, "n_catalog_inside": 40, "n_matched": 35},
            30,
            cfg,
            "s",
            cut_px=1.0,
        )
        == []
    )
    bad = {
        "NPSFSTAR": 3,
        "PSFSIGX": 1.0,
        "PSFSIGY": 1.5,
        "RADISP": 0.9,
        "DEDISP": 0.06,
        "ZPTNSTAR": 6,
        "ZPTMUCER": 0.08,
        "NSOURCES": 12,
    }
    flags = qc_flags(
        bad,
        {"n_sources": 12, "pixscale": 0.16, "n_catalog_inside": 13, "n_matched": 0},
        3,
        cfg,
        "s",
        cut_px=1.0,
    )
    text = "\n".join(flags)
    for needle in (
        "PSF from 3 star",
        "PSF x/y widths differ by 33%",
        'RADISP=0.900" = 5.62 px (> dispersion cut 1.0 px)',
        "zero point from 6",
        "ZPTMUCER=0.080",
        "12 source(s)",
        "only 0 of the 13 catalog stars",
    ):
        assert needle in text, (needle, text)
    assert len(flags) == 7 and not any("; " in f for f in flags)  # the runner joins flags with "; "


def test_a_broken_stack_is_reported_not_set_aside(tmp_path):
    import logging

    from astropy.io import fits
    from potpyri.steps.qa import Qa

    from potpyri.framework.runner import RunResult, TaskRecord
    from potpyri.framework.step import Item, StepContext, Task
    from potpyri.report import write_report

    path = tmp_path / "t.r.stk.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)  # no SCI extension
    stack = Item("t", "target", {"inputs": []}, {"stack": str(path)})
    context = StepContext(
        cfg=None, instrument=None, data_path=tmp_path, log=logging.getLogger("test")
    )
    (out,) = Qa(Qa.Config(), context).run(Task("t", [stack]))
    assert out.kind == "qa" and out.products == {}
    assert "QA measurements failed (KeyError" in out.meta["warnings"][0]
    qa_item = Item(out.id, out.kind, out.meta)
    result = RunResult(
        [stack, qa_item],
        [TaskRecord("qa", "t", "ran", 0.1, "; ".join(out.meta["warnings"]))],
        tmp_path / "red",
    )
    html = write_report(result).read_text()
    assert "preview: QA measurements failed (KeyError" in html and "<img" not in html
    assert "[qa] t: QA measurements failed" in html
