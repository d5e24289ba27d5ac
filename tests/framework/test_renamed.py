"""Renamed config keys: an old name on the command line or in a recipe still works for one
release; its value lands in the new key and one warning line names the new key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest
import yaml
from omegaconf import OmegaConf

from potpyri.cli import main
from potpyri.framework.config import root_schema
from potpyri.framework.docgen import config_fields, steps_rst
from potpyri.framework.recipe import recipe_text
from potpyri.framework.step import STEPS, Step, StepConfig, register_step
from potpyri.pipeline import ConfigError, check_recipe, rename_args, validate
from tests.conftest import compose_config

WARNING = "potpyri: warning: toy_renamed.radius is deprecated; use toy_renamed.radius_arcsec"


def _toy_step(renamed: dict[str, str]) -> type[Step]:
    """A step class (not registered) with one field, ``radius_arcsec``, and ``renamed``."""

    class Toy(Step):
        @dataclass
        class Config(StepConfig):
            renamed: ClassVar[dict[str, str]] = {}
            radius_arcsec: float = 1.5  #: match radius

    Toy.Config.renamed = renamed
    return Toy


@pytest.fixture
def toy():
    """A step registered for this test only, whose ``radius`` became ``radius_arcsec``."""
    yield register_step("toy_renamed")(_toy_step({"radius": "radius_arcsec"}))
    del STEPS["toy_renamed"]


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "deprecated" in line]


def test_renamed_is_no_config_field_and_not_documented(toy):
    assert [f.name for f in dataclasses.fields(toy.Config)] == ["enabled", "radius_arcsec"]
    root = OmegaConf.structured(root_schema("ToyRoot", __name__, [], {"toy_renamed": toy}))
    assert list(root.toy_renamed) == ["enabled", "radius_arcsec"]
    names = [f.name for f in config_fields(toy.Config, prefix="toy_renamed.")]
    assert names == ["toy_renamed.enabled", "toy_renamed.radius_arcsec"]
    text = steps_rst({"toy_renamed": toy}, [])
    assert "``toy_renamed.radius`` → ``toy_renamed.radius_arcsec``" in text
    assert "toy_renamed.renamed" not in text


def test_old_key_on_the_command_line_goes_to_the_new_key(toy, capsys):
    args = rename_args(["toy_renamed.radius=2", "stack.method=mean", "-m"])
    assert args == ["toy_renamed.radius_arcsec=2", "stack.method=mean", "-m"]
    assert _warnings(capsys.readouterr().err) == [WARNING]
    sweep = rename_args(["+toy_renamed.radius=1,2,3"])  # a multirun sweep keeps its values
    assert sweep == ["+toy_renamed.radius_arcsec=1,2,3"]
    assert _warnings(capsys.readouterr().err) == [WARNING]


def test_old_key_in_a_recipe_goes_to_the_new_key(toy, capsys):
    text = check_recipe(yaml.safe_dump({"toy_renamed": {"radius": 2.5}}), "old.yaml")
    assert yaml.safe_load(text)["toy_renamed"] == {"radius_arcsec": 2.5}
    assert _warnings(capsys.readouterr().err) == [WARNING]


def test_renamed_is_no_config_key():
    cfg = compose_config("instrument=imacs", "data_path=X", "+stack.renamed={a: b}")
    with pytest.raises(ConfigError, match="unknown config key: stack.renamed.a"):
        validate(cfg)


def test_old_and_new_key_together_are_refused(toy):
    recipe = {"toy_renamed": {"radius": 2.5, "radius_arcsec": 3.0}}
    with pytest.raises(ValueError, match="both toy_renamed.radius"):
        check_recipe(yaml.safe_dump(recipe), "old.yaml")


def test_a_renamed_key_must_name_a_field():
    with pytest.raises(TypeError, match="not a field"):
        register_step("toy_broken")(_toy_step({"radius": "radius_px"}))
    assert "toy_broken" not in STEPS


#: A real rename of this release: the old name still works, with one warning.
ALIGN_WARNING = "potpyri: warning: align.match_radius is deprecated; use align.match_radius_arcsec"


def _job(capsys, *args: str) -> tuple[dict, str]:
    """The composed job config ``potpyri --cfg job ARGS`` prints, and the stderr."""
    main(["--cfg", "job", *args])
    out, err = capsys.readouterr()
    return yaml.safe_load(out), err


def test_the_command_line_warns_once_and_composes_the_new_key(capsys):
    job, err = _job(capsys, "instrument=imacs", "data_path=X", "align.match_radius=3.5")
    assert job["align"]["match_radius_arcsec"] == 3.5 and "match_radius" not in job["align"]
    assert "renamed" not in job["align"]
    assert _warnings(err) == [ALIGN_WARNING]


def test_an_old_recipe_file_runs_with_the_new_key(capsys, tmp_path):
    recipe = yaml.safe_load(
        recipe_text(compose_config("instrument=imacs", f"data_path={tmp_path}"))
    )
    del recipe["align"]["match_radius_arcsec"]
    recipe["align"]["match_radius"] = 3.5  # written by the release before the rename
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    job, err = _job(capsys, "--recipe", str(tmp_path / "old.yaml"))
    assert job["align"]["match_radius_arcsec"] == 3.5 and "match_radius" not in job["align"]
    assert _warnings(err) == [ALIGN_WARNING]
