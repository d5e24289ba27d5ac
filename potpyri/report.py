"""The run's QA page, ``red/qa/index.html``: a static page that opens from disk.

The per-stack figures and values come from the ``qa`` step's items (its PNGs are published next to
this page); the per-frame table, the QC flags and the run summary come from the runner's items and
records, which only the caller of the runner has, so the page is written after the run (by the
command line: this module reads the runner's result, so it sits beside the CLI, not in the
science package :mod:`potpyri.qa`).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from astropy.io import fits

from potpyri import __version__
from potpyri.files import write_atomic
from potpyri.framework.outcome import earlier_products, product_run_id, run_outcome
from potpyri.framework.runner import RunResult
from potpyri.framework.summary import FATE_LISTS, step_totals
from potpyri.qa.names import DETECTIONS_LABEL, MASK_CLASSES, STAMP_FWHM_LABEL
from potpyri.qa.stack_file import HEADER_VALUES

__all__ = ["frame_rows", "qc_warnings", "read_sweep", "write_report"]

log = logging.getLogger("potpyri")

_STATUSES = (
    "ran",
    "cached",
    "flagged",
    "passed",
    "skipped",
    "failed",
    "rejected",
    "excluded",
    "empty",
)

#: What each header card of a stack shows, by keyword (docs/keywords.yaml has the definitions).
#: One name a quantity: the seeing FWHM is the photometry step's FWHM card, the source count its
#: NSOURCES card; the qa step's own measurements below have names of their own.
_HEADER_LABELS = {
    "NCOMBINE": "frames combined",
    "EXPTIME": "exposure time [s]",
    "FWHM": "seeing FWHM [px]",
    "SKYSIG": "sky noise per pixel [e⁻/s]",
    "NSOURCES": "sources detected (rows of the photometry catalog)",
    "NPSFSTAR": "PSF stars",
    "PHOTMETH": "photometry method",
    "PHOTWHY": "why no PSF photometry",
    "PSFSIGX": "PSF sigma x [px]",
    "PSFSIGY": "PSF sigma y [px]",
    "ZPTMAG": "zero point [mag]",
    "ZPTMUCER": "zero-point uncertainty [mag]",
    "ZPTNSTAR": "zero-point stars",
    "ZPTCAT": "zero-point catalog",
    "ZPTBAND": "zero-point catalog band",
    "M3SIGMA": "3σ limiting magnitude",
    "M5SIGMA": "5σ limiting magnitude",
    "M10SIGMA": "10σ limiting magnitude",
    "RADISP": 'astrometric dispersion RA ["]',
    "DEDISP": 'astrometric dispersion Dec ["]',
    "NASTRO": "astrometric reference stars",
    "ASTROMET": "astrometric solver",
    "STKMETH": "stack method",
    "PPRCPSHA": "recipe digest",
}

#: Readable names of the qa step's own measurements.
_LABELS = {
    "pixscale": 'QA pixel scale ["/px]',
    "n_sources": DETECTIONS_LABEL,
    "n_catalog": "QA catalog stars in the cone",
    "n_catalog_inside": "QA catalog stars inside the stack",
    "n_matched": "QA point sources matched to the catalog",
    "rms_ra": 'QA residual scatter RA ["]',
    "rms_dec": 'QA residual scatter Dec ["]',
    "median_dra": 'QA median offset RA ["]',
    "median_ddec": 'QA median offset Dec ["]',
    "psf_source": "QA PSF stamp from",
    "n_psf_stars": "QA PSF stamp stars",
    "psf_sigma_x": "QA PSF stamp sigma x [px]",
    "psf_sigma_y": "QA PSF stamp sigma y [px]",
    "psf_asymmetry": "QA PSF stamp |σx−σy|/max",
    "moffat_fwhm": f"QA {STAMP_FWHM_LABEL} [px] (Moffat fit of the PSF stamp)",
    "moffat_alpha": "QA Moffat α of the PSF stamp",
    "n_zp_stars": "QA zero-point stars used",
    "dispersion_cut_px": "QA dispersion cut [px]",
}

#: QA measurements of what a header card already states: shown only when the card is absent (the
#: product's card is the one value of its quantity; the stamp FWHM stays in the PSF figure).
_SHOWN_BY_CARD = {
    "moffat_fwhm": "FWHM",
    "moffat_alpha": "FWHM",
    "n_psf_stars": "NPSFSTAR",
    "psf_sigma_x": "PSFSIGX",
    "psf_sigma_y": "PSFSIGY",
    "n_zp_stars": "ZPTNSTAR",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1250px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{margin-bottom:.3em} .meta{color:#555;font-size:.92em}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.flags li{color:#a00} .ok{color:#070} .na{color:#777;font-style:italic}
figure{display:inline-block;margin:.4em .6em .8em 0;vertical-align:top}
figure img{max-width:100%;border:1px solid #ddd}
.stack{display:flex;flex-wrap:wrap;gap:.8em;align-items:flex-start}
.values{flex:0 0 auto;max-width:560px}
figcaption{font-size:.85em;color:#555;max-width:620px} .fig-preview img{width:470px}
.fig-psf img,.fig-astrometry img{width:620px}
.fig-zeropoint img{width:900px} nav a{margin-right:1em} .aside{color:#a00}
"""


