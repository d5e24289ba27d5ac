"""Slow: the QA report with the astrometry and photometry steps in the pipeline (one-frame stack,
so no resampling is needed): every section is filled and shows the header values."""

from __future__ import annotations

import json

import pytest
from astropy.io import fits

from potpyri.sim.night import simulate_night
from tests.docs.test_qa_report import _parse
from tests.framework.helpers import potpyri

STEPS = (
    "[ingest,bias,dark,flat,process,cosmic_rays,skysub,astrometry,align,stack,stack_wcs,"
    "photometry,zeropoint,qa]"
)


@pytest.mark.slow
def test_full_report_sections_are_filled(tmp_path):
    simulate_night("gmos-n", tmp_path, seed=3, targets=1, frames=1, bands=["r"])
    potpyri(
        "instrument=gmos",
        f"data_path={tmp_path}",
        "catalog.offline=true",
        f"catalog.cache_dir={tmp_path / 'catalog_cache'}",
        f"pipeline.steps={STEPS}",
        check=True,
    )
    report = tmp_path / "red" / "qa" / "index.html"
    html = report.read_text()
    data = json.loads(_parse(report).data)
    (meta,) = data["stacks"].values()
    assert set(meta["plots"]) == {"preview", "psf", "astrometry", "frames", "zeropoint"}, meta[
        "missing"
    ]
    header = fits.getheader(tmp_path / "red" / meta["stack"])
    for key in ("ZPTMAG", "ZPTMUCER", "FWHM", "NPSFSTAR", "RADISP", "DEDISP", "M5SIGMA"):
        assert meta["header"][key] == header[key]
    assert f"M5SIGMA = {header['M5SIGMA']:.4g}" in html
    # The QA's own measurements agree with the pipeline's: PSF stars, FWHM (ePSF incl. pixel)
    # within 10 %.
    assert meta["measured"]["n_psf_stars"] == header["NPSFSTAR"]
    assert meta["measured"]["moffat_fwhm"] == pytest.approx(header["EPSFFWHM"], rel=0.10)
    assert meta["measured"]["n_matched"] >= 5 and meta["measured"]["rms_ra"] < 0.1
    assert "not available" not in html.split('id="frames"')[0].split("Limiting magnitudes")[0]
