"""The reference's --fieldcenter and --out-size through main_pipeline: the stack lands on the
requested grid (a tiny night; the real command line in a subprocess)."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from tests.framework.helpers import potpyri, run_dirs, statuses, summary
from tests.framework.tiny import SEARCHPATH, toy_wcs_cards, write_tiny_night


def test_fieldcenter_and_out_size_set_the_stack_grid(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    ra, dec = 150.001, 2.0005  # 3.6" east and 1.8" north of the frames' reference pixel
    proc = potpyri(
        "TOYCAM",
        str(tmp_path),
        "--fieldcenter",
        str(ra),
        str(dec),
        "--out-size",
        "96",
        SEARCHPATH,
        "pipeline.steps=[ingest,process,skysub,resample_grid,resample,stack]",
        entry="main_pipeline",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = summary(run_dirs(tmp_path)[-1])
    assert statuses(records, "resample") == ["ran", "ran"] and statuses(records, "stack") == ["ran"]
    (stack,) = (tmp_path / "red").glob("*.stk.fits")
    with fits.open(stack) as hdul:
        assert hdul["SCI"].data.shape == (96, 96)
        wcs = WCS(hdul["SCI"].header)
        np.testing.assert_allclose(wcs.wcs.crval, [ra, dec])
        np.testing.assert_allclose(wcs.all_world2pix([[ra, dec]], 0)[0], [47.5, 47.5], atol=1e-6)
        # The star at frame pixel (30.3, 40.7) lands where the grid's WCS puts its sky position.
        frame = WCS(fits.Header(toy_wcs_cards()))
        x, y = wcs.all_world2pix(frame.all_pix2world([[30.3, 40.7]], 0), 0)[0]
        sci = hdul["SCI"].data
        iy, ix = int(round(y)), int(round(x))
        cut = sci[iy - 6 : iy + 7, ix - 6 : ix + 7]
        yy, xx = np.mgrid[iy - 6 : iy + 7, ix - 6 : ix + 7]
        assert (
            abs((cut * xx).sum() / cut.sum() - x) < 0.1
            and abs((cut * yy).sum() / cut.sum() - y) < 0.1
        )
    workspace = sorted(p.name for p in (tmp_path / "red" / "workspace").glob("*_reproj.fits"))
    assert len(workspace) == 2
    with fits.open(tmp_path / "red" / "workspace" / workspace[0]) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "MASK", "UNCERT"]
        assert (
            hdul["MASK"].data.dtype == np.uint8 and (hdul["MASK"].data[:, :4] & 1).all()
        )  # columns east of the frame: bit 1