def write_report(
    result: RunResult,
    recipe: Path | None = None,
    log_dir: Path | None = None,
    title: str | None = None,
) -> Path:
    """Write ``<publish_root>/qa/index.html`` for a finished run and return its path.

    Parameters
    ----------
    result : RunResult
        What the runner returned (items and task records).
    recipe, log_dir : Path, optional
        The run's ``recipe.yaml`` and log folder, linked from the page; a sweep job's swept
        values are read from the folder's ``run.json`` / ``summary.json`` (see
        :func:`read_sweep`).
    title : str, optional
        Page title; default the data path.
    """
    folder = Path(result.publish_root) / "qa"
    folder.mkdir(parents=True, exist_ok=True)
    qa_items = sorted((i for i in result.items if i.kind == "qa"), key=lambda i: i.id)
    stacks = sorted((i for i in result.items if i.kind == "target"), key=lambda i: i.id)
    frames = frame_rows(result)
    flags = qc_warnings(result)
    rejected = [r for r in result.records if r.status == "rejected"]
    excluded = [r for r in result.records if r.status == "excluded"]
    outcome = run_outcome(result)
    ran_qa = any(r.step == "qa" for r in result.records)
    sweep = read_sweep(log_dir)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>potpyri QA: {_e(title or result.publish_root)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>potpyri QA report</h1>",
        f'<p class="meta">{_e(str(result.publish_root))} · potpyri {_e(__version__)} · written '
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}"
        + _links(folder, recipe, log_dir)
        + "</p>",
        f'<p id="outcome" class="{"ok" if outcome.code == 0 else "aside"}">'
        f"run {_e(result.run_id)}: {_e(outcome.line)} (exit code {int(outcome.code)})</p>",
        *_sweep_line(sweep),
        *_set_aside_line(rejected, excluded),
        '<nav><a href="#flags">QC flags</a><a href="#stacks">stacks</a><a href="#frames">frames</a>'
        '<a href="#products">products</a><a href="#summary">run summary</a></nav>',
        '<h2 id="flags">QC flags</h2>',
    ]
    if flags:
        parts.append('<ul class="flags">' + "".join(f"<li>{_e(f)}</li>" for f in flags) + "</ul>")
    else:
        parts.append(
            '<p class="ok">No QC flag raised.</p>'
            if ran_qa
            else '<p class="na">not available (step qa did not run)</p>'
        )
    for status, heading, note, _ in FATE_LISTS:
        records = [r for r in result.records if r.status == status]
        if records:
            parts.append(
                f'<h3 id="fate-{status}">{_e(heading[0].upper() + heading[1:])}</h3>'
                + _table(["step", "task", note], [[r.step, r.task, r.note] for r in records])
            )
    parts.append('<h2 id="stacks">Stacks</h2>')
    if not stacks:
        parts.append('<p class="na">No stack was made (see the frames and the run summary).</p>')
    by_id = {i.id: i for i in qa_items}
    for stack in stacks:
        parts += _stack_section(stack, by_id.get(stack.id), ran_qa)
    parts.append('<h2 id="frames">Frames</h2>')
    parts.append(
        '<p class="meta">Seeing FWHM: Moffat fit of a median stamp of bright isolated stars '
        "(qa step; the frame header's FWHM when it could not fit); "
        "σ vs Gaia: robust scatter of detected minus Gaia positions (qa step); RADISP/DEDISP: "
        "the align step's header values.</p>"
    )
    parts.append(
        _table(
            [
                "frame",
                "target",
                "filter",
                "exptime [s]",
                "sky [e⁻]",
                "seeing FWHM [px]",
                'σ RA vs Gaia ["]',
                'σ Dec vs Gaia ["]',
                'RADISP ["]',
                'DEDISP ["]',
                "fate",
            ],
            [list(r.values()) for r in frames],
        )
        if frames
        else '<p class="na">No science frame.</p>'
    )
    products = _product_rows(result)
    parts.append('<h2 id="products">Products</h2>')
    parts.append(
        f'<p class="meta">Files in {_e(str(result.publish_root))} (not its cache, logs or '
        f"workspace): this run ({_e(result.run_id)}) made or reused them, or an earlier run left "
        "them (its id from the file's PPRUNID).</p>"
    )
    parts.append(
        _table(["file", "made by"], [[p["file"], p["made_by"]] for p in products])
        if products
        else '<p class="na">No product.</p>'
    )
    parts.append('<h2 id="summary">Run summary</h2>')
    parts.append(_table(["step", *_STATUSES, "time [s]"], _summary_rows(result)))
    data = {
        "run_id": result.run_id,
        "sweep": sweep,
        "outcome": outcome.line,
        "exit_code": int(outcome.code),
        "products": products,
        "rejected": {r.task: r.note for r in rejected},
        "excluded": {r.task: r.note for r in excluded},
        "stacks": {i.id: i.meta for i in qa_items},
        "frames": frames,
        "flags": flags,
        "records": [
            {
                "step": r.step,
                "task": r.task,
                "status": r.status,
                "seconds": r.seconds,
                "note": r.note,
            }
            for r in result.records
        ],
    }
    # JSON for scripts and tests; "</" is escaped so the data cannot close the script element.
    parts.append(
        '<script type="application/json" id="qa-data">'
        + json.dumps(_clean(data), default=str).replace("</", "<\\/")
        + "</script>"
    )
    parts.append("</body></html>")
    path = write_atomic("\n".join(parts) + "\n", folder / "index.html")
    log.debug(
        "QA report: %d stack section(s), %d frame row(s), figures: %s",
        len(stacks),
        len(frames),
        ", ".join(p for i in qa_items for p in i.meta.get("plots", {}).values()) or "none",
    )
    for flag in flags:
        log.warning("QC: %s", flag)
    log.info("QA report: %s", path)
    return path


