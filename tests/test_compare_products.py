"""benchmarks/compare_products.py tells a science difference from a provenance-only one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from astropy.io import fits

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_products.py"
_spec = importlib.util.spec_from_file_location("compare_products", SCRIPT)
compare_products = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_products)


def _red(folder: Path, pixel: float, cfg_hash: str) -> Path:
    red = folder / "red"
    (red / "workspace").mkdir(parents=True)
    primary = fits.PrimaryHDU()
    primary.header["PPCFG01"] = cfg_hash
    primary.header["FILTER"] = "r"
    sci = np.zeros((4, 4), np.float32)
    sci[1, 2] = pixel
    fits.HDUList([primary, fits.ImageHDU(sci, name="SCI")]).writeto(red / "workspace" / "f.fits")
    (red / "cache").mkdir()  # the cache is never compared
    fits.PrimaryHDU().writeto(red / "cache" / "only_here.fits")
    return red


def test_provenance_only_differences_pass(tmp_path, capsys):
    a, b = _red(tmp_path / "a", 1.0, "aaaa"), _red(tmp_path / "b", 1.0, "bbbb")
    assert compare_products.main([str(a), str(b)]) == 0
    assert "science differences: 0" in capsys.readouterr().out


def test_one_changed_pixel_fails_naming_the_hdu(tmp_path, capsys):
    a, b = _red(tmp_path / "a", 1.0, "aaaa"), _red(tmp_path / "b", 1.0 + 1e-6, "aaaa")
    assert compare_products.main([str(a), str(b)]) == 1
    assert "workspace/f.fits[SCI]: data differ" in capsys.readouterr().out
