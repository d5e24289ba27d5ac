"""Composition, validation and the one-line errors of the command line."""

from __future__ import annotations

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from potpyri.framework.step import STEPS
from potpyri.pipeline import ConfigError, check_recipe, validate
from potpyri.schema import instrument_names
from tests.conftest import compose_config
from tests.framework.helpers import potpyri

NINE = ["binospec", "deimos", "f2", "fourstar", "gmos", "imacs", "lris", "mmirs", "mosfire"]


def test_nine_instruments_ship_and_compose():
    assert set(NINE) <= set(instrument_names())
    for name in NINE:
        cfg = compose_config(f"instrument={name}", "data_path=/tmp/x")
        validate(cfg)
        assert cfg.instrument.name.lower() == name
        assert cfg.instrument.pixscale > 0


def test_root_schema_has_one_node_per_step():
    cfg = compose_config("instrument=gmos", "data_path=/tmp/x")
    for name in STEPS:
        assert name in cfg and cfg[name].enabled is True
    assert cfg.stack.method.value == "sigclip"


def test_cfg_job_prints_the_override():
    proc = potpyri("--cfg", "job", "instrument=imacs", "data_path=X", "stack.method=mean")
    assert proc.returncode == 0, proc.stderr
    assert "method: mean" in proc.stdout
    assert yaml.safe_load(proc.stdout)["stack"]["method"] == "mean"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("stack.methd=mean", "stack.methd"),
        ("+photometry.sn_mn=3", "photometry.sn_mn"),
        ("+stack.sigmaa=3", "stack.sigmaa"),
        ("stack.method=meen", "stack.method"),
        ("stack.sigma=abc", "stack.sigma"),
        ("instrument=gmoss", "instrument=gmoss"),
        ("pipeline.steps=[ingest,process,ingest]", "ingest"),
        ("pipeline.steps=[ingest,cosmic]", "cosmic"),
        ("instrument.reader=os.system", "instrument.reader"),
    ],
)
def test_bad_overrides_fail_with_one_line_naming_the_key(override, expected):
    args = (
        ["data_path=X", override]
        if override.startswith("instrument=")
        else ["instrument=gmos", "data_path=X", override]
    )
    proc = potpyri(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("potpyri: error:") and expected in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_instrument_and_data_path():
    proc = potpyri("data_path=X")
    assert proc.returncode == 2 and "no instrument given" in proc.stderr
    assert "gmos" in proc.stderr
    proc = potpyri("instrument=GMOS")  # any case is accepted
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == "potpyri: error: missing required config value: data_path"
    )


def test_deleted_step_node_is_refused():
    cfg = compose_config("instrument=gmos", "data_path=/x", "~cosmic_rays")
    with pytest.raises(ConfigError, match="cosmic_rays.*enabled=false"):
        validate(cfg)


def test_compose_api_errors_are_hydra_errors():
    with pytest.raises(ConfigCompositionException):
        compose_config("instrument=gmos", "stack.methd=mean")


def test_help_lists_instruments_and_presets():
    proc = potpyri("--help")
    assert proc.returncode == 0
    for name in [*NINE, "median", "sigclip", "serial"]:
        assert name in proc.stdout


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"stack": {"_target_": "os.system", "method": "mean"}}, "_target_"),
        ({"data_path": "${oc.env:HOME}"}, "interpolation"),
        ({"stack": {"method": "${oc.decode:x}"}}, "interpolation"),
        ({"hydra": {"job_logging": {"handlers": {"x": {"()": "os.system"}}}}}, "Hydra settings"),
        ({"defaults": ["potpyri_base", "/etc/passwd"]}, "defaults"),
        ({"os.system": 1}, "unknown key"),
    ],
)
def test_untrusted_recipes_are_refused(recipe, message):
    with pytest.raises(ConfigError, match=message):
        check_recipe(yaml.safe_dump(recipe), "shared.yaml")


def test_recipe_with_target_is_refused_before_any_work(tmp_path):
    (tmp_path / "raw").mkdir()
    body = {
        "defaults": ["potpyri_base", "_self_"],
        "hydra": {"searchpath": ["pkg://potpyri.conf"]},
        "data_path": str(tmp_path),
        "instrument": {"_target_": "os.system"},
    }
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump(body))
    proc = potpyri("--recipe", str(tmp_path / "evil.yaml"))
    assert proc.returncode == 2 and "_target_" in proc.stderr
    assert not (tmp_path / "red").exists()


def test_resolved_config_round_trips_through_a_recipe(tmp_path):
    from potpyri.framework.recipe import recipe_text

    cfg = compose_config("instrument=imacs", f"data_path={tmp_path}", "stack.method=mean")
    saved = recipe_text(cfg)
    assert str(tmp_path) not in saved and "data_path" not in saved  # no machine paths
    text = check_recipe(saved, "recipe.yaml")
    (tmp_path / "recipe.yaml").write_text(text)
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        again = compose(config_name="recipe", overrides=[f"data_path={tmp_path}"])
    assert OmegaConf.to_container(again, resolve=True) == OmegaConf.to_container(cfg, resolve=True)