def read_sweep(log_dir: Path | None) -> dict[str, Any]:
    """The swept values of a sweep job (``"sweep"``: key -> value, in the run's ``run.json`` or
    ``summary.json``), or an empty dict for a single run or records without them."""
    if log_dir is None:
        return {}
    for name in ("run.json", "summary.json"):
        path = Path(log_dir) / name
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        sweep = record.get("sweep") if isinstance(record, dict) else None
        if isinstance(sweep, dict) and sweep:
            return sweep
    return {}


def _sweep_line(sweep: dict[str, Any]) -> list[str]:
    """The header line of a sweep job: the value each swept key took in this job."""
    if not sweep:
        return []
    values = ", ".join(f"{key} = {_fmt(value)}" for key, value in sweep.items())
    return [f'<p id="sweep"><b>Sweep job:</b> {_e(values)}</p>']


def _set_aside_line(rejected: list, excluded: list) -> list[str]:
    """One line under the outcome pointing to the input files the run could not or did not use."""
    counts = [
        f'<a href="#fate-{status}">{len(records)} input file(s) {status}</a>'
        for status, records in (("rejected", rejected), ("excluded", excluded))
        if records
    ]
    if not counts:
        return []
    return [f'<p class="aside">{" and ".join(counts)}, each with its reason below.</p>']


