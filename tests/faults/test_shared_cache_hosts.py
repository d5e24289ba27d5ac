"""Issue 18 item 9: two jobs on different cluster nodes share one cache (the dask/SLURM path of
docs/scaling.rst). A pid means something only on its own host, so a job must clean only the dead
processes of its own host, never a live job's work on another node."""

from __future__ import annotations

import pytest

from potpyri import files
from potpyri.framework.cache import Cache, process_tag
from potpyri.framework.runner import _stale_links

pytestmark = pytest.mark.fault("silent failures", item=9)

DEAD = 2**22 + 12345  # above the kernel's default pid_max: no such process on this machine


def _on_host(monkeypatch, name: str) -> None:
    monkeypatch.setattr(files.socket, "gethostname", lambda: name)


def test_a_job_on_another_node_keeps_its_work_in_progress(tmp_path, monkeypatch):
    """Node A writes a staging folder, an unpacked copy and a publication link under a pid that
    does not exist on node B; node B's run starts by cleaning and must leave all three."""
    _on_host(monkeypatch, "node-a.cluster")
    shared = Cache(tmp_path / "cache")
    staged = shared.staging("process")
    tag_a = process_tag(DEAD)  # as if node A's worker had this pid
    staged = staged.rename(staged.with_name(f".tmp-{tag_a}-abc"))
    unpacked = shared.root / "unpacked" / f".tmp-{tag_a}-0123-N1.fits"
    unpacked.parent.mkdir()
    unpacked.write_bytes(b"half")
    red = tmp_path / "red"
    red.mkdir()
    link = red / f".x.stk.fits.{tag_a}.link"
    link.write_text("")

    _on_host(monkeypatch, "node-b.cluster")
    assert shared.clean_stale() == [] and _stale_links([red]) == []
    assert staged.is_dir() and unpacked.exists() and link.exists()

    # Back on node A, where that pid is dead: its own leftovers are garbage and go.
    _on_host(monkeypatch, "node-a.cluster")
    assert sorted(shared.clean_stale()) == sorted([staged, unpacked])
    assert _stale_links([red]) == [link]
    assert not staged.exists() and not unpacked.exists() and not link.exists()


def test_names_carry_the_host(tmp_path, monkeypatch):
    _on_host(monkeypatch, "gpu-07.example.org")
    staged = Cache(tmp_path / "cache").staging("stack")
    assert staged.name.startswith(".tmp-") and "@gpu_07_example_org-" in staged.name


def test_a_name_without_a_host_is_left_alone(tmp_path):
    """Names written before hosts were recorded cannot be told apart from another node's."""
    cache = Cache(tmp_path / "cache")
    (cache.root / "process").mkdir()
    legacy = cache.root / "process" / f".tmp-{DEAD}-abc"
    legacy.mkdir()
    assert cache.clean_stale() == [] and legacy.is_dir()
