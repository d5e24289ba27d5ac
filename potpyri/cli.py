"""Command lines: ``potpyri`` (the Hydra app) and ``main_pipeline`` (the reference's options).

``potpyri instrument=imacs data_path=./run stack.method=mean`` composes ``conf/config.yaml`` with
overrides; ``potpyri --recipe recipe.yaml`` or ``potpyri --recipe-from stack.fits`` re-runs a
recipe. Config errors are caught before Hydra starts the job and reported as one line.

Exit codes (:class:`potpyri.framework.outcome.ExitCode`, docs/cli.rst): 0 success, 1 failure
(nothing useful made, or the run stopped), 2 config error, 3 partial success, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig

from potpyri.catalog_command import main as catalogs_main
from potpyri.files import write_atomic
from potpyri.framework.logutil import interactive
from potpyri.framework.outcome import ExitCode, write_run_record
from potpyri.framework.provenance import read_recipe
from potpyri.framework.recipe import recipe_text
from potpyri.framework.runner import RunAborted, write_summary
from potpyri.framework.step import STEPS
from potpyri.framework.summary import print_summary
from potpyri.pipeline import (
    ConfigError,
    check_catalog_file,
    check_data_path,
    check_recipe,
    rename_args,
    run_pipeline,
    validate,
)
from potpyri.report import write_report
from potpyri.schema import instrument_names
from potpyri.sim.demo import prepare_demo

__all__ = ["demo", "main", "main_pipeline"]

log = logging.getLogger("potpyri")

_HYDRA_ONLY_FLAGS = (
    "--help",
    "-h",
    "--hydra-help",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
    "--version",
    "--resolve",
    "--package",
    "-p",
)


@hydra.main(config_path="pkg://potpyri.conf", config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    run_job(cfg)


def run_job(cfg: DictConfig) -> None:
    """The Hydra task: validate, write the recipe, run, summarise."""
    try:
        validate(cfg)
        check_data_path(cfg)
        check_catalog_file(cfg)
    except ConfigError as exc:
        print(f"potpyri: error: {exc}", file=sys.stderr)
        sys.exit(ExitCode.config_error)
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    recipe = recipe_text(cfg)
    write_atomic(recipe, run_dir / "recipe.yaml")
    log.info(
        "recipe saved to %s (re-run with: potpyri --recipe %s)",
        run_dir / "recipe.yaml",
        run_dir / "recipe.yaml",
    )
    try:
        result = run_pipeline(
            cfg,
            publish_root=run_dir / "products" if multirun else None,
            recipe_yaml=recipe,
            show_progress=interactive() and not multirun,
        )
    except RunAborted as exc:
        print(
            f"potpyri: error: {exc}; the run stopped (products written before are kept)",
            file=sys.stderr,
        )
        sys.exit(ExitCode.failure)
    write_summary(result, run_dir / "summary.json")
    outcome = write_run_record(result, run_dir / "run.json")
    try:
        write_report(result, recipe=run_dir / "recipe.yaml", log_dir=run_dir)
    except Exception as exc:  # the report must never cost the user the reduction itself
        log.error("QA report not written: %s: %s", type(exc).__name__, exc)
    print_summary(result)
    if outcome.code is ExitCode.failure:
        print(f"potpyri: error: {outcome.line}; see the summary above", file=sys.stderr)
    elif outcome.code is ExitCode.partial:
        print(f"potpyri: warning: {outcome.line}; see the summary above", file=sys.stderr)
    if outcome.code is not ExitCode.success:
        sys.exit(outcome.code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``potpyri``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["demo"]:
        demo(args[1:])
        return
    if args[:1] == ["catalogs"]:
        sys.exit(catalogs_main(args[1:], preflight))
    try:
        args = _expand_recipe_flags(rename_args(_normalise_instrument(_verbosity(args))))
        if not any(a.split("=")[0] in _HYDRA_ONLY_FLAGS for a in args):
            preflight(args)
    except ConfigError as exc:
        print(f"potpyri: error: {exc}", file=sys.stderr)
        sys.exit(ExitCode.config_error)
    sys.argv = [sys.argv[0], *args]
    try:
        _app()
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback; the cache keeps finished tasks
        print(
            "potpyri: interrupted; finished tasks are kept in the cache: run the same command "
            "again to resume",
            file=sys.stderr,
        )
        sys.exit(ExitCode.interrupted)


def preflight(args: list[str]) -> DictConfig:
    """Compose the config the command line asks for and validate it, with one-line errors.

    Sweeps (``a=1,2,3``) are checked with their first value; Hydra's own settings are left to
    Hydra.
    """
    config_dir, config_name, overrides = None, "config", []
    it = iter(args)
    for arg in it:
        if arg in ("--config-path", "-cp"):
            config_dir = next(it)
        elif arg in ("--config-name", "-cn"):
            config_name = next(it)
        elif arg in ("--multirun", "-m"):
            continue
        elif not arg.startswith("-"):
            overrides.append(arg)
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except Exception as exc:
        raise ConfigError(_one_line(exc)) from None
    plain = []
    for override, text in zip(parsed, overrides, strict=True):
        key = override.get_key_element()
        if key.startswith(("hydra", "+hydra", "~hydra")) and not key.endswith("hydra.searchpath"):
            continue
        if override.is_sweep_override():
            text = f"{key}={next(override.sweep_string_iterator())}"
        plain.append(text)
    GlobalHydra.instance().clear()
    try:
        if config_dir is None:
            init = initialize_config_module(config_module="potpyri.conf", version_base="1.3")
        else:
            init = initialize_config_dir(
                config_dir=str(Path(config_dir).absolute()), version_base="1.3"
            )
        with init:
            cfg = compose(config_name=config_name, overrides=plain)
    except ConfigError:
        raise
    except SystemExit:
        raise
    except Exception as exc:
        raise ConfigError(_one_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    validate(cfg)
    check_data_path(cfg)  # before Hydra makes its log folder under data_path
    check_catalog_file(cfg)
    return cfg


def _one_line(exc: BaseException) -> str:
    """The innermost cause of a composition error, on one line, naming the key."""
    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    text = " ".join(str(chain[0]).split())
    match = re.search(r"Could not find '(\w+)/([^']+)'", text)
    if match:
        group, option = match.groups()
        choices = ", ".join(instrument_names()) if group == "instrument" else "see potpyri --help"
        return f"{group}={option}: no such {group} (choose from: {choices})"
    inner = chain[-1]
    lines = [ln.strip() for ln in str(inner).splitlines() if ln.strip()]
    key = getattr(inner, "full_key", None)
    for line in lines:
        if line.startswith("full_key:"):
            key = key or line.split(":", 1)[1].strip()
    detail = [
        ln
        for ln in lines
        if not ln.startswith(("full_key:", "reference_type=", "object_type="))
        and not re.match(r"In '[^']+': \w+ raised while composing config:", ln)
    ]
    message = detail[0] if detail else type(inner).__name__
    where = re.match(r"In '([^']+)':", text)
    match = re.search(r"Key '([^']+)' not in '([^']+)'", text)
    if "Could not override" in text and match:
        over = re.search(r"Could not override '([^']+)'", text)
        return f"unknown config key: {over.group(1) if over else match.group(1)} ({match.group(0)})"
    if key and key not in message:
        message = f"{key}: {message}"
    return f"{message} (in {where.group(1)}.yaml)" if where else message


#: Short verbosity flags -> Hydra's logging settings (see docs/cli.rst).
_VERBOSITY = {
    "-v": "hydra.verbose=potpyri",
    "--verbose": "hydra.verbose=potpyri",
    "-q": "hydra.job_logging.root.level=WARNING",
    "--quiet": "hydra.job_logging.root.level=WARNING",
}


def _verbosity(args: list[str]) -> list[str]:
    """``-v`` shows potpyri's DEBUG messages, ``-q`` only warnings and errors (and the summary).

    The overrides go last: Hydra's parser takes overrides only after its own flags.
    """
    return [a for a in args if a not in _VERBOSITY] + [
        _VERBOSITY[a] for a in args if a in _VERBOSITY
    ]


def _normalise_instrument(args: list[str]) -> list[str]:
    """Accept instrument names in any case (``instrument=GMOS``)."""
    return [
        re.sub(r"^instrument=(.+)$", lambda m: f"instrument={m.group(1).lower()}", a) for a in args
    ]


def _expand_recipe_flags(args: list[str]) -> list[str]:
    """Rewrite ``--recipe FILE`` and ``--recipe-from PRODUCT`` into Hydra's config flags."""
    out: list[str] = []
    it = iter(args)
    for arg in it:
        flag, _, inline = arg.partition("=")
        if flag not in ("--recipe", "--recipe-from"):
            out.append(arg)
            continue
        value = inline or next(it, None)
        if not value:
            raise ConfigError(f"{flag} needs a file name")
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"{flag} {value}: no such file")
        try:
            text = read_recipe(path) if flag == "--recipe-from" else path.read_text()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{flag} {value}: {exc}") from None
        folder = Path(tempfile.mkdtemp(prefix="potpyri-recipe-"))
        (folder / "recipe.yaml").write_text(check_recipe(text, path.name))
        out += ["--config-path", str(folder), "--config-name", "recipe"]
    return out