def _product_rows(result: RunResult) -> list[dict[str, str]]:
    """The product files in the run's product folder and its ``cals/`` (the workspace holds
    intermediate frames): this run's, then those an earlier run left, with that run's id."""
    root = result.publish_root
    ours = [p for p in result.published if p.parent in (root, root / "cals")]
    rows = [{"file": _rel(p, root), "made_by": "this run", "run_id": result.run_id} for p in ours]
    for path in earlier_products(result):
        if path.parent in (root, root / "cals"):
            run_id = product_run_id(path)
            made_by = f"an earlier run ({run_id or 'id unknown'}): not this run's"
            rows.append({"file": _rel(path, root), "made_by": made_by, "run_id": run_id})
    return rows


def qc_warnings(result: RunResult) -> list[str]:
    """Warnings the steps recorded (``meta["warnings"]``) and those of tasks that passed their
    frames through, one per line, in run order, without repeats."""
    seen: dict[str, None] = {}
    for rec in result.records:
        if rec.status in ("ran", "cached", "passed") and rec.note:
            for part in rec.note.split("; "):
                if part.strip():
                    seen.setdefault(f"[{rec.step}] {part.strip()}", None)
    return list(seen)


def frame_rows(result: RunResult) -> list[dict[str, Any]]:
    """One row per science frame: facts, header QC values, and whether it was kept (and why not)."""
    used: dict[str, str] = {}
    measured: dict[str, dict[str, Any]] = {}
    for item in result.items:
        if item.kind == "target":
            for frame in item.meta.get("inputs", []):
                used[frame] = Path(item.files.get("stack", item.id)).name
        if item.kind == "qa":
            measured.update(item.meta.get("frames", {}))
    rows = []
    for item in sorted(result.items, key=lambda i: i.id):
        if item.kind != "frame" or item.meta.get("type") != "SCIENCE":
            continue
        header: fits.Header | Any = {}
        image = item.files.get("image")
        if image and Path(image).exists():
            header = fits.getheader(image)
        if item.failed:
            fate = f"set aside: {item.failed}"
        elif item.meta.get("excluded"):
            fate = f"excluded: {item.meta['excluded']}"
        elif item.id in used:
            fate = f"kept → {used[item.id]}"
        else:
            fate = "not stacked"
        rows.append(
            {
                "frame": item.id,
                "target": item.meta.get("target", ""),
                "filter": item.meta.get("filter", ""),
                "exptime": item.meta.get("exp"),
                "sky": item.meta.get("sky_e", header.get("SKYLEVEL")),
                "fwhm": measured.get(item.id, {}).get("fwhm", header.get("FWHM")),
                "rms_ra": measured.get(item.id, {}).get("rms_ra"),
                "rms_dec": measured.get(item.id, {}).get("rms_dec"),
                "radisp": header.get("RADISP"),
                "dedisp": header.get("DEDISP"),
                "fate": fate,
            }
        )
    return rows


# -- HTML pieces -----------------------------------------------------------------------------------


