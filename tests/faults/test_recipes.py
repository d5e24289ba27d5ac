"""Untrusted recipes: refused with one clear error before anything runs; no code of theirs runs.

Each recipe is given to the real command line (in-process: ``potpyri --recipe FILE``) next to a
tiny night; the refusal must name the offending key, create nothing under the data path (no red/)
and leave the canary file that a successful payload would create absent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from potpyri.cli import main
from potpyri.framework.provenance import embed_recipe
from tests.conftest import compose_config
from tests.faults.ledger import night
from tests.framework.tiny import SEARCHPATH

pytestmark = pytest.mark.fault("untrusted recipes")

CANARY = "pwned"


def _recipe(data_path: Path, body: dict) -> dict:
    """A real, resolved recipe of a toycam run on ``data_path``, with ``body`` merged into it."""
    from potpyri.framework.recipe import recipe_text

    base = yaml.safe_load(
        recipe_text(compose_config(SEARCHPATH, "instrument=toycam", f"data_path={data_path}"))
    )
    # A saved recipe names no data_path; one written by hand may, and is checked like the rest.
    return _merge({**base, "data_path": str(data_path)}, body)


def _merge(base: dict, body: dict) -> dict:
    out = dict(base)
    for key, value in body.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


#: id -> (recipe body, or raw text with {data}/{canary} placeholders; words the error must contain)
CASES = {
    "target_instead_of_instrument": (
        {"instrument": {"_target_": "os.system", "_args_": ["touch {canary}"]}},
        "_target_",
    ),
    "target_in_step": ({"stack": {"_target_": "subprocess.call", "method": "mean"}}, "_target_"),
    "target_in_list": ({"pipeline": {"steps": [{"_target_": "os.system"}]}}, "_target_"),
    "partial_import": ({"stack": {"_partial_": True}}, "_partial_"),
    "import_path_as_step": (
        {"pipeline": {"steps": ["ingest", "os.system"]}},
        "Invalid value 'os.system'",
    ),
    "import_path_as_reader": ({"instrument": {"reader": "subprocess.Popen"}}, "instrument.reader"),
    "import_path_as_top_key": ({"os.system": "touch {canary}"}, "unknown key 'os.system'"),
    "env_interpolation": ({"data_path": "${oc.env:HOME}"}, "interpolation"),
    "env_in_nested_value": ({"stack": {"method": "${oc.env:USER,mean}"}}, "interpolation"),
    "decode_interpolation": ({"stack": {"sigma": "${oc.decode:'3.0'}"}}, "interpolation"),
    "resolver_reading_paths": ({"cache": {"dir": "${potpyri.red:../../..}"}}, "interpolation"),
    "interpolation_in_list": (
        {"pipeline": {"steps": ["ingest", "${oc.env:STEP}"]}},
        "interpolation",
    ),
    "unknown_top_key": ({"stak": {"method": "mean"}}, "unknown key 'stak'"),
    "unknown_nested_key": ({"stack": {"methd": "mean"}}, "methd"),
    "hydra_run_dir": ({"hydra": {"run": {"dir": "/tmp/elsewhere"}}}, "Hydra settings"),
    "hydra_logging_factory": (
        {"hydra": {"job_logging": {"handlers": {"x": {"()": "os.system"}}}}},
        "Hydra settings",
    ),
    "hydra_searchpath": ({"hydra": {"searchpath": ["file:///tmp"]}}, "Hydra settings"),
    "defaults_file": (
        {"defaults": ["potpyri_base", "/etc/passwd", "_self_"]},
        "'defaults' may only be",
    ),
    "defaults_launcher": (
        {"defaults": ["potpyri_base", {"override hydra/launcher": "joblib"}, "_self_"]},
        "'defaults' may only be",
    ),
    "python_yaml_tag": ("!!python/object/apply:os.system ['touch {canary}']\n", "not valid YAML"),
    # Ten levels of ten aliases: 10^10 nodes once expanded, in 12 lines under an allowed key.
    "alias_bomb": (
        "pipeline:\n  steps:\n  - &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"  - &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n" for n in range(9)
        ),
        "anchors",
    ),
    "not_a_mapping": ("- just\n- a list\n", "a recipe must be a YAML mapping"),
}


@pytest.fixture
def data_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything Hydra would start writes under the cwd: watch it
    monkeypatch.setattr(sys, "argv", ["potpyri"])
    return night(tmp_path / "night", n_frames=1)


def _refused(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as caught:
        main(args)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert caught.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("potpyri: error:") and "Traceback" not in err, (
        err
    )
    return lines[0]


def _nothing_ran(tmp_path: Path, data_path: Path) -> None:
    assert not (data_path / "red").exists()
    assert not (data_path / "file_list.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["night", "recipe.yaml"])
    assert not list(tmp_path.rglob(CANARY))


@pytest.mark.parametrize("case", sorted(CASES))
def test_untrusted_recipe_is_refused_before_anything_runs(tmp_path, data_path, capsys, case):
    body, expected = CASES[case]
    recipe = tmp_path / "recipe.yaml"
    if isinstance(body, str):
        recipe.write_text(body.format(canary=tmp_path / CANARY))
    else:
        text = yaml.safe_dump(_recipe(data_path, body), sort_keys=False)
        recipe.write_text(text.replace("{canary}", str(tmp_path / CANARY)))
    line = _refused(["--recipe", str(recipe)], capsys)
    assert expected in line, line
    _nothing_ran(tmp_path, data_path)


def test_recipe_from_a_product_carrying_code_is_refused(tmp_path, data_path, capsys):
    """``--recipe-from`` reads the PPRECIPE a product carries: the same rules apply to it."""
    product = fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2), np.float32), name="SCI")]
    )
    embed_recipe(product, yaml.safe_dump(_recipe(data_path, {"stack": {"_target_": "os.system"}})))
    product.writeto(tmp_path / "recipe.yaml")  # (named so that _nothing_ran expects it)
    line = _refused(["--recipe-from", str(tmp_path / "recipe.yaml")], capsys)
    assert "_target_" in line
    _nothing_ran(tmp_path, data_path)
