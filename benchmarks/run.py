"""The potpyri benchmark: simulate a standard night, reduce it, report speed, memory and accuracy.

One command (from a clone with ``pip install -e .[test]``)::

    python benchmarks/run.py --out /tmp/bench                 # the standard night, 1 worker
    python benchmarks/run.py --out /tmp/bench --workers 1,2   # + speed-up of the per-frame steps
    python benchmarks/run.py --out /tmp/bench --frames 9,18,36  # wall time / peak RSS vs frames
    python benchmarks/run.py --out /tmp/bench --reference     # + PyPI potpyri 1.0.18 side by side
    python benchmarks/run.py --out /tmp/bench-quick --quick   # small detector, few frames (< 2 min)

The standard night: GMOS-N Hamamatsu (12 amplifiers), 2×2 binning, full detector, 2 targets ×
2 filters (r, i) × N dithered frames, with biases and flats (``potpyri.sim.simulate_night``).
Nights are simulated once into ``OUT/night-*`` and reused. Every reduction runs in a fresh
subprocess with a cold cache so that its wall time, CPU time (``wait4``, children included) and
peak RSS are its own; per-step figures come from the runner's task records
(``executor.measure_memory=true`` resets the peak-RSS counter per task). ``--workers 1`` is the
serial executor; ``--workers 2`` the process pool with 2 workers. Results go to
``OUT/results.json`` and ``OUT/results.md``; with ``--publish`` also to ``benchmarks/RESULTS.md``
and ``benchmarks/RESULTS.json``, which are written only by this script, from one run, with the
commit measured and the command line (never edited by hand: re-run to update them)::

    python benchmarks/run.py --out /tmp/bench --workers 1,2 --threads 1 --publish

Accuracy figures come from the simulator's truth and are printed only for steps that exist and
ran; otherwise the table says "n/a (step not available)".
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REFERENCE_VERSION = "1.0.18"
#: What ``--publish`` writes: the Markdown report and the run's figures it was rendered from.
PUBLISHED_MD = HERE / "RESULTS.md"
PUBLISHED_JSON = HERE / "RESULTS.json"


# -- the night ------------------------------------------------------------------------------------


def night_setup(quick: bool) -> dict[str, Any]:
    """simulate_night arguments of the standard night (or of the quick one)."""
    if quick:
        return {
            "fmt": "gmos-n",
            "targets": 1,
            "bands": ["r"],
            "size": "small",
            "binning": None,
            "variant": "ham",
            "rejects": False,
        }
    return {
        "fmt": "gmos-n",
        "targets": 2,
        "bands": ["r", "i"],
        "size": "full",
        "binning": [2, 2],
        "variant": "ham",
        "rejects": False,
    }


def simulate(out: Path, frames: int, quick: bool, seed: int) -> tuple[Path, float]:
    """Simulate (or reuse) the night with ``frames`` dithered frames per target and band."""
    from potpyri.sim.night import simulate_night

    setup = night_setup(quick)
    folder = out / f"night-{'quick' if quick else 'standard'}-{frames}"
    done = folder / "SIMULATED.json"
    if done.is_file():
        return folder, json.loads(done.read_text())["seconds"]
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    args = {k: v for k, v in setup.items() if k != "fmt"}
    if args["binning"] is not None:
        args["binning"] = tuple(args["binning"])
    simulate_night(setup["fmt"], folder, seed=seed, frames=frames, **args)
    seconds = time.perf_counter() - start
    done.write_text(
        json.dumps({"seconds": seconds, "setup": setup, "frames": frames, "seed": seed})
    )
    return folder, seconds


# -- one reduction in a subprocess ----------------------------------------------------------------


def reduce_night(
    night: Path,
    run_dir: Path,
    workers: int,
    steps: list[str] | None,
    profile: bool = False,
    threads: int = 0,
) -> dict[str, Any]:
    """Reduce ``night`` into ``run_dir`` (cold cache) in a subprocess; its measured figures."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    (run_dir / "raw").symlink_to((night / "raw").resolve())
    overrides = [
        "instrument=gmos",
        f"data_path={run_dir}",
        "catalog.offline=true",
        f"catalog.cache_dir={night / 'catalog_cache'}",
        "executor.measure_memory=true",
    ]
    overrides += (
        ["executor=serial"]
        if workers == 1
        else ["executor=processes", f"executor.workers={workers}"]
    )
    if threads:
        overrides.append(f"executor.threads={threads}")
    if steps:
        overrides.append(f"pipeline.steps=[{','.join(steps)}]")
    spec = {
        "overrides": overrides,
        "result": str(run_dir / "bench_result.json"),
        "profile": str(run_dir / "profile.txt") if profile else None,
    }
    (run_dir / "bench_spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "POTPYRI_PLAIN_LOG": "1", "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    with open(run_dir / "bench.log", "w") as logfile:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--_reduce",
                str(run_dir / "bench_spec.json"),
            ],
            stdout=logfile,
            stderr=logfile,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (run_dir / "bench.log").read_text().splitlines()[-15:]
        raise RuntimeError(
            f"reduction failed (exit {proc.returncode}); see {run_dir / 'bench.log'}:\n"
            + "\n".join(tail)
        )
    result = json.loads((run_dir / "bench_result.json").read_text())
    task_peak = max([r["peak_rss_mb"] for r in result["records"]] or [0.0])
    result.update(
        {
            "workers": workers,
            "wall_seconds": wall,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            # ru_maxrss: the largest single process (the runner or one pool worker); the runner's
            # per-task counter resets can hide the runner's own peak, so the task peaks count too.
            "peak_rss_mb": max(usage.ru_maxrss / 1024, task_peak),
            "task_peak_mb": task_peak,
        }
    )
    return result


