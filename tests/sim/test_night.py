"""A simulated GMOS-N night: files, classification, determinism, and a truth that adds up."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from photutils.centroids import centroid_2dg

from potpyri.instruments.classify import classify
from potpyri.instruments.gmos import GmosReader
from potpyri.sim.night import simulate_night
from potpyri.sim.psf import PsfParams, field_psf
from potpyri.sim.scene import moffat_alpha, sky_image
from tests.conftest import compose_config
from tests.sim.test_instrument_nights import EXPECTED


def test_files_names_and_compression(gmos_night):
    names = [p.name for p in gmos_night.raw_files]
    assert len(names) == 5 + 10 + 6 + 4  # biases, flats in r and i, 3+3 science, 4 rejects
    assert all(n.startswith("N2024061") and n.endswith(".fits.bz2") for n in names)
    with open(gmos_night.raw_files[0], "rb") as handle:
        assert handle.read(3) == b"BZh"
    with fits.open(gmos_night.raw_files[-1]) as hdul:
        # Raw Gemini extensions have no EXTNAME (spec 2.1).
        assert len(hdul) == 13 and all("EXTNAME" not in h.header for h in hdul[1:])


def test_every_file_classified_as_intended(gmos_night):
    instrument = compose_config("instrument=gmos", "data_path=/x").instrument
    reader = GmosReader(instrument)
    for row, path in zip(gmos_night.frames, gmos_night.raw_files, strict=True):
        header = reader.header(path)
        kind, _ = classify(header, instrument, float(header["EXPTIME"]))
        assert kind == EXPECTED[row["kind"]], (path.name, row["kind"], kind)


def test_same_seed_same_bytes(tmp_path):
    first = simulate_night("gmos-n", tmp_path / "a", seed=3, frames=1, bands=["r"], rejects=False)
    second = simulate_night("gmos-n", tmp_path / "b", seed=3, frames=1, bands=["r"], rejects=False)
    digest = lambda paths: [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]  # noqa: E731
    assert digest(first.raw_files) == digest(second.raw_files)
    assert (tmp_path / "a/truth/frames.ecsv").read_bytes() == (
        tmp_path / "b/truth/frames.ecsv"
    ).read_bytes()
    other = simulate_night("gmos-n", tmp_path / "c", seed=4, frames=1, bands=["r"], rejects=False)
    assert digest(other.raw_files) != digest(first.raw_files)


def test_truth_outputs(gmos_night):
    truth = gmos_night.truth_dir
    stars = Table.read(truth / "stars.ecsv")
    assert {"id", "ra", "dec", "pmra", "pmdec", "mag_r", "mag_i", "is_galaxy"} <= set(
        stars.colnames
    )
    frames = Table.read(truth / "frames.ecsv")
    assert {
        "file",
        "kind",
        "band",
        "exptime",
        "wcs",
        "seeing_fwhm_px",
        "sky_e_s",
        "zeropoint",
    } <= set(frames.colnames)
    science = frames[frames["kind"] == "science"]
    assert all(WCS(fits.Header.fromstring(w)).has_celestial for w in science["wcs"])
    assert (truth / "maps" / "badpix.fits.fz").is_file() and (
        truth / "maps" / "flat.fits.fz"
    ).is_file()
    assert (
        len(list((truth / "maps").glob("*_cr.fits.fz"))) == len(frames) - 5
    )  # every exposure but biases


def test_truth_is_self_consistent(gmos_night):
    """Calibrate a science frame with the *known* flat, subtract the *known* sky, and find the
    injected stars at their true positions and with their true fluxes."""
    frames = Table.read(gmos_night.truth_dir / "frames.ecsv")
    stars = Table.read(gmos_night.truth_dir / "stars.ecsv")
    flat = fits.getdata(gmos_night.truth_dir / "maps" / "flat.fits.fz")
    bad = fits.getdata(gmos_night.truth_dir / "maps" / "badpix.fits.fz")
    reader = GmosReader(compose_config("instrument=gmos", "data_path=/x").instrument)
    offsets, pulls = [], []
    for row in frames[frames["kind"] == "science"]:
        if row["trail"] != "none":
            continue  # the satellite trail adds light the sky model does not hold
        offsets_row, pulls_row = _measure(gmos_night, row, stars, reader, flat, bad)
        offsets += offsets_row
        pulls += pulls_row
    assert len(offsets) >= 20, f"only {len(offsets)} isolated bright stars"
    assert np.median(offsets) <= 0.05
    assert abs(np.median(pulls)) < 0.5 and 0.6 < np.std(pulls) < 1.5


def _measure(night, row, stars, reader, flat, bad):
    """Centroid offsets and flux pulls of the isolated bright stars of one frame."""
    raw = reader.assemble(night.out_dir / "raw" / row["file"])
    cosmic = fits.getdata(night.truth_dir / "maps" / f"{row['file'].split('.fits')[0]}_cr.fits.fz")
    electrons = raw.data * raw.gain
    variance = np.clip(electrons, 0, None) + raw.rdnoise**2
    sky = sky_image(
        electrons.shape, row["sky_e_s"] * row["exptime"], (row["sky_grad_x"], row["sky_grad_y"])
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        image = electrons / flat - sky
        sigma = np.sqrt(variance) / flat
    wcs = WCS(fits.Header.fromstring(row["wcs"]))
    fwhm = row["seeing_fwhm_px"]
    alpha = moffat_alpha(fwhm)
    params = PsfParams.from_json(str(row["psf"]))
    psf = field_psf(params, electrons.shape) if params.model != "moffat" else None
    x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0)
    mag = np.asarray(stars[f"mag_{row['band']}"])
    flux = row["exptime"] * 10 ** (0.4 * row["zeropoint"]) * 10 ** (-0.4 * mag)
    radius = 4 * fwhm
    ny, nx = image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    offsets, pulls = [], []
    for k in np.argsort(mag):
        if not (18.5 < mag[k] < 21.0) or stars["is_galaxy"][k]:
            continue
        if not (3 * radius < x[k] < nx - 3 * radius and 3 * radius < y[k] < ny - 3 * radius):
            continue
        neighbours = np.hypot(x - x[k], y - y[k]) < 6 * fwhm
        if (neighbours & (mag < mag[k] + 4)).sum() > 1:
            continue  # not isolated
        box = (
            slice(int(y[k]) - int(radius), int(y[k]) + int(radius) + 1),
            slice(int(x[k]) - int(radius), int(x[k]) + int(radius) + 1),
        )
        if cosmic[box].any() or bad[box].any() or (flat[box] <= 0).any():  # CR, bad pixel, CCD gap
            continue
        cx, cy = centroid_2dg(image[box])
        offsets.append(np.hypot(cx + box[1].start - x[k], cy + box[0].start - y[k]))
        aperture = (xx[box] - x[k]) ** 2 + (yy[box] - y[k]) ** 2 <= radius**2
        measured = image[box][aperture].sum()
        if psf is None:
            expected = flux[k] * (1 - (1 + radius**2 / alpha**2) ** -2.0)  # Moffat β=3 inside r
        else:  # the truth PSF's own share inside the aperture
            unit = np.zeros(image[box].shape)
            origin = (box[1].start, box[0].start)
            psf.add_stars(unit, x[k : k + 1], y[k : k + 1], [1.0], origin)
            expected = flux[k] * unit[aperture].sum()
        pulls.append((measured - expected) / np.sqrt((sigma[box][aperture] ** 2).sum()))
    return offsets, pulls


def test_pipeline_never_imports_the_simulator():
    """Truth must not leak: no science module mentions potpyri.sim (the CLI's demo dispatch
    aside)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*repo.joinpath("potpyri").rglob("*.py"), *repo.joinpath("steps").rglob("*.py")]:
        if "sim" in path.relative_to(repo).parts or path.name == "cli.py":
            continue
        if "potpyri.sim" in path.read_text():
            offenders.append(str(path.relative_to(repo)))
    assert offenders == []


