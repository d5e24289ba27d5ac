"""Mask bits, neighbour growth and the static mask."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits

from potpyri.calibration.masks import BAD, COSMIC_RAY, NEIGHBOUR, SATURATED, grow, static_mask


def test_grow_flags_a_disk_of_neighbours_only():
    mask = np.zeros((9, 9), np.uint8)
    mask[4, 4] = COSMIC_RAY
    grown = grow(mask, 2, COSMIC_RAY)
    assert grown[4, 4] == COSMIC_RAY
    assert (grown == NEIGHBOUR).sum() == 12  # the radius-2 disk holds 13 pixels
    assert grown[2, 2] == 0 and grown[2, 4] == NEIGHBOUR
    assert grow(mask, 0) is mask


def test_grow_ignores_bits_it_was_not_asked_about():
    mask = np.zeros((5, 5), np.uint8)
    mask[2, 2] = SATURATED
    assert (grow(mask, 1, COSMIC_RAY) == mask).all()
    assert (grow(mask, 1) & NEIGHBOUR).sum() > 0


def test_static_mask_relative_to_data_path(tmp_path):
    data = np.zeros((4, 6), np.uint8)
    data[1, 2] = 1
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(tmp_path / "bpm.fits.fz")
    inst = SimpleNamespace(static_mask="bpm.fits.fz")
    got = static_mask(inst, tmp_path, (4, 6))
    assert got[1, 2] == BAD and got.sum() == BAD
    with pytest.raises(ValueError, match="shape"):
        static_mask(inst, tmp_path, (6, 4))
    assert static_mask(SimpleNamespace(static_mask=None), tmp_path, (2, 2)).sum() == 0
