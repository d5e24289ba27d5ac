"""Astrometry on small simulated nights of several instruments (slow: run with ``-m slow``):
every science frame solved and refined to a median WCS error ≤ 0.05 px against the truth."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tests.astrometry.conftest import grid_residual_px, reduce_night, truth_wcs


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "size"),
    [("gmos-s", "small"), ("lris-red", "small"), ("binospec", "small"), ("mosfire", "small")],
)
def test_instrument_night_astrometry(fmt, size, tmp_path, capsys):
    night, result, _ = reduce_night(fmt, tmp_path, frames=3, size=size)
    science = [r["file"] for r in night.frames if r["kind"] == "science"]
    assert result.by_status("astrometry") == {"ran": len(science)}, result.by_status("astrometry")
    assert result.by_status("align") == {"ran": len(science)}, result.by_status("align")
    medians = []
    for path in sorted((tmp_path / "red" / "cache" / "align").glob("*/*[0-9].fits")):
        raw = next(s for s in science if s.replace(".", "_").startswith(path.name.split(".")[-2]))
        with fits.open(path) as hdul:
            wcs, shape = WCS(hdul["SCI"].header), hdul["SCI"].data.shape
            header = hdul[0].header
        residual = grid_residual_px(wcs, truth_wcs(night.out_dir, raw), shape)
        medians.append(np.median(residual))
        with capsys.disabled():
            print(
                f"{fmt} {raw}: {header['ASTROMET']} NASTRO={header['NASTRO']} "
                f'RADISP={header["RADISP"]:.4f}" '
                f'DEDISP={header["DEDISP"]:.4f}" distortion={header["ASTRDIST"]} '
                f"median={np.median(residual):.4f} px p95={np.percentile(residual, 95):.4f} px"
            )
    assert len(medians) == len(science)
    assert max(medians) <= 0.05, medians