def test_command_line_options(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "potpyri.sim.cli",
            "gmos-s",
            str(tmp_path),
            "--seed",
            "3",
            "--targets",
            "2",
            "--frames",
            "1",
            "--filters",
            "g",
            "--binning",
            "2x2",
            "--no-rejects",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    frames = Table.read(tmp_path / "truth" / "frames.ecsv")
    assert sorted(set(frames["kind"])) == ["bias", "flat", "science"]
    assert list(frames["band"][frames["kind"] == "science"]) == ["g", "g"]
    assert all(n.startswith("S2024") for n in frames["file"])
    bad = subprocess.run(
        [sys.executable, "-m", "potpyri.sim.cli", "hubble", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "unknown instrument 'hubble'" in bad.stderr


def test_truth_psf_fwhm_over_the_field(gmos_night):
    """Each science file's truth FWHM: measured on a lattice (the mean is ``seeing_fwhm_px``),
    read back at any position by interpolation; the PSF's size varies over the field."""
    from potpyri.sim.compare import truth_psf_fwhm

    frames = Table.read(gmos_night.truth_dir / "frames.ecsv")
    lattice = Table.read(gmos_night.truth_dir / "psf_fwhm.ecsv")
    for row in frames[frames["kind"] == "science"]:
        points = lattice[lattice["file"] == row["file"]]
        assert len(points) == 25
        assert np.mean(points["fwhm_px"]) == pytest.approx(row["seeing_fwhm_px"], rel=1e-9)
        at = truth_psf_fwhm(gmos_night.truth_dir, row["file"], points["x"], points["y"])
        assert np.allclose(at, points["fwhm_px"])
        assert np.ptp(points["fwhm_px"]) > 0.002 * row["seeing_fwhm_px"]
