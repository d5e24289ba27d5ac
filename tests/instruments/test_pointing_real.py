"""The starting WCS from pointing keywords, checked on real frames that also carry a header WCS.

The Lick Nickel camera writes RA/DEC as sexagesimal text and a TAN header WCS of pointing
quality; built from RA/DEC alone (``use_header_wcs: false``), the pointing WCS must agree with
the header's in centre, scale and orientation.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from potpyri.instruments import get_reader
from tests.conftest import SHARED

RAW = SHARED / "data" / "nickel_lick_raw"
CONF = __import__("pathlib").Path(__file__).resolve().parents[2] / "conf"
SCIENCE = ["d1035.fits", "d1036.fits"]
pytestmark = pytest.mark.skipif(not RAW.is_dir(), reason=f"shared data not found at {RAW}")


def _nickel(**pointing):
    with initialize_config_dir(str(CONF), version_base=None):
        cfg = compose("config", overrides=["instrument=nickel"])
    instrument = cfg.instrument
    OmegaConf.set_struct(instrument, False)
    instrument.pointing.update(pointing)
    return instrument


@pytest.mark.parametrize("name", SCIENCE)
def test_nickel_pointing_wcs_agrees_with_its_header_wcs(name):
    instrument = _nickel(use_header_wcs=False)
    image = get_reader(instrument.reader)(instrument).read(RAW / name)
    assert image.header["WCSSRC"] == "pointing"
    built = WCS(image.header)
    header = WCS(fits.getheader(RAW / name))
    ny, nx = image.data.shape
    # the reader trims the overscan columns only, so pixel coordinates agree
    grid = np.array([(x, y) for x in (0, nx / 2, nx - 1) for y in (0, ny / 2, ny - 1)])
    offsets = built.pixel_to_world(*grid.T).separation(header.pixel_to_world(*grid.T)).arcsec
    # the header's CD matrix has a 2.2 deg rotation the pointing model (no rotator keyword) lacks:
    # about 0.04 x 512 px x 0.37 arcsec = 7 arcsec at the corners
    assert offsets.max() < 15.0, offsets
    scale = np.sqrt(abs(np.linalg.det(built.pixel_scale_matrix))) * 3600
    assert scale == pytest.approx(0.368, rel=0.01)
    assert image.header["PNTUNC"] == instrument.pointing.uncertainty_arcsec


def test_nickel_keeps_its_header_wcs_by_default():
    instrument = _nickel()
    image = get_reader(instrument.reader)(instrument).read(RAW / SCIENCE[0])
    assert "WCSSRC" not in image.header
    assert image.header["CRVAL1"] == pytest.approx(fits.getheader(RAW / SCIENCE[0])["CRVAL1"])
