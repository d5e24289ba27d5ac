"""The GMOS reader on the real GMOS raw layouts (DRAGONS illumination masks in raw MEF form)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from potpyri.instruments.gmos import GmosReader
from tests.conftest import SHARED, compose_config

LAYOUTS = SHARED / "data" / "gmos_layouts"
MASKS = SHARED / "data" / "potpyri_reference" / "staticmasks"
pytestmark = pytest.mark.skipif(not LAYOUTS.is_dir(), reason=f"shared data not found at {LAYOUTS}")


@pytest.mark.parametrize("name", sorted(p.name for p in LAYOUTS.glob("gmos-*")))
def test_real_layouts_mosaic_to_the_imaging_field(name):
    reader = GmosReader(compose_config("instrument=gmos", "data_path=/x").instrument)
    image = reader.assemble(LAYOUTS / name)
    binning = int(name.split("_")[3][0])
    rows = {"HAM": 4224, "e2v": 4608, "EEV": 4608}[name.split("_")[2]] // binning
    rows += _highest_ccd_row(image)
    width = (2108 if name.startswith("gmos-n") else 2128) * 2 // binning
    assert image.data.shape == (rows, width)
    # DRAGONS marks unilluminated pixels 64: the imaging field the reader keeps is mostly lit
    # (only its corners are vignetted), and the mask values pass through unchanged.
    assert np.isin(np.unique(image.data), [0, 64]).all()
    dark = (image.data == 64).mean()
    assert 0.01 < dark < 0.15
    gaps = np.where(image.gain[rows // 2] == 0)[0]
    assert 0 < gaps.size < 0.05 * width


def _highest_ccd_row(image) -> int:
    """The binned y offset of the highest CCD (DRAGONS' geometry): the mosaic is that much
    taller than a CCD."""
    return max(int(image.header[f"CCDPOS{k}"].split()[1]) for k in (1, 2, 3))


def test_hamamatsu_2x2_matches_the_reference_static_masks():
    reader = GmosReader(compose_config("instrument=gmos", "data_path=/x").instrument)
    for layout, mask in (
        ("gmos-n_illum_HAM_22_12amp_v1.fits.bz2", "gmos-n.22"),
        ("gmos-s_illum_HAM_22_12amp_v1.fits.bz2", "gmos-s.22"),
    ):
        with fits.open(MASKS / f"{mask}.staticmask.fits.fz") as hdul:
            shape = next(h.data.shape for h in hdul if h.data is not None)
        image = reader.assemble(LAYOUTS / layout)
        rows, columns = image.data.shape
        # Taller by the CCDs' y offsets, which the reference ignores.
        assert (rows - _highest_ccd_row(image), columns) == shape
