"""Names from headers (OBJECT, FILTER) never write outside data_path/red/ and never collide
silently.

One tiny night, one frame for each hostile OBJECT value, reduced once through the whole default
pipeline; each name then checks its own stack.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import check_raw, night, watch
from tests.framework.tiny import SEARCHPATH, TOY_STEPS

pytestmark = pytest.mark.fault("names")

#: OBJECT values; 'SN 1' and 'SN/1' (and the two long names' first 57 characters) sanitise alike.
NAMES = {
    "climbs_out": "../../etc/x",
    "absolute": "/etc/passwd",
    "space": "SN 1",
    "slash": "SN/1",
    "unicode": "QQmega Cen QQQ",  # bytes replaced by UTF-8 'Ωmega Cen ☃' in the raw files
    "long_a": "A" * 299 + "a",
    "long_b": "A" * 299 + "b",
    "dots_only": "..",
}
#: What astropy reads back where the raw header holds non-ASCII bytes.
READ_AS = {"unicode": "??mega Cen ???"}
#: A FILTER value that tries to climb out too (given to the 'absolute' target's frames).
FILTER = "../../../r"


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    data_path = night(root / "deep" / "er" / "night", n_frames=1, targets=tuple(NAMES.values()))
    raw = data_path / "raw"
    for path in sorted(raw.iterdir()):
        with fits.open(path, mode="update") as hdul:
            if hdul[0].header["OBJECT"] == NAMES["absolute"]:
                hdul[0].header["FILTER"] = FILTER
        # FITS headers are ASCII; archives still write UTF-8 into them (astropy reads '?').
        blob = path.read_bytes()
        path.write_bytes(blob.replace(b"QQmega", "Ωmega".encode()).replace(b"QQQ", "☃".encode()))
    watch(data_path)
    # The steps that publish files named from headers (frames, backgrounds, stacks, QA pages).
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        TOY_STEPS,
        f"data_path={data_path}",
        "pipeline.steps=[ingest,process,skysub,stack,qa]",
    )
    validate(cfg)
    result = run_pipeline(cfg, recipe_yaml="data_path: x\n")
    yield root, data_path, result
    assert check_raw(raw, forget=True) == []


def test_nothing_is_written_outside_red(reduced):
    root, data_path, _ = reduced
    written = [
        p
        for p in root.rglob("*")
        if p.is_file() and "raw" not in p.relative_to(data_path).parts[:1]
    ]
    outside = [
        p
        for p in written
        if data_path / "red" not in p.parents and p != data_path / "file_list.txt"
    ]
    assert written and outside == []
    assert all(len(p.name.encode()) <= 255 for p in written)


@pytest.mark.parametrize("case", sorted(NAMES))
def test_each_name_gets_its_own_stack(reduced, case):
    _, data_path, result = reduced
    frames = {
        i.id: i.meta.get("header_target", i.meta["target"])
        for i in result.items
        if i.kind == "frame"
    }
    stacks = {frames[i.meta["inputs"][0]]: i for i in result.items if i.kind == "target"}
    assert len(stacks) == len(NAMES)  # no two targets merged
    stack = stacks[READ_AS.get(case, NAMES[case])]
    path = Path(stack.path("stack"))
    published = data_path / "red" / path.name
    assert published.is_file() and published.samefile(path)
    assert sum(s.path("stack").name == path.name for s in stacks.values()) == 1  # no shared file
    with fits.open(published) as hdul:
        assert hdul[0].header["OBJECT"] == READ_AS.get(
            case, NAMES[case]
        )  # the frames of this target, and only them
        assert hdul[0].header["NCOMBINE"] == 1  # one frame a target: two merged would make 2
    assert sorted(stack.meta["inputs"]) == sorted(
        n for n, target in frames.items() if target == READ_AS.get(case, NAMES[case])
    )
