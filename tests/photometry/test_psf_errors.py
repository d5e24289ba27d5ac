"""PSF magnitude errors against the simulator's truth (issue #6): the scatter of the pulls
(PSF magnitude with the TRUTH zero point - true magnitude) / reported error of isolated stars must
be 1 +- 0.2 in each S/N bin 5-20, 20-50 and 50-200 (the truth zero point keeps the fitted zero
point's own error out of the pulls).

CI: a GMOS-N night of five dithered frames through astrometry, resample and the (sigclip) stack,
whose pixels share noise (interpolation): the PSF fit errors from ERR alone were too small there
and the PSF-model error too large (see potpyri.photometry.empty_sky); its calibrated PSF
magnitudes of stars with S/N > 50 must match the truth within 0.01 mag (median). Slow:
single-frame stacks of GMOS-N, LRIS-blue and MOSFIRE (PSF-model error 2-5x too large before,
from the big aperture's underestimated noise).

Stars where fewer frames overlap than in the deepest part of the stack (dither borders, chip gaps:
``nframes`` below its maximum, flagged FLAG_PARTIAL) are left out: their PSF is another mixture
of seeings than the ePSF, and their PSF magnitudes err by up to 0.2 mag (measured on LRIS-blue).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy.spatial import cKDTree

from potpyri.sim.compare import truth_zeropoint
from tests.photometry.zp_cases import reduce, simulate

#: One frame: no alignment; cosmic rays must be masked (nothing else rejects them).
ONE_FRAME = "[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub,stack,photometry]"
#: Dithered frames resampled onto one grid; the sigclip stack of 5 rejects the cosmic rays.
RESAMPLED = (
    "[ingest,bias,dark,flat,process,satellites,skysub,astrometry,align,resample_grid,resample,"
    "stack,stack_wcs,photometry,zeropoint]"
)
BINS = ((5, 20), (20, 50), (50, 200))


def pull_scatter(
    folder: Path,
    band: str,
    margin: float,
    isolation: float = 8.0,
    calibrated: bool = False,
    bins=BINS,
) -> dict:
    """``{(lo, hi): (n, scatter, median pull)}`` of the published stack's PSFPHOT (with
    ``calibrated``: ``(n, scatter, median of calibrated mag - true mag)``).

    Truth stars (no other truth source within ``isolation`` px, ``margin`` px inside the stack)
    are placed with the true WCS of the exposure (one frame: its header WCS is not solved) or the
    stack's WCS, re-centred on the median offset of the bright matches, and matched within 1 px.
    The scatter is the standard deviation of the pulls within 5 of their median.
    """
    frames = Table.read(folder / "truth" / "frames.ecsv")
    science = frames[(frames["kind"] == "science") & (frames["band"] == band)]
    zp = truth_zeropoint(folder / "truth", [str(f) for f in science["file"]])[0]
    (stack,) = (folder / "red").glob("*.stk.fits")
    with fits.open(stack) as hdul:
        psf = Table(hdul["PSFPHOT"].data)
        ny, nx = hdul["SCI"].data.shape
        wcs = (
            WCS(fits.Header.fromstring(str(science[0]["wcs"])))
            if len(science) == 1
            else WCS(hdul["SCI"].header)
        )
    stars = Table.read(folder / "truth" / "stars.ecsv")
    x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0, quiet=True)
    near = np.isfinite(x) & np.isfinite(y) & (x > -50) & (y > -50) & (x < nx + 50) & (y < ny + 50)
    stars, x, y = stars[near], x[near], y[near]
    ok = np.isfinite(np.asarray(psf["x_fit"], float)) & np.isfinite(
        np.asarray(psf["mag_inst"], float)
    )
    if "nframes" in psf.colnames:  # the full-coverage part of the stack (FLAG_PARTIAL elsewhere)
        ok &= np.asarray(psf["nframes"]) == np.max(psf["nframes"])
    psf = psf[ok]
    px, py, snr = (np.asarray(psf[c], float) for c in ("x_fit", "y_fit", "snr"))
    tree = cKDTree(np.column_stack([x, y]))
    dist, j = tree.query(np.column_stack([px, py]), distance_upper_bound=10)
    bright = (snr > 30) & np.isfinite(dist)
    x, y = x + np.median(px[bright] - x[j[bright]]), y + np.median(py[bright] - y[j[bright]])
    tree = cKDTree(np.column_stack([x, y]))
    neighbour = tree.query(np.column_stack([x, y]), k=2)[0][:, 1]
    isolated = (neighbour > isolation) & ~np.asarray(stars["is_galaxy"])
    isolated &= (x > margin) & (y > margin) & (x < nx - 1 - margin) & (y < ny - 1 - margin)
    dist, j = tree.query(np.column_stack([px, py]))
    keep = (dist < 1.0) & isolated[j]
    true = np.asarray(stars[f"mag_{band}"], float)[j]
    pulls = (np.asarray(psf["mag_inst"], float) + zp - true) / np.asarray(
        psf["mag_inst_err"], float
    )
    delta = np.asarray(psf["mag"], float) - true if calibrated else None
    out = {}
    for lo, hi in bins:
        sel = keep & (snr >= lo) & (snr < hi)
        p = pulls[sel]
        core = p[np.abs(p - np.median(p)) < 5]
        out[(lo, hi)] = (
            len(p),
            float(np.std(core)),
            float(np.median(delta[sel] if calibrated else p)),
        )
    return out


def _check(scatter: dict, label: str, measured, min_stars: int = 40) -> None:
    lines = [
        f"{label} S/N {lo}-{hi}: {n} stars, pull scatter {s:.2f} (median {m:+.2f})"
        for (lo, hi), (n, s, m) in scatter.items()
    ]
    for line in lines:
        measured(line)
    for n, s, _ in scatter.values():
        assert n >= min_stars, f"too few stars for a 0.2 test: {lines}"
        assert abs(s - 1) <= 0.2, lines


@pytest.fixture(scope="module")
def resampled_night(tmp_path_factory):
    folder = tmp_path_factory.mktemp("psf_errors_resampled")
    simulate("gmos-n", ["r"], 1, 8.0, "small", folder, 5)
    result = reduce("gmos-n", folder, "photometry.sn_min=5", steps=RESAMPLED)
    assert result.by_status("photometry") == {"ran": 1}, result.records
    return folder


def test_resampled_stack_pulls_within_0p2_of_one(resampled_night, measured):
    _check(pull_scatter(resampled_night, "r", margin=20), "gmos-n 5 frames resampled", measured)


def test_resampled_stack_calibrated_psf_magnitudes_match_the_truth(resampled_night, measured):
    """Issue #6: median calibrated - true within 0.01 mag for isolated stars of S/N > 50. It is
    the PSF photometry's own offset (held to 0.01 mag) plus the zero point's error, held like
    every zero point to max(0.01, 2 ZPTMUCER): with a colour term the zero point is the intercept
    at colour 0, about twice less precise than a mean (docs/verification.rst)."""
    ((n, _, offset),) = pull_scatter(
        resampled_night, "r", margin=20, calibrated=True, bins=((50, np.inf),)
    ).values()
    (stack,) = (resampled_night / "red").glob("*.stk.fits")
    header = fits.getheader(stack)
    frames = Table.read(resampled_night / "truth" / "frames.ecsv")
    science = [
        str(f) for f in frames["file"][(frames["kind"] == "science") & (frames["band"] == "r")]
    ]
    zp_off = header["ZPTMAG"] - truth_zeropoint(resampled_night / "truth", science)[0]
    measured(
        f"gmos-n 5 frames resampled, S/N > 50: {n} stars, median calibrated - true {offset:+.4f}"
        f" = PSF {offset - zp_off:+.4f} + ZP {zp_off:+.4f} (ZPTMUCER {header['ZPTMUCER']:.4f})"
    )
    assert n >= 40
    assert abs(offset - zp_off) <= 0.01, (offset, zp_off)
    assert abs(zp_off) <= max(0.01, 2 * header["ZPTMUCER"]), (zp_off, header["ZPTMUCER"])


def test_resampled_stack_states_its_noise_factors(resampled_night):
    """The header states the factors the errors were scaled by. Measured on this night: NOISEPSF
    1.25 (1.09-1.17 on single frames: the local sky's noise alone), NOISEAP 1.45, NOISEBIG 1.67,
    PSFMODER 0.044. (Exact values of the factor: test_photometry_errors_unit.py.)"""
    (stack,) = (resampled_night / "red").glob("*.stk.fits")
    header = fits.getheader(stack)
    assert 1.0 < header["NOISEPSF"] < 1.5
    assert header["NOISEBIG"] >= header["NOISEAP"] > 1.0
    assert 0 <= header["PSFMODER"] < 0.1


#: (format, band, density_r22): the zero-point acceptance fields (test_zeropoint_instruments).
ONE_FRAME_CASES = {
    "gmos-n-r": ("gmos-n", "r", 8.0),
    "lris-blue-g": ("lris-blue", "g", 12.0),
    "mosfire-J": ("mosfire", "J", 80.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(ONE_FRAME_CASES))
def test_one_frame_stack_pulls_within_0p2_of_one(case, tmp_path, measured):
    fmt, band, density = ONE_FRAME_CASES[case]
    simulate(fmt, [band], 1, density, "small", tmp_path, 1)
    result = reduce(fmt, tmp_path, "photometry.sn_min=5", steps=ONE_FRAME)
    assert result.by_status("photometry") == {"ran": 1}, result.records
    _check(pull_scatter(tmp_path, band, margin=20), f"{case} one frame", measured)