# -- main_pipeline: the reference pipeline's command line ------------------------------------------

#: Reference option -> (step it needs, override). ``{}`` takes the option's value; an override
#: without it belongs to a flag and applies when the flag is given.
_OPTIONS = {
    "skip_skysub": ("skysub", "skysub.enabled=false"),
    "skip_flatten": ("flat", "flat.enabled=false"),
    "skip_cr": ("cosmic_rays", "cosmic_rays.enabled=false"),
    "skip_fine_align": ("align", "align.enabled=false"),
    "skip_external_astrometry": ("astrometry", "astrometry.enabled=false"),
    "keep_all_astro": ("align", "align.keep_all_astro=true"),
    "include_bad": ("ingest", "ingest.include_bad=true"),
    "no_redo_sort": ("ingest", "ingest.no_redo_sort=true"),
    "proc": ("ingest", "ingest.proc={}"),
    "file_list_name": ("ingest", "ingest.file_list_name={}"),
    "phot_sn_min": ("photometry", "photometry.sn_min={}"),
    "phot_sn_max": ("photometry", "photometry.sn_max={}"),
    "fwhm_init": ("photometry", "photometry.fwhm_init_px={}"),
    "bkg_sub": ("skysub", "skysub.method={}"),
    "out_size": ("resample", "resample.out_size_px={}"),
    "fine_align_catalog": ("align", "align.catalog={}"),
}


