"""Interruptions: SIGINT and SIGKILL at random points of a run, then a re-run; a disk that fills up.

Each interrupted run is the real command line in a subprocess, signalled after a random delay into
its work (seeded); the re-run must give products identical to an undisturbed run, reuse what the
killed run finished and leave no partial file. A full disk is a writer that fails half-way with
ENOSPC: the previous products stay intact and the run stops with one clear error.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from astropy.io import fits

import potpyri.framework.runner as runner_module
from potpyri.framework.runner import RunAborted
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import LEDGER, check_raw, compared, night
from tests.framework.tiny import SEARCHPATH

pytestmark = pytest.mark.fault("interruptions")

STEPS = "pipeline.steps=[ingest,process,cosmic_rays,skysub,stack]"
BASE = (SEARCHPATH, "instrument=toycam", STEPS)
#: (signal, seed): the seed draws the moment of the signal.
CASES = [
    (signal.SIGKILL, 1),
    (signal.SIGKILL, 2),
    (signal.SIGKILL, 3),
    (signal.SIGINT, 4),
    (signal.SIGINT, 5),
]


def _cli(data_path: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from potpyri.cli import main; main()",
        *BASE,
        f"data_path={data_path}",
    ]


def _products(data_path: Path) -> dict[str, list[bytes]]:
    """Pixel bytes (SCI, MASK, ERR/UNCERT) of every published frame and stack."""
    red = data_path / "red"
    out = {}
    for path in sorted([*red.glob("*.stk.fits"), *red.glob("workspace/*.fits")]):
        with fits.open(path) as hdul:
            out[str(path.relative_to(red))] = [h.data.tobytes() for h in hdul[1:4]]
    return out


def _leftovers(data_path: Path) -> list[Path]:
    return [
        p
        for p in data_path.rglob("*")
        if p.name.startswith(".tmp-") or p.name.endswith((".tmp", ".link"))
    ]


def _published_are_whole(data_path: Path) -> None:
    """Every FITS file a user can see opens and reads to its end (no partial product)."""
    for path in (data_path / "red").rglob("*.fits"):
        if "cache" in path.relative_to(data_path / "red").parts or path.name.startswith("."):
            continue
        with fits.open(path) as hdul:
            hdul.verify("exception")
            for hdu in hdul:
                _ = hdu.data if hdu.data is None else hdu.data.tobytes()


def _complete_entries(data_path: Path) -> int:
    return sum(1 for _ in (data_path / "red" / "cache").glob("*/*/MANIFEST.json"))


def _run(data_path: Path, *overrides: str):
    cfg = compose_config(*BASE, f"data_path={data_path}", *overrides)
    validate(cfg)
    return run_pipeline(cfg, recipe_yaml="data_path: x\n")


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The reference products, and how long the work of a run lasts (after start-up)."""
    data_path = night(tmp_path_factory.mktemp("undisturbed"), n_frames=4)
    start = time.monotonic()
    _run(data_path)  # in-process: the work of a run without the command line's start-up
    work = time.monotonic() - start
    yield _products(data_path), work
    assert check_raw(data_path / "raw", forget=True) == []


def _start_and_time(data_path: Path, sig: int | None = None, delay: float = 0.0):
    """Run the CLI; ``delay`` s after its cache folder appears (its work begins), send ``sig``."""
    env = {**os.environ, "POTPYRI_PLAIN_LOG": "1"}
    with open(
        data_path.parent / f"{data_path.name}.stderr", "w"
    ) as err:  # a file: a pipe could fill up
        proc = subprocess.Popen(_cli(data_path), env=env, stdout=subprocess.DEVNULL, stderr=err)
    cache = data_path / "red" / "cache"
    begun = None
    while proc.poll() is None:
        if begun is None and cache.is_dir():
            begun = time.monotonic()
            if sig is not None:
                time.sleep(delay)
                if proc.poll() is None:
                    proc.send_signal(sig)
        time.sleep(0.002)
    proc.wait()
    return proc, (time.monotonic() - begun) if begun else 0.0


@pytest.mark.parametrize(
    ("sig", "seed"), CASES, ids=[f"{signal.Signals(s).name}-seed{n}" for s, n in CASES]
)
def test_interrupted_run_resumes_to_identical_products(tmp_path, undisturbed, sig, seed):
    reference, work = undisturbed
    rng = random.Random(seed)
    fraction = rng.uniform(0.05, 0.9)
    for attempt in range(4):  # a busy machine may finish before the signal: try earlier
        data_path = night(tmp_path / f"try{attempt}", n_frames=4)
        proc, _ = _start_and_time(data_path, sig, fraction * work)
        completed = any((data_path / "red" / "log").glob("*/summary.json"))
        if proc.returncode != 0 and not completed:
            break
        fraction /= 2
    else:
        pytest.fail(f"the run always finished before signal {sig!r}")
    stderr = (data_path.parent / f"{data_path.name}.stderr").read_text()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1].startswith("potpyri: interrupted;")
        assert _leftovers(data_path) == []  # SIGINT cleans its own temporaries
    else:
        assert proc.returncode == -signal.SIGKILL
    _published_are_whole(data_path)
    finished = _complete_entries(data_path)

    result = _run(data_path)  # the re-run, as the user would type the same command again
    cached = sum(r.status == "cached" for r in result.records)
    assert cached >= finished, (cached, finished)
    assert {r.status for r in result.records} <= {"ran", "cached", "empty"}
    products = _products(data_path)
    lost = sum(products.get(name) != pixels for name, pixels in reference.items())
    compared(len(reference), lost)
    assert products.keys() == reference.keys() and lost == 0
    assert _leftovers(data_path) == []
    LEDGER.interrupted.append(
        (
            f"{signal.Signals(sig).name} seed {seed}",
            finished,
            sum(r.status in ("ran", "cached") for r in result.records),
        )
    )


