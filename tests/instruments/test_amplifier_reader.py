"""The generic amplifier reader (cameras added with one YAML): placement by DETSEC, mirroring
of reversed sections, overscan, and gain from the YAML or a named keyword, never a default."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from omegaconf import OmegaConf

from potpyri.instruments import get_reader
from potpyri.instruments.base import ReaderError
from potpyri.instruments.schema import InstrumentConfig


def _two_amplifiers(path, gains=(1.5, 1.7), reversed_second=True):
    """A 4x8 detector read by two amplifiers of 4x4 with 2 overscan columns each; the second
    reads right to left (DETSEC high-to-low), as LRIS amplifiers 2 and 4 do."""
    sky = np.arange(32, dtype=np.float32).reshape(4, 8) * 10  # a ramp along x
    hdus = [fits.PrimaryHDU(header=fits.Header({"OBJECT": "ramp"}))]
    for n, (gain, cols) in enumerate(zip(gains, (slice(0, 4), slice(4, 8)), strict=True)):
        block = sky[:, cols]
        detsec = f"[{cols.start + 1}:{cols.stop},1:4]"
        if n == 1 and reversed_second:
            block, detsec = block[:, ::-1], f"[{cols.stop}:{cols.start + 1},1:4]"
        bias = 100.0 * (n + 1)
        raw = np.hstack([block + bias, np.full((4, 2), bias, np.float32)])
        head = fits.Header({"DETSEC": detsec, "DATASEC": "[1:4,1:4]", "BIASSEC": "[5:6,1:4]"})
        if gain is not None:
            head["EGAIN"] = gain
        hdus.append(fits.ImageHDU(raw, head))
    fits.HDUList(hdus).writeto(path)
    return sky


def _reader(**fields):
    cfg = OmegaConf.merge(
        OmegaConf.structured(InstrumentConfig),
        {"name": "X", "pixscale": 0.2, "reader": "amplifiers", **fields},
    )
    return get_reader("amplifiers")(cfg)


def test_reversed_amplifier_is_mirrored_into_place(tmp_path):
    sky = _two_amplifiers(tmp_path / "raw.fits")
    image = _reader(gain_keyword="EGAIN", rdnoise=[4.0, 4.0]).assemble(tmp_path / "raw.fits")
    np.testing.assert_allclose(image.data, sky)  # continuous across the boundary, bias removed
    assert (image.gain[:, :4] == 1.5).all() and (image.gain[:, 4:] == 1.7).all()
    assert (image.rdnoise == 4.0).all()


def test_missing_gain_names_the_file_and_the_keyword(tmp_path):
    _two_amplifiers(tmp_path / "raw.fits", gains=(1.5, None))
    with pytest.raises(ReaderError, match=r"raw.fits: header keyword EGAIN .* missing"):
        _reader(gain_keyword="EGAIN", rdnoise=[4.0, 4.0]).assemble(tmp_path / "raw.fits")
    with pytest.raises(ReaderError, match="raw.fits: no rdnoise"):
        _reader(gain=[1.0, 1.0]).assemble(tmp_path / "raw.fits")