def _child(spec_path: str) -> None:
    """The subprocess side of :func:`reduce_night`: compose, validate, run, dump the records."""
    import dataclasses
    import logging
    import resource

    from hydra import compose, initialize_config_module

    import potpyri.schema  # noqa: F401
    from potpyri.framework.step import STEPS
    from potpyri.pipeline import run_pipeline, step_list, validate

    spec = json.loads(Path(spec_path).read_text())
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] %(message)s"
    )
    with initialize_config_module(config_module="potpyri.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=spec["overrides"])
    validate(cfg)
    names = step_list(cfg)
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    result = run_pipeline(cfg)
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        Path(spec["profile"]).write_text(text.getvalue())
    frames = [i for i in result.items if i.kind == "frame"]
    science = [i for i in frames if i.meta.get("type") == "SCIENCE" and not i.meta.get("excluded")]
    out = {
        "steps": names,
        "scopes": {n: STEPS[n].scope.value for n in names},
        "step_seconds": result.step_seconds,
        "records": [dataclasses.asdict(r) for r in result.records],
        "n_science": len(science),
        "items": [
            {"id": i.id, "kind": i.kind, "meta": i.meta, "files": i.files, "failed": i.failed}
            for i in result.items
        ],
        # The programs the run waited for: solve-field, build-astrometry-index, pool workers.
        "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    Path(spec["result"]).write_text(json.dumps(out, default=str))


# -- summaries ------------------------------------------------------------------------------------


def step_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per step: tasks, wall time, summed task CPU time, largest task peak RSS."""
    rows = []
    for name in result["steps"]:
        recs = [r for r in result["records"] if r["step"] == name]
        statuses: dict[str, int] = {}
        for r in recs:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        rows.append(
            {
                "step": name,
                "scope": result["scopes"][name],
                "tasks": ", ".join(f"{v} {k}" for k, v in statuses.items()),
                "wall_s": result["step_seconds"].get(name, 0.0),
                "cpu_s": sum(r["cpu_seconds"] for r in recs),
                "peak_rss_mb": max([r["peak_rss_mb"] for r in recs] or [0.0]),
            }
        )
    return rows


def per_frame_seconds(result: dict[str, Any]) -> float:
    """Wall time of the frame-scoped steps (process, cosmic rays, sky, astrometry, ...)."""
    return sum(
        result["step_seconds"].get(n, 0.0)
        for n in result["steps"]
        if result["scopes"][n] == "frame"
    )


def accuracy(result: dict[str, Any], night: Path) -> dict[str, str]:
    """Truth comparisons of every stack: astrometric RMS, ZP error, photometric scatter."""
    from astropy.io import fits
    from astropy.table import Table

    from potpyri.sim.compare import stack_astrometry, stack_photometry, truth_zeropoint

    stacks = [
        i
        for i in result["items"]
        if i["kind"] == "target" and "stack" in i["files"] and not i["failed"]
    ]
    if not stacks:
        return {"accuracy": "n/a (no stack was made)"}
    truth_dir = night / "truth"
    stars = Table.read(truth_dir / "stars.ecsv")
    frames = Table.read(truth_dir / "frames.ecsv")
    astro, zp, phot = [], [], []
    for item in stacks:
        inputs = list(item["meta"].get("inputs", []))
        rows = frames[np.isin(frames["file"], inputs)]
        band = str(rows["band"][0])
        # The centroid box is sized on the true seeing (the stack is on the frames' pixel scale).
        fwhm = float(np.median(rows["seeing_fwhm_px"]))
        check = stack_astrometry(item["files"]["stack"], stars, fwhm=fwhm)
        astro.append(f"{check.rms:.3f} px ({check.n} stars)")
        header = fits.getheader(item["files"]["stack"])
        if "ZPTMAG" in header:
            truth, spread = truth_zeropoint(truth_dir, inputs)
            zp.append(
                f"{header['ZPTMAG'] - truth:+.3f} ± {header['ZPTMUCER']:.3f} "
                f"({header['ZPTNSTAR']} stars)"
            )
        if "psfphot" in item["files"] and "ZPTMAG" in header:
            p = stack_photometry(Table.read(item["files"]["psfphot"]), stars, band)
            phot.append(
                f"median {p.median:+.3f}, scatter {p.scatter:.3f} mag, pull σ "
                f"{1.4826 * np.median(np.abs(p.pull - np.median(p.pull))):.2f} ({p.n} stars S/N>50)"
            )
    return {
        "stack astrometric RMS vs truth": "; ".join(astro),
        "ZP error (ZPTMAG - truth)": "; ".join(zp) or "n/a (no zero point)",
        "photometric scatter (PSF mag - truth)": "; ".join(phot)
        or "n/a (no calibrated photometry)",
    }


def photometry_rate(result: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """CPU time of the photometry step per measured source (flat if fits scale linearly)."""
    sources = sum(
        int(i["meta"].get("nsources", 0)) for i in result["items"] if i["kind"] == "target"
    )
    cpu = sum(r["cpu_s"] for r in rows if r["step"] == "photometry")
    if not sources:
        return "n/a (no sources measured)"
    return f"{1000 * cpu / sources:.1f} ms CPU per source ({sources} sources, {cpu:.1f} s)"


def stack_vs_ccdproc(result: dict[str, Any]) -> str:
    """The stack step alone against ccdproc.combine (benchmarks/compare_stack.py)."""
    return _comparison("compare_stack", result)


def resample_vs_reproject(result: dict[str, Any]) -> str:
    """The resample step against reproject_interp (benchmarks/compare_resample.py)."""
    return _comparison("compare_resample", result)


def _comparison(name: str, result: dict[str, Any]) -> str:
    """Run ``benchmarks/<name>.py``'s function of the same name on the run's frames, as JSON."""
    sys.path.insert(0, str(HERE))
    try:
        module = importlib.import_module(name)
    except ImportError:
        return f"n/a (benchmarks/{name}.py not available)"
    return json.dumps(_call(getattr(module, name), result), default=str)


def _call(fn, result: dict[str, Any]) -> Any:
    """Call a comparison with the frames of the first target group that reached the stack."""
    stack_inputs = [
        i
        for i in result["items"]
        if i["kind"] == "frame"
        and "image" in i["files"]
        and i["meta"].get("type") == "SCIENCE"
        and not i["failed"]
    ]
    groups: dict[str, list[str]] = {}
    for item in stack_inputs:
        groups.setdefault(item["meta"].get("targtype", ""), []).append(item["files"]["image"])
    if not groups:
        return "n/a (no science frames)"
    first = sorted(groups)[0]
    try:
        return fn([Path(p) for p in groups[first]])
    except Exception as exc:  # report, do not hide, a comparison that cannot run
        return f"failed: {type(exc).__name__}: {exc}"


# -- the reference pipeline ----------------------------------------------------------------------


def run_reference(night: Path, out: Path, timeout: float) -> dict[str, Any]:
    """Install PyPI potpyri==1.0.18 into its own venv and time its main_pipeline on ``night``."""
    venv = out / "reference-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"potpyri=={REFERENCE_VERSION}"], check=True
        )
    data = out / f"reference-{night.name}"
    shutil.rmtree(data, ignore_errors=True)
    (data / "raw").mkdir(parents=True)
    for raw in (night / "raw").iterdir():
        (data / "raw" / raw.name).symlink_to(raw.resolve())
    cmd = [
        str(venv / "bin" / "main_pipeline"),
        "GMOS",
        str(data),
        "--skip-gaia",
        "--skip-external-astrometry",
    ]
    # The reference calls Source Extractor as `sex` and checks that `sex -h` says "syntax: sex";
    # Debian installs it as `source-extractor`, which names itself so: a wrapper renames it.
    shims = out / "reference-bin"
    shims.mkdir(exist_ok=True)
    found = shutil.which("sex") or shutil.which("source-extractor")
    if found and not (shims / "sex").exists():
        (shims / "sex").write_text(
            "#!/bin/sh\n"
            f'if [ "$1" = "-h" ]; then "{found}" -h 2>&1 '
            '| sed "s/source-extractor/sex/g" >&2; exit 0; fi\n'
            f'exec "{found}" "$@"\n'
        )
        (shims / "sex").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    start = time.perf_counter()
    try:
        with open(data / "reference.log", "w") as log:
            proc = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env
            )
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    wall = time.perf_counter() - start
    tail = (data / "reference.log").read_text(errors="replace").splitlines()[-12:]
    return {
        "command": " ".join(cmd),
        "exit": code,
        "wall_seconds": wall,
        "log_tail": tail,
        "log": str(data / "reference.log"),
    }


# -- main -----------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def machine() -> str:
    """One line describing the machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, load average at start {load}"
    )


def git_commit() -> str:
    """The commit measured (``+dirty`` when tracked files differ from it), or ``unknown``."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}+dirty" if dirty else sha


def publish(report: dict[str, Any], md_path: Path, json_path: Path) -> None:
    """Write the published report (Markdown) and the figures it is rendered from (JSON)."""
    json_path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    md_path.write_text(published_markdown(report))


def published_markdown(report: dict[str, Any]) -> str:
    """``benchmarks/RESULTS.md``: a header saying where the figures come from, then the report."""
    header = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run.py` from one run: commit {report.get('commit', 'unknown')}, "
        f"measured {report.get('measured', 'unknown')}, command "
        f"`python benchmarks/run.py {' '.join(report.get('argv', []))}`. Do not edit by hand: "
        "re-run the command (add `--publish`) to update this file and `RESULTS.json`. "
        "Accuracy figures are against the simulator's truth (`potpyri.sim.compare`); what CI "
        "checks of them is listed in `docs/verification.rst`.",
        "",
    ]
    return "\n".join(header) + markdown(report) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line of the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        required=False,
        default=Path("bench-out"),
        help="work and result folder (nights are reused from here)",
    )
    parser.add_argument("--quick", action="store_true", help="small detector, 1 target, 1 filter")
    parser.add_argument("--frames", default=None, help="frames per target and filter, e.g. 9,18,36")
    parser.add_argument("--workers", default="1", help="worker counts to compare, e.g. 1,2")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads of compiled code per worker (default: cores / workers; "
        "1 compares pure process scaling)",
    )
    parser.add_argument(
        "--steps", default=None, help="explicit step list (default: the pipeline's)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the first reduction")
    parser.add_argument(
        "--reference",
        action="store_true",
        help=f"also time PyPI potpyri=={REFERENCE_VERSION} (own venv, needs pip access)",
    )
    parser.add_argument("--reference-timeout", type=float, default=3600.0)
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also write benchmarks/RESULTS.md and RESULTS.json from this run (with the commit)",
    )
    parser.add_argument("--_reduce", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._reduce:
        _child(args._reduce)
        return 0

    out = args.out.absolute()
    out.mkdir(parents=True, exist_ok=True)
    frames_list = _ints(args.frames) if args.frames else [3 if args.quick else 9]
    workers_list = _ints(args.workers)
    steps = args.steps.split(",") if args.steps else None
    report: dict[str, Any] = {
        "commit": git_commit(),
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "argv": [a for a in (sys.argv[1:] if argv is None else argv) if a != "--publish"],
        "machine": machine(),
        "setup": night_setup(args.quick),
        "threads": args.threads,
        "runs": [],
    }
    print(f"machine: {report['machine']}")
    first = True
    for frames in frames_list:
        night, sim_seconds = simulate(out, frames, args.quick, args.seed)
        print(
            f"\nnight: {night} ({frames} frames per target and filter; "
            f"simulated in {sim_seconds:.0f} s)"
        )
        for workers in workers_list:
            run_dir = out / f"run-{night.name}-w{workers}"
            result = reduce_night(
                night, run_dir, workers, steps, profile=args.profile and first, threads=args.threads
            )
            first = False
            rows = step_table(result)
            run = {
                "frames": frames,
                "workers": workers,
                "night": str(night),
                "sim_seconds": sim_seconds,
                "wall_seconds": result["wall_seconds"],
                "cpu_seconds": result["cpu_seconds"],
                "peak_rss_mb": result["peak_rss_mb"],
                "n_science": result["n_science"],
                "task_peak_mb": result["task_peak_mb"],
                "children_peak_mb": result.get("children_peak_mb", 0.0),
                "frames_per_minute": 60 * result["n_science"] / result["wall_seconds"],
                "per_frame_seconds": per_frame_seconds(result),
                "steps": rows,
                "accuracy": accuracy(result, night),
                "photometry": photometry_rate(result, rows),
            }
            if workers == workers_list[0] and frames == frames_list[0]:
                run["stack_vs_ccdproc"] = stack_vs_ccdproc(result)
                run["resample_vs_reproject"] = resample_vs_reproject(result)
            report["runs"].append(run)
            print_run(run)
            (out / "results.json").write_text(json.dumps(report, indent=1, default=str))
    print_scaling(report)
    if args.reference:
        night, _ = simulate(out, frames_list[0], args.quick, args.seed)
        print(f"\nreference: installing potpyri=={REFERENCE_VERSION} and running main_pipeline ...")
        report["reference"] = run_reference(night, out, args.reference_timeout)
        ref = report["reference"]
        print(
            f"reference: exit {ref['exit']} after {ref['wall_seconds']:.0f} s ({ref['log']}); "
            "last lines:"
        )
        print("\n".join(f"    {line}" for line in ref["log_tail"]))
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "results.md").write_text(markdown(report))
    print(f"\nresults: {out / 'results.json'}, {out / 'results.md'}")
    if args.publish:
        publish(report, PUBLISHED_MD, PUBLISHED_JSON)
        print(f"published: {PUBLISHED_MD}, {PUBLISHED_JSON}")
    return 0


def print_run(run: dict[str, Any]) -> None:
    """The per-step table of one reduction, and its totals."""
    print(
        f"\n== {run['frames']} frames/target/filter, {run['workers']} worker(s): "
        f"{run['n_science']} science frames"
    )
    print(f"{'step':<12} {'scope':<9} {'tasks':<22} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
    for row in run["steps"]:
        print(
            f"{row['step']:<12} {row['scope']:<9} {row['tasks']:<22} {row['wall_s']:8.1f} "
            f"{row['cpu_s']:8.1f} {row['peak_rss_mb']:12.0f}"
        )
    print(
        f"{'total':<44} {run['wall_seconds']:8.1f} {run['cpu_seconds']:8.1f} "
        f"{run['peak_rss_mb']:12.0f}"
    )
    print(
        f"frames per minute: {run['frames_per_minute']:.2f}; "
        f"per-frame steps: {run['per_frame_seconds']:.1f} s"
    )
    for label, value in run["accuracy"].items():
        print(f"{label}: {value}")
    print(f"photometry: {run['photometry']}")
    for key in ("stack_vs_ccdproc", "resample_vs_reproject"):
        if key in run:
            print(f"{key}: {run[key]}")


def print_scaling(report: dict[str, Any]) -> None:
    """Speed-up of the per-frame steps with workers; wall time and peak RSS against frames."""
    runs = report["runs"]
    by_frames: dict[int, dict[int, dict]] = {}
    for run in runs:
        by_frames.setdefault(run["frames"], {})[run["workers"]] = run
    for frames, group in by_frames.items():
        if 1 in group and len(group) > 1:
            base = group[1]["per_frame_seconds"]
            for workers, run in sorted(group.items()):
                if workers != 1 and base > 0:
                    print(
                        f"\nper-frame steps, {frames} frames: {workers} workers take "
                        f"{run['per_frame_seconds'] / base:.2f}x the 1-worker time "
                        f"({run['per_frame_seconds']:.1f} s vs {base:.1f} s)"
                    )
    series = sorted((r["frames"], r) for r in runs if r["workers"] == runs[0]["workers"])
    if len(series) > 1:
        print(f"\nframes series ({runs[0]['workers']} worker(s)):")
        for frames, run in series:
            print(
                f"  {frames:3d} frames/target/filter: wall {run['wall_seconds']:.0f} s, "
                f"peak RSS {run['peak_rss_mb']:.0f} MB (largest pipeline task "
                f"{run.get('task_peak_mb', 0):.0f} MB, largest external program or pool worker "
                f"{run.get('children_peak_mb', 0):.0f} MB)"
            )


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables (``--publish`` puts them in benchmarks/RESULTS.md)."""
    threads = report.get("threads") or "cores / workers"
    lines = [
        f"Commit: {report.get('commit', 'unknown')}; measured {report.get('measured', 'unknown')}.",
        "",
        f"Machine: {report['machine']}",
        "",
        f"Night: `{json.dumps(report['setup'])}`",
        "",
        f"Threads of compiled code per worker: {threads}.",
        "",
    ]
    for run in report["runs"]:
        lines += [
            f"### {run['frames']} frames per target and filter, {run['workers']} worker(s)",
            "",
            f"{run['n_science']} science frames; simulated in {run['sim_seconds']:.0f} s.",
            "",
            "| step | scope | tasks | wall s | CPU s | peak RSS MB |",
            "|---|---|---|---:|---:|---:|",
        ]
        for row in run["steps"]:
            lines.append(
                f"| {row['step']} | {row['scope']} | {row['tasks']} | {row['wall_s']:.1f} | "
                f"{row['cpu_s']:.1f} | {row['peak_rss_mb']:.0f} |"
            )
        lines += [
            f"| **total** | | | **{run['wall_seconds']:.1f}** | **{run['cpu_seconds']:.1f}** | "
            f"**{run['peak_rss_mb']:.0f}** |",
            "",
            f"Frames per minute: {run['frames_per_minute']:.2f}. "
            f"Per-frame steps: {run['per_frame_seconds']:.1f} s.",
            "",
        ]
        lines += [f"- {label}: {value}" for label, value in run["accuracy"].items()]
        lines.append(f"- photometry: {run.get('photometry', 'n/a')}")
        for key in ("stack_vs_ccdproc", "resample_vs_reproject"):
            if key in run:
                lines.append(f"- {key}: {run[key]}")
        lines.append("")
    if "reference" in report:
        ref = report["reference"]
        lines += [
            "### Reference pipeline",
            "",
            f"`{ref['command']}`: exit {ref['exit']} after {ref['wall_seconds']:.0f} s",
            "",
            "```",
            *ref["log_tail"],
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