#: Why ``--relative-calibration`` is refused rather than ignored (ignoring it would give the user
#: a differently calibrated product without a word).
_NO_RELATIVE_CALIBRATION = (
    "--relative-calibration is not available: potpyri calibrates every stack against a "
    "reference catalog (zeropoint step); run without it"
)


def main_pipeline(argv: list[str] | None = None) -> None:
    """Entry point of ``main_pipeline INSTRUMENT DATA_PATH [options]`` (reference-compatible).

    Options are translated into overrides of the ``potpyri`` command; extra ``key=value``
    overrides may follow. Options for steps this version does not have are reported and ignored.
    """
    parser = argparse.ArgumentParser(
        prog="main_pipeline",
        description="Reduce a night with the reference pipeline's options "
        "(translated to potpyri overrides).",
    )
    parser.add_argument(
        "instrument", help=f"one of {', '.join(n.upper() for n in instrument_names())}"
    )
    parser.add_argument("data_path", help="folder holding raw/ (products go to DATA_PATH/red)")
    parser.add_argument("--target", help="only reduce targets whose name contains this string")
    parser.add_argument("--proc", help="raw file-name mode: raw, archive or dragons")
    parser.add_argument("--include-bad", "--incl-bad", action="store_true", dest="include_bad")
    parser.add_argument("--no-redo-sort", action="store_true")
    parser.add_argument("--file-list-name")
    parser.add_argument("--phot-sn-min", type=float)
    parser.add_argument("--phot-sn-max", type=float)
    parser.add_argument("--fwhm-init", type=float)
    parser.add_argument("--skip-skysub", action="store_true")
    parser.add_argument("--bkg-sub")
    parser.add_argument("--fieldcenter", nargs=2, metavar=("RA", "DEC"))
    parser.add_argument("--out-size", type=int)
    parser.add_argument("--skip-flatten", action="store_true")
    parser.add_argument("--skip-cr", action="store_true")
    parser.add_argument(
        "--skip-fine-align", "--skip-gaia", action="store_true", dest="skip_fine_align"
    )
    parser.add_argument("--fine-align-catalog")
    parser.add_argument("--skip-external-astrometry", action="store_true")
    parser.add_argument("--keep-all-astro", action="store_true")
    parser.add_argument("--relative-calibration", action="store_true", help="not available")
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    unknown = [e for e in extra if e.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.relative_calibration:
        print(f"main_pipeline: error: {_NO_RELATIVE_CALIBRATION}", file=sys.stderr)
        sys.exit(ExitCode.config_error)
    overrides = [f"instrument={args.instrument.lower()}", f"data_path={args.data_path}"]
    if args.target:
        overrides.append(f"target={args.target}")
    for option, (needs, template) in _OPTIONS.items():
        value = getattr(args, option)
        if value is not None and value is not False:  # a value, or a flag that was given
            overrides += _if_step(needs, template.format(value), option, STEPS)
    if args.fieldcenter:
        ra, dec = args.fieldcenter
        overrides += _if_step(
            "resample", f"resample.fieldcenter_deg=[{ra},{dec}]", "fieldcenter", STEPS
        )
    main(overrides + extra)


def _if_step(step: str, override: str, option: str, steps: dict) -> list[str]:
    if step in steps:
        return [override]
    flag = "--" + option.replace("_", "-")
    print(
        f"main_pipeline: warning: {flag} ignored: this potpyri has no {step!r} step yet",
        file=sys.stderr,
    )
    return []


def demo(argv: list[str] | None = None) -> None:
    """Entry point of ``potpyri-demo [DIR]`` (and ``potpyri demo [DIR]``): simulate a small
    GMOS-N night (see :mod:`potpyri.sim.demo`) and reduce it."""
    main(prepare_demo(sys.argv[1:] if argv is None else argv))
