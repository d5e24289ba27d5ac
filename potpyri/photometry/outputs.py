"""What the photometry of a stack writes: its FITS extensions, header cards and ds9 regions."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table

from potpyri.photometry.measure import PhotometryMethod, PhotometryResult

__all__ = ["ds9_regions", "photometry_hdus", "table_hdu", "write_photometry_header"]

#: Cards of the PSF model, left out when a stack has aperture photometry alone.
_PSF_CARDS = ("EPSFFWHM", "PSFBETA", "PSFSIGX", "PSFSIGY", "PSFMODEL", "PSFSNTHR", "PSFCORR")
_PSF_CARDS += ("PSFMODER", "NOISEPSF")


def write_photometry_header(
    header: fits.Header, res: PhotometryResult, sn_min: float, moffat_base: bool
) -> None:
    """The PSF, sky, correction and noise keywords of ``res`` (docs/keywords.yaml); PHOTMETH
    says which photometry the catalog holds and PHOTWHY why it is not the PSF's."""
    header["PHOTMETH"] = (res.method.value, "PSF, or APERTURE: no usable PSF (PHOTWHY)")
    header["FWHM"] = (round(res.fwhm, 4), "seeing FWHM, px (pixel-integrated Moffat fits)")
    if np.isfinite(res.fwhm_err):
        header["FWHMERR"] = (round(res.fwhm_err, 4), "1-sigma uncertainty of FWHM, px")
    else:
        header.remove("FWHMERR", ignore_missing=True)
    if np.isfinite(res.fwhm_sys):
        header["FWHMSYS"] = (round(res.fwhm_sys, 4), "FWHM model systematic, px")
    else:
        header.remove("FWHMSYS", ignore_missing=True)
    header["SKYSIG"] = (float(f"{res.skysig:.6g}"), "sky sigma per pixel, e-/s")
    header["NPSFSTAR"] = (len(res.psfstars), "stars the PSF or FWHM was measured on")
    header["APCORR"] = (round(res.aperture_correction, 5), "total / aperture flux (PSF stars)")
    header["TOTMETH"] = (
        res.total_flux_method.upper(),
        "light beyond 4 FWHM: GROWTH curve, or MOFFAT",
    )
    header["GROWRMAX"] = (
        round(res.growth_radius / res.fwhm, 2) if res.fwhm > 0 else -1.0,
        "last radius of the curve of growth used, FWHM",
    )
    header["NOISAREA"] = (round(res.noise_area, 3), "PSF noise area 1/sum(p^2), px")
    header["NSOURCES"] = (len(res.apphot), "sources detected")
    header["PHOTSNMN"] = (sn_min, "detection threshold, S/N")
    if res.method is PhotometryMethod.aperture:
        header["PHOTWHY"] = (res.fallback_reason, "why no PSF photometry")
        for key in _PSF_CARDS:
            header.remove(key, ignore_missing=True)
        _noise_cards(header, res)
        return
    header.remove("PHOTWHY", ignore_missing=True)
    header["EPSFFWHM"] = (round(res.epsf_fwhm, 4), "FWHM of the ePSF itself, px")
    header["PSFBETA"] = (round(res.moffat_beta, 4), "beta, pixel-integrated Moffat fit of the ePSF")
    header["PSFSIGX"] = (round(res.gauss_sigma[0], 4), "Gaussian2D x sigma of the ePSF, px")
    header["PSFSIGY"] = (round(res.gauss_sigma[1], 4), "Gaussian2D y sigma of the ePSF, px")
    header["PSFMODEL"] = (
        "moffat+residual" if moffat_base else "epsf",
        "ePSF Moffat + smoothed rest, or raw ePSF",
    )
    header["PSFSNTHR"] = (res.psf_threshold, "S/N threshold at which PSF stars were found")
    header["PSFCORR"] = (round(res.psf_correction, 5), "total / PSF-fit flux (PSF stars)")
    header["PSFMODER"] = (
        round(res.psf_model_error, 5),
        "fractional PSF-model error in PSF flux errors",
    )
    _noise_cards(header, res)


def _noise_cards(header: fits.Header, res: PhotometryResult) -> None:
    """NOISEPSF, NOISEAP and NOISEBIG: the empty-sky noise factors measured."""
    for key, name, what in (
        ("NOISEPSF", "psf", "PSF fits"),
        ("NOISEAP", "aperture", "small aperture"),
        ("NOISEBIG", "big", "4-FWHM aperture"),
    ):
        if name in res.noise_factors:
            header[key] = (round(res.noise_factors[name], 4), f"empty-sky/ERR noise, {what}")


def photometry_hdus(res: PhotometryResult) -> list[fits.hdu.base.ExtensionHDU]:
    """The APPPHOT, PSFSTARS, PSF, PSFPHOT and RESIDUAL extensions of ``res`` (the first two
    alone for aperture photometry)."""
    if res.method is PhotometryMethod.aperture:
        return [table_hdu(res.apphot, "APPPHOT"), table_hdu(res.psfstars, "PSFSTARS")]
    psf = fits.ImageHDU(res.epsf.astype(np.float32), name="PSF")
    psf.header["OVERSAMP"] = (res.oversampling, "ePSF oversampling factor")
    residual = fits.ImageHDU(res.residual, name="RESIDUAL")
    return [
        table_hdu(res.apphot, "APPPHOT"),
        table_hdu(res.psfstars, "PSFSTARS"),
        psf,
        table_hdu(res.psfphot, "PSFPHOT"),
        residual,
    ]


def table_hdu(table: Table, name: str) -> fits.BinTableHDU:
    """A named binary-table extension of ``table`` (its meta left out)."""
    plain = Table(table, copy=False)
    plain.meta.clear()
    hdu = fits.table_to_hdu(plain)
    hdu.name = name
    return hdu


def ds9_regions(apphot: Table, fwhm: float) -> str:
    """A ds9 region file: a circle of radius FWHM at each detection (image coordinates,
    1-based)."""
    lines = ["# Region file format: DS9 version 4.1", "global color=green width=1", "image"]
    lines += [
        f"circle({x + 1:.3f},{y + 1:.3f},{fwhm:.2f}) # text={{{i}}}"
        for i, x, y in zip(apphot["id"], apphot["x_centroid"], apphot["y_centroid"], strict=True)
    ]
    return "\n".join(lines) + "\n"
