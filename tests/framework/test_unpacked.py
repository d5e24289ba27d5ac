"""Compressed raw files are decompressed once: the readers keep a copy in the cache."""

from __future__ import annotations

import bz2
import io
import os

import numpy as np
from astropy.io import fits

from potpyri.framework.cache import Cache, process_tag
from potpyri.instruments.base import open_raw, unpacked_copy


def _bz2_fits(path, value: int) -> None:
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(np.full((4, 5), value, np.int16))]).writeto(buffer)
    path.write_bytes(bz2.compress(buffer.getvalue()))


def test_copy_kept_reused_and_renewed_when_the_raw_file_changes(tmp_path):
    raw, folder = tmp_path / "N1.fits.bz2", tmp_path / "cache" / "unpacked"
    _bz2_fits(raw, 1)
    before = raw.read_bytes()
    with open_raw(raw, folder) as hdul:
        assert hdul[0].data[0, 0] == 1
    copy = unpacked_copy(raw, folder)
    assert copy.exists() and copy.name.endswith("N1.fits") and raw.read_bytes() == before
    copy.write_bytes(copy.read_bytes())  # the second open reads the copy, not the raw file
    os.utime(copy, (1, 1))
    with open_raw(raw, folder) as hdul:
        assert hdul[0].data[0, 0] == 1
    assert os.stat(copy).st_mtime == 1
    _bz2_fits(raw, 2)  # a raw file rewritten (new size or time) never reads its old copy
    os.utime(raw, ns=(os.stat(raw).st_atime_ns, os.stat(raw).st_mtime_ns + 10**9))
    with open_raw(raw, folder) as hdul:
        assert hdul[0].data[0, 0] == 2


def test_without_a_folder_nothing_is_written(tmp_path):
    raw = tmp_path / "N1.fits.bz2"
    _bz2_fits(raw, 3)
    with open_raw(raw) as hdul:
        assert hdul[0].data[0, 0] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["N1.fits.bz2"]


def test_a_killed_writer_leaves_a_temporary_the_next_run_removes(tmp_path):
    cache = Cache(tmp_path / "cache")
    folder = cache.root / "unpacked"
    folder.mkdir()
    dead = 2**22 + 12345  # above the kernel's default pid_max: no such process
    left = folder / f".tmp-{process_tag(dead)}-0123456789abcdef-N1.fits"
    left.write_bytes(b"partial")
    assert left in cache.clean_stale() and not left.exists()
