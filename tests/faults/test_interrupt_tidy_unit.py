"""On Ctrl-C the runner removes the temporaries its own process (and its stopped workers) left:
a staging folder made just before the signal, which no task code got to clean."""

from __future__ import annotations

import pytest

from potpyri.framework.cache import Cache, process_tag
from potpyri.framework.runner import _tidy_if_interrupted


def test_an_interrupted_run_leaves_no_staging_folder_of_its_own(tmp_path):
    cache = Cache(tmp_path / "cache")
    publish = tmp_path / "red"
    publish.mkdir()
    link = publish / f".x.stk.fits.{process_tag()}.link"
    with pytest.raises(KeyboardInterrupt), _tidy_if_interrupted(cache, [publish]):
        staged = cache.staging("process")
        link.write_text("")
        raise KeyboardInterrupt
    assert not staged.exists() and not link.exists()


def test_a_normal_exit_keeps_the_folders_of_running_tasks(tmp_path):
    cache = Cache(tmp_path / "cache")
    with _tidy_if_interrupted(cache, [tmp_path]):
        staged = cache.staging("process")
    assert staged.exists()  # only an interrupt makes this process's temporaries garbage