#: A run that kills itself (SIGKILL) at a chosen point: half-way through writing the stack into
#: the cache, or between the cache commit and the publication of the stack (its link made, not
#: yet renamed into place).
_KILL_AT = """
import os, signal, sys
import potpyri.framework.runner as runner
from potpyri.pipeline import run_pipeline
from potpyri.pipeline import validate
from tests.conftest import compose_config

point, data_path, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
write, replace = runner.write_content, runner.os.replace

def write_then_die(content, path):
    write(content, path)
    if path.name.endswith(".stk.fits"):
        path.write_bytes(path.read_bytes()[:1000])
        os.kill(os.getpid(), signal.SIGKILL)

def publish_then_die(src, dst):
    if str(src).endswith(".link") and str(dst).endswith(".stk.fits"):
        os.kill(os.getpid(), signal.SIGKILL)
    replace(src, dst)

if point == "write":
    runner.write_content = write_then_die
else:
    runner.os.replace = publish_then_die
cfg = compose_config(*overrides, f"data_path={data_path}")
validate(cfg)
run_pipeline(cfg, recipe_yaml="data_path: x\\n")
"""


@pytest.mark.parametrize("point", ["write", "publish"])
def test_sigkill_while_writing_or_publishing_the_stack(tmp_path, undisturbed, point):
    reference, _ = undisturbed
    data_path = night(tmp_path, n_frames=4)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_AT, point, str(data_path), *BASE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert _leftovers(data_path)  # the killed run left its temporary behind ...
    assert not list((data_path / "red").glob("*.stk.fits"))  # ... and no stack, whole or partial
    _published_are_whole(data_path)
    result = _run(data_path)
    # Killed while writing: the stack is made again; killed while publishing: it was complete.
    assert result.by_status("stack") == ({"ran": 1} if point == "write" else {"cached": 1})
    assert result.by_status("skysub") == {"cached": 4}
    products = _products(data_path)
    lost = sum(products.get(name) != pixels for name, pixels in reference.items())
    compared(len(reference), lost)
    assert products.keys() == reference.keys() and lost == 0
    assert _leftovers(data_path) == []  # ... which the re-run removed


class _DiskFull:
    """A product writer that writes half of the file and then fails as a full disk does."""

    def __init__(self, real, fail_on: str) -> None:
        self.real, self.fail_on, self.calls = real, fail_on, 0

    def __call__(self, content, path: Path) -> None:
        if self.fail_on not in path.name:
            return self.real(content, path)
        self.calls += 1
        self.real(content, path)
        blob = path.read_bytes()
        path.write_bytes(blob[: len(blob) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@pytest.mark.parametrize("fail_on", [".stk.fits", ".toy0001.fits"])
def test_full_disk_keeps_the_previous_products_and_stops_clearly(tmp_path, monkeypatch, fail_on):
    data_path = night(tmp_path, n_frames=3)
    _run(data_path)
    before = {
        p: p.read_bytes() for p in (data_path / "red").rglob("*.fits") if "cache" not in p.parts
    }
    # A changed recipe must rewrite the products; half-way through one of them the disk is full.
    writer = _DiskFull(runner_module.write_content, fail_on)
    monkeypatch.setattr(runner_module, "write_content", writer)
    changed = ("stack.method=mean",) if fail_on.endswith(".stk.fits") else ("process.grow_px=2",)
    with pytest.raises(RunAborted) as caught:
        _run(data_path, *changed)
    message = str(caught.value)
    assert writer.calls == 1 and "\n" not in message
    assert "No space left on device" in message and fail_on in message
    (victim,) = [p for p in before if fail_on in p.name]
    assert victim.read_bytes() == before[victim]  # the product being replaced is intact
    compared(1, int(victim.read_bytes() != before[victim]))
    assert {p for p in (data_path / "red").rglob("*.fits") if "cache" not in p.parts} == set(before)
    _published_are_whole(data_path)  # products finished before the fault are whole new ones
    assert _leftovers(data_path) == []
    monkeypatch.undo()
    again = _run(data_path, *changed)  # with space again, the run completes
    assert again.by_status("stack") == {"ran": 1}


def test_full_disk_while_publishing_keeps_the_published_file(tmp_path, monkeypatch):
    data_path = night(tmp_path, n_frames=2)
    _run(data_path)
    stack = next((data_path / "red").glob("*.stk.fits"))
    old = stack.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runner_module.os, "link", no_space)
    monkeypatch.setattr(runner_module.shutil, "copyfile", no_space)
    with pytest.raises(
        RunAborted, match=r"cannot publish .*file_list\.txt: No space left on device"
    ):
        _run(data_path, "stack.method=mean")
    assert stack.read_bytes() == old and _leftovers(data_path) == []


def test_full_disk_through_the_command_line_is_one_error_line(tmp_path, monkeypatch, capsys):
    from potpyri.cli import main

    data_path = night(tmp_path, n_frames=2)
    writer = _DiskFull(runner_module.write_content, ".stk.fits")
    monkeypatch.setattr(runner_module, "write_content", writer)
    monkeypatch.setattr(sys, "argv", ["potpyri"])
    with pytest.raises(SystemExit) as caught:
        main([*BASE, f"data_path={data_path}"])
    assert caught.value.code == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("potpyri: error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and ".stk.fits" in lines[0]
    assert not list((data_path / "red").glob("*.stk.fits")) and _leftovers(data_path) == []
