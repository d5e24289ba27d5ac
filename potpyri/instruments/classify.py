"""Frame types from header keyword rules, and the facts of a raw file that the file list holds.

The rules are the instrument's ``classify`` section (the reference's keyword rules); a frame this
run cannot reduce (another instrument's, a keyword missing or malformed) is typed ``BAD`` with the
reason, so that ingest sets it aside with one log line instead of failing later.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from astropy.io import fits

from potpyri.files import safe_name
from potpyri.instruments.groups import calibration_group
from potpyri.instruments.timing import frame_mjd

__all__ = [
    "classify",
    "describe",
    "disambiguate",
    "flats_from_science",
    "group_keys",
    "is_near_infrared",
    "set_aside_other_target",
    "unreadable",
]

#: Frame types a reduction uses; the others (BAD, SPEC, UNKNOWN) are set aside.
REDUCED_TYPES = ("SCIENCE", "BIAS", "DARK", "FLAT")


def unreadable(exc: Exception) -> dict:
    """Facts of a raw file whose header cannot be read: BAD, with the reason (``rejected``)."""
    reason = f"unreadable ({type(exc).__name__}: {exc})"
    return {
        "type": "BAD",
        "excluded": reason,
        "rejected": reason,
        "target": "",
        "filter": "",
        "exp": 0.0,
    }


def describe(header: fits.Header, instrument) -> dict[str, Any]:
    """Facts of one raw file for the file list (type, target, filter, amp, binning, exp, time).

    Science frames without a date that can name their files are BAD. The group keys are left
    to :func:`group_keys`. A file this run cannot use at all (another instrument's, a keyword it
    needs missing or malformed) also gets ``rejected`` (the reason): the run's summary and exit
    code report it; a file set aside by the instrument's rules (flagged bad in its header, a
    spectrum, too short an exposure) does not.
    """
    kw = instrument.keywords
    target = str(header.get(kw.target, "")).strip()
    filt = str(header_value(header, kw.filter, "")).strip()
    amp = str(header_value(header, kw.amp, "1")).strip()
    # "2 2", "2,2", "2x2" -> "22"
    binning = re.sub(r"\D", "", str(header_value(header, kw.binning, "11"))) or "11"
    try:
        exptime = float(header_value(header, kw.exptime, "nan"))
    except (TypeError, ValueError):
        exptime = float("nan")
    kind, reason = classify(header, instrument, exptime)
    mjd = frame_mjd(header, kw.mjd, kw.time)
    # Frames this run cannot reduce: another instrument's, or missing a keyword they need.
    instrume = str(header.get("INSTRUME", "")).strip()
    ruled = (kind, reason)  # what the instrument's rules said, before the checks below
    if kind in REDUCED_TYPES and instrume and str(instrument.name).lower() not in instrume.lower():
        kind, reason = (
            "BAD",
            f"from another instrument (INSTRUME={instrume!r}; this run reduces {instrument.name})",
        )
    elif exptime != exptime and (kind in ("FLAT", "DARK") or reason.startswith("exposure")):
        kind, reason = "BAD", _keyword_problem(header, kw.exptime, "exposure time")
    elif kind in ("SCIENCE", "FLAT") and not filt:
        kind, reason = "BAD", _keyword_problem(header, kw.filter, "filter")
    elif kind == "SCIENCE" and mjd is None:
        kind, reason = "BAD", _keyword_problem(header, kw.mjd, "date")
    meta = {
        "type": kind,
        "target": target,
        "filter": filt,
        "amp": amp,
        "binning": binning,
        "exp": exptime,
        "time": "" if mjd is None else f"{mjd:.6f}",
    }
    if reason:
        meta["excluded"] = reason
        meta["bad_by_header"] = reason.startswith("header flags")
    if kind == "BAD" and (kind, reason) != ruled:
        meta["rejected"] = reason
    return meta


def classify(header: fits.Header, instrument, exptime: float) -> tuple[str, str]:
    """The reference's keyword rules: returns ``(type, reason_if_excluded)``."""
    rules = instrument.classify
    if _matches(header, rules.bad):
        return "BAD", "header flags the file bad (" + _describe_rule(header, rules.bad) + ")"
    if _matches(header, rules.spec):
        return "SPEC", "spectroscopic frame"
    # Calibration rules first: they are the more specific (a flat often also looks like science).
    for kind in ("bias", "dark", "flat"):
        if getattr(instrument, kind) and _matches(header, getattr(rules, kind)):
            return kind.upper(), ""
    if _matches(header, rules.science):
        if not exptime >= instrument.min_exptime:
            return (
                "BAD",
                f"exposure {exptime:g} s shorter than the minimum {instrument.min_exptime:g} s",
            )
        return "SCIENCE", ""
    return "UNKNOWN", "matches no classification rule"