def _stack_section(stack, qa, ran_qa: bool) -> list[str]:
    name = Path(stack.files.get("stack", stack.id)).name
    out = [f'<h3 id="{_e(stack.id)}">{_e(name)}</h3>']
    if qa is None:
        reason = (
            "step qa did not run"
            if not ran_qa
            else "the qa step failed for this stack (see the run summary)"
        )
        return out + [f'<p class="na">QA figures not available ({reason}).</p>']
    meta = qa.meta
    values = meta.get("header", {})
    measured = meta.get("measured", {})
    # Stored metadata comes back with sorted keys: show it in the step's order.
    rows = [
        [_HEADER_LABELS.get(k, k), k, values[k]]
        for k in (*HEADER_VALUES, *sorted(set(values) - set(HEADER_VALUES)))
        if k in values
    ]
    rows += [
        [_LABELS.get(k, k), "qa", measured[k]]
        for k in (*_LABELS, *sorted(set(measured) - set(_LABELS)))
        if measured.get(k) is not None and _SHOWN_BY_CARD.get(k) not in values
    ]
    out.append(
        '<div class="stack"><div class="values">'
        + _table(["quantity", "header keyword / qa", "value"], rows)
        + "</div>"
    )
    captions = {
        "preview": "Stack, asinh stretch, on RA/Dec axes with north (N) and east (E) arrows "
        "from the stack's WCS. Blue circles: catalog (Gaia) stars at their catalog positions "
        f"through the WCS; red crosses: {DETECTIONS_LABEL} (the qa step's own detections above "
        "qa.detect_nsigma; the photometry catalog's count is NSOURCES). Coloured areas are "
        "masked pixels (the stack's MASK): "
        + "; ".join(f"{name}: {label}" for _, name, label, _ in MASK_CLASSES)
        + " (the legend gives each one's share of the image).",
        "psf": "PSF stamp and radial profile with the fitted Moffat function. The "
        f"{STAMP_FWHM_LABEL} is this stamp's width, pixel response included; the seeing FWHM "
        "(header FWHM) is fitted star by star with the pixel integrated out, so it is smaller.",
        "astrometry": "Astrometric residuals of the stack (detected minus catalog position): "
        "vectors across the field and histogram of separations.",
        "frames": "Astrometric residuals (detected minus Gaia) of each input frame, same vector "
        "scale.",
        "zeropoint": "Zero-point fit: catalog vs instrumental magnitudes; residuals vs colour and "
        "vs magnitude. Crosses: clipped stars.",
    }
    for role in ("preview", "psf", "astrometry", "frames", "zeropoint"):
        png = meta.get("plots", {}).get(role)
        if png:
            out.append(
                f'<figure class="fig-{role}"><a href="{_e(png)}"><img src="{_e(png)}" '
                f'alt="{_e(role)} of {_e(name)}"></a>'
                f"<figcaption>{_e(captions[role])}</figcaption></figure>"
            )
        else:
            why = meta.get("missing", {}).get(role, "not available")
            out.append(f'<p class="na">{_e(role)}: {_e(why)}</p>')
    out.append("</div>")
    limits = [f"{k} = {_fmt(values[k])}" for k in ("M3SIGMA", "M5SIGMA", "M10SIGMA") if k in values]
    no_limits = meta.get("missing", {}).get("limits", "not available")
    out.append(
        "<p>Limiting magnitudes: "
        + (_e(", ".join(limits)) if limits else f'<span class="na">{_e(no_limits)}</span>')
        + "</p>"
    )
    for w in meta.get("warnings", []):
        out.append(f'<p class="aside">⚠ {_e(w)}</p>')
    return out


def _summary_rows(result: RunResult) -> list[list[str]]:
    return [
        [step, *(str(int(row[s])) for s in _STATUSES), f"{row['seconds']:.2f}"]
        for step, row in step_totals(result, _STATUSES).items()
    ]


def _links(folder: Path, recipe: Path | None, log_dir: Path | None) -> str:
    links = []
    if recipe is not None and Path(recipe).exists():
        links.append(f'<a href="{_e(_rel(recipe, folder))}">recipe</a>')
    if log_dir is not None and (Path(log_dir) / "potpyri.log").exists():
        links.append(f'<a href="{_e(_rel(Path(log_dir) / "potpyri.log", folder))}">log</a>')
    return (" · " + " · ".join(links)) if links else ""


def _rel(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(Path(path).absolute(), folder.absolute())).as_posix()


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(_fmt(c))}</td>'
            if isinstance(c, int | float) and not isinstance(c, bool)
            else f"<td>{_e(_fmt(c))}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clean(obj: Any) -> Any:
    """NaN/inf to None so the embedded JSON is valid JSON."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
