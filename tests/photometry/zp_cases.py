"""Shared runner of the zero-point acceptance cases (one-frame simulated nights through zeropoint).

Used by ``test_zeropoint_instruments.py`` and runnable by hand on other seeds:
``python -m tests.photometry.zp_cases gmos-n r,i 5 4.0 small 1 /tmp/x`` (format, bands, seed,
density_r22, size, frames, folder, then config overrides; ``size`` may carry a binning,
``full@2x2``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from astropy.io import fits
from astropy.table import Table

from potpyri.photometry.zeropoint import fit_zeropoint
from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.catalogs import colour_zero_offset
from potpyri.sim.compare import truth_zeropoint as stack_truth_zeropoint
from potpyri.sim.formats.base import FORMATS
from potpyri.sim.night import simulate_night
from tests.conftest import compose_config

#: One frame (no alignment needed to trust the stack): nirsky needs >= 3 dithers, so NIR frames get
#: the mesh background of skysub only.
STEPS = "[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub,stack,photometry,zeropoint]"
#: Several dithered frames (a sky flat needs >= 3): the full NIR reduction up to zeropoint.
NIR_STEPS = (
    "[ingest,bias,dark,flat,process,cosmic_rays,satellites,nirsky,skysub,astrometry,align,"
    "resample_grid,resample,stack,stack_wcs,photometry,zeropoint]"
)


def simulate(
    fmt: str,
    bands: list[str],
    seed: int,
    density: float,
    size: str,
    folder: Path,
    frames: int = 1,
    binning: tuple[int, int] | None = None,
    exptime_s: float | None = None,
):
    """A night of ``frames`` exposures per band, no reject files (``binning``, ``exptime_s``: the
    format's defaults when None)."""
    return simulate_night(
        fmt,
        folder,
        seed=seed,
        frames=frames,
        bands=bands,
        rejects=False,
        size=size,
        density_r22=density,
        binning=binning,
        exptime_s=exptime_s,
    )


def reduce(fmt: str, folder: Path, *overrides: str, steps: str = STEPS):
    """Run the pipeline through zeropoint on ``folder``; returns the run result."""
    cfg = compose_config(
        f"instrument={FORMATS[fmt].instrument}",
        f"data_path={folder}",
        f"pipeline.steps={steps}",
        f"catalog.cache_dir={folder / 'catalog_cache'}",
        "catalog.offline=true",
        *overrides,
    )
    validate(cfg)
    return run_pipeline(cfg)


def truth_zeropoint(night, band: str) -> float:
    """Truth zero point of the band's stack in its units (e-/s after a flat normalised to median 1):
    its exposures' zero points (flux-averaged with the stack's weights when there are several)
    + 2.5 log10(median true flat response); see :func:`potpyri.sim.compare.truth_zeropoint`."""
    frames = Table.read(night.truth_dir / "frames.ecsv")
    science = frames[(frames["kind"] == "science") & (frames["band"] == band)]
    return stack_truth_zeropoint(night.truth_dir, [str(f) for f in science["file"]])[0]


def colour_truth(night, band: str, header: fits.Header, survey: str | None = None) -> float:
    """Truth of the stack's ``ZPTMAG`` as the header defines it: with a colour term (``ZPCOLOR``),
    the zero point of a star of catalog colour 0, i.e. :func:`truth_zeropoint` plus the
    catalog-minus-instrument magnitude of such a star from the simulator's own spectra
    (:func:`potpyri.sim.catalogs.colour_zero_offset`); without one, :func:`truth_zeropoint`.
    ``survey``: the survey whose magnitudes the catalog holds (default ``ZPTCAT``; a user's file
    written from a survey's answer names the survey here)."""
    truth = truth_zeropoint(night, band)
    colour = str(header.get("ZPCOLOR", "none"))
    if colour == "none":
        return truth
    blue, red = colour.split("-")
    offset = colour_zero_offset(
        survey or header["ZPTCAT"], header["ZPTBAND"], (blue, red), instrument_band=band
    )
    return truth + offset


def colour_off_zeropoint(folder: Path, band: str) -> float:
    """The zero point ``zeropoint.color_term=false`` gives from the same matched stars (the
    stack's ZPSTARS): the weighted mean offset."""
    with fits.open(_stack(folder, band)) as hdus:
        stars = Table(hdus["ZPSTARS"].data)
    return fit_zeropoint(
        stars["mag_inst"], stars["mag_inst_err"], stars["catalog_mag"], stars["catalog_err"]
    ).zp


def stack_header(folder: Path, band: str) -> fits.Header:
    """Primary header of the band's published stack."""
    return fits.getheader(_stack(folder, band))


def _stack(folder: Path, band: str) -> Path:
    for stack in (folder / "red").glob("*.stk.fits"):
        if fits.getheader(stack).get("ZPTBAND") == band:
            return stack
    raise AssertionError(f"no calibrated {band} stack in {folder / 'red'}")


def line(fmt: str, band: str, seed: int, header: fits.Header, truth: float) -> str:
    colour = str(header.get("ZPCOLOR", "none"))
    term = (
        f", colour term {header['ZPCOLTRM']:+.4f} per mag of {colour}" if colour != "none" else ""
    )
    return (
        f"{fmt} {band} seed {seed}: ZP {header['ZPTMAG']:.4f} +- {header['ZPTMUCER']:.4f} "
        f"({header['ZPTCAT']}, {header['ZPTNSTAR']} stars, scatter {header['ZPTSCAT']:.3f}{term}) "
        f"truth {truth:.4f} diff {header['ZPTMAG'] - truth:+.4f}"
    )


if __name__ == "__main__":
    fmt_, bands_, seed_, density_, size_, frames_, out = sys.argv[1:8]
    extra = sys.argv[8:]
    out_dir = Path(out)
    size_, _, bin_ = size_.partition("@")
    binning_ = tuple(int(b) for b in bin_.split("x")) if bin_ else None
    night_ = simulate(
        fmt_, bands_.split(","), int(seed_), float(density_), size_, out_dir, int(frames_), binning_
    )
    result_ = reduce(fmt_, out_dir, *extra, steps=STEPS if int(frames_) == 1 else NIR_STEPS)
    print(result_.by_status("zeropoint"))
    for b in bands_.split(","):
        from potpyri.catalogs.choice import band_of

        cal = band_of(b) or b
        header_ = stack_header(out_dir, cal)
        truth_ = colour_truth(night_, b, header_)
        print(line(fmt_, b, int(seed_), header_, truth_), flush=True)
        off = colour_off_zeropoint(out_dir, cal)
        print(f"  without the colour term: ZP {off:.4f} diff {off - truth_:+.4f}", flush=True)
