"""``-q`` and ``-v`` become Hydra logging overrides that compose into the run's Hydra config."""

from __future__ import annotations

from hydra import compose, initialize_config_module

from potpyri.cli import _verbosity


def test_quiet_and_verbose_flags_set_hydra_logging(tmp_path):
    args = _verbosity(["-q", "--cfg", "hydra", "instrument=gmos", "-v", f"data_path={tmp_path}"])
    # Hydra takes overrides only after its own flags: the mapped overrides come last.
    assert args == [
        "--cfg",
        "hydra",
        "instrument=gmos",
        f"data_path={tmp_path}",
        "hydra.job_logging.root.level=WARNING",
        "hydra.verbose=potpyri",
    ]
    with initialize_config_module(config_module="potpyri.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=args[2:], return_hydra_config=True)
    assert cfg.hydra.job_logging.root.level == "WARNING"
    assert cfg.hydra.verbose == "potpyri"