def is_near_infrared(instrument) -> bool:
    """Whether the instrument observes in the near infrared (``wavelength: NIR``)."""
    return getattr(instrument.wavelength, "value", instrument.wavelength) == "NIR"


def flats_from_science(instrument) -> bool:
    """Sky flats from the dithered science frames: near-infrared instruments whose reference
    has no flat-frame rule (MMIRS, FourStar)."""
    return is_near_infrared(instrument) and not instrument.classify.flat.keywords


def header_value(header: fits.Header, keyword: str, default: Any) -> Any:
    """A header value; a keyword starting with a digit is a literal (the reference's convention)."""
    if keyword and keyword[0].isdigit():
        return keyword
    return header.get(keyword, default)


def group_keys(meta: dict[str, Any]) -> dict[str, str]:
    """``targtype`` (science frames stacked together) and ``caltype`` (calibrations combined
    together) of a frame, from the header values as they appear in file names."""
    kind = meta["type"]
    keys = {"targtype": "", "caltype": ""}
    if kind == "SCIENCE":
        keys["targtype"] = (
            f"{safe_name(meta['target'])}_{safe_name(meta['filter'])}_{calibration_group(meta)}"
        )
    elif kind == "FLAT":
        keys["caltype"] = f"{safe_name(meta['filter'])}_{calibration_group(meta)}"
    elif kind in ("BIAS", "DARK"):
        keys["caltype"] = calibration_group(meta)
    return keys


def disambiguate(metas: list[dict]) -> list[str]:
    """Give header values that share a file-name form (``safe_name``) distinct names.

    ``'SN 1'`` and ``'SN/1'`` both become ``SN_1``: left alone they would be stacked together and
    written to one file. Each such value (but one already in that form) gets a digest of its own
    text appended (in ``target`` or ``filter``, and in the group keys). Returns one report line
    per renamed value.
    """
    notes = []
    for key in ("target", "filter"):
        forms: dict[str, set[str]] = {}
        for meta in metas:
            if meta["type"] not in ("BAD", "UNKNOWN", "SPEC") and meta.get(key):
                forms.setdefault(safe_name(meta[key]), set()).add(meta[key])
        # A value already in its file-name form ('r') keeps it; the others ('../r') are renamed.
        clashes = {
            value: f"{form[:57]}_{hashlib.sha256(value.encode()).hexdigest()[:6]}"
            for form, values in forms.items()
            if len(values) > 1
            for value in values
            if value != form
        }
        for value, unique in sorted(clashes.items()):
            notes.append(
                f"{key} {value!r} shares its file-name form with another {key}; named {unique}"
            )
        for meta in metas:
            if meta.get(key) in clashes:
                meta[f"header_{key}"] = meta[key]
                meta[key] = clashes[meta[key]]
                meta.update(group_keys(meta))
    return notes


def set_aside_other_target(meta: dict, wanted: str | None) -> None:
    """Mark a science frame excluded when the run asks for another target (``target=``)."""
    if (
        meta["type"] == "SCIENCE"
        and wanted
        and wanted not in meta["target"]
        and not meta.get("excluded")
    ):
        meta["excluded"] = f"target does not contain {wanted!r}"


def _keyword_problem(header: fits.Header, keyword: str, what: str) -> str:
    if keyword not in header:
        return f"keyword {keyword} ({what}) missing"
    return f"keyword {keyword} ({what}) malformed: {str(header[keyword])[:40]!r}"


def _matches(header: fits.Header, rule) -> bool:
    """Whether ``header`` matches ``rule``: all of ``keywords``, one of ``any_keywords`` (when
    given), none of ``not_keywords``. Values are case-insensitive regular expressions searched in
    the header value, the reference's rule (MMIRS darks: OBJECT contains 'ark')."""
    if not rule.keywords and not rule.any_keywords:
        return False
    pairs = zip(rule.keywords, rule["values"], strict=False)  # rule.values: the dict method
    if not all(_found(header, key, value) for key, value in pairs):
        return False
    if rule.any_keywords and not any(
        _found(header, key, value)
        for key, value in zip(rule.any_keywords, rule.any_values, strict=False)
    ):
        return False
    return not any(
        _found(header, key, value)
        for key, value in zip(rule.not_keywords, rule.not_values, strict=False)
    )


def _found(header: fits.Header, keyword: str, pattern: str) -> bool:
    text = str(header.get(keyword, "")).strip()
    return re.search(str(pattern).strip(), text, flags=re.IGNORECASE) is not None


def _describe_rule(header: fits.Header, rule) -> str:
    """The keywords that made ``rule`` match: all of ``keywords``, the matching ``any_keywords``."""
    matched = [
        key
        for key, value in zip(rule.any_keywords, rule.any_values, strict=False)
        if _found(header, key, value)
    ]
    return ", ".join(f"{k}={header.get(k)!s}" for k in [*rule.keywords, *matched])
