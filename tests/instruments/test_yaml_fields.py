"""Every field an instrument YAML sets is read by some code: the pipeline's common fields or the
fields its reader declares (``Reader.reads``). A copied gain table or section list that no code
reads would look like configuration and change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from omegaconf import OmegaConf

from potpyri.instruments import get_reader
from potpyri.instruments.base import COMMON_FIELDS, ReaderError
from potpyri.instruments.schema import InstrumentConfig

ROOT = Path(__file__).resolve().parents[2]
YAMLS = sorted((ROOT / "conf" / "instrument").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "conf" / "instrument").glob("*.yaml")
)


def _config(**fields) -> InstrumentConfig:
    return OmegaConf.merge(OmegaConf.structured(InstrumentConfig), fields)


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.stem)
def test_every_yaml_field_is_read(path):
    given = OmegaConf.load(path)
    reader = get_reader(given.get("reader", "single"))
    unread = sorted(set(given) - COMMON_FIELDS - reader.reads)
    assert not unread, f"{path.name}: {unread} are not read by reader {reader.__name__}"
    given.pop("defaults", None)  # Hydra's defaults list: not an instrument field
    reader(_config(**given))  # the options validate


def test_gain_from_the_yaml_or_the_named_keyword_never_a_default(tmp_path):
    raw = tmp_path / "frame.fits"
    fits.PrimaryHDU(np.ones((4, 4), np.float32), fits.Header({"EGAIN": 1.7})).writeto(raw)
    single = get_reader("single")
    assert (
        float(single(_config(name="X", pixscale=0.2, gain=[2.0], rdnoise=[5.0])).read(raw).gain)
        == 2.0
    )
    keyword = _config(name="X", pixscale=0.2, gain_keyword="EGAIN", rdnoise=[5.0])
    assert float(single(keyword).read(raw).gain) == pytest.approx(1.7)
    with pytest.raises(ReaderError, match="frame.fits: no gain: instrument.gain is empty"):
        single(_config(name="X", pixscale=0.2, rdnoise=[5.0])).read(raw)
    missing = _config(name="X", pixscale=0.2, gain_keyword="GAIN", rdnoise=[5.0])
    with pytest.raises(ReaderError, match="frame.fits: header keyword GAIN .* missing"):
        single(missing).read(raw)


def test_an_unknown_reader_option_is_an_error():
    with pytest.raises(ValueError, match="instrument.options.colour is not an option"):
        get_reader("single")(_config(name="X", pixscale=0.2, options={"colour": "red"}))
