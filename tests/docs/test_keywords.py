"""Every header keyword potpyri writes is documented in docs/keywords.yaml (shown in the docs).

A product's keyword is "written by potpyri" when no raw file of the night carries it. The static
test reads the code for literal ``header["KEY"] = ...`` assignments, so steps the simulated night
does not exercise (fringe, nirsky, dark) are covered too.
"""

from __future__ import annotations

import re
from pathlib import Path

from astropy.io import fits

from potpyri.framework.docgen import documented, keywords_file, load_keywords

ROOT = Path(__file__).resolve().parents[2]
HOW = (
    "document it in {file} (section 'potpyri': key, where, step, meaning); it then appears in "
    "docs/outputs.rst"
)


def _raw_keywords(night) -> set[str]:
    """Keywords of one raw file of each kind (science, bias, flat...): the instrument's own."""
    keys: set[str] = set()
    first = {}
    for row in night.frames:
        first.setdefault(row["kind"], row["file"])
    for name in first.values():
        path = night.out_dir / "raw" / name
        try:
            with fits.open(path) as hdul:
                for hdu in hdul:
                    keys |= set(hdu.header)
        except OSError:  # a deliberately broken file of the night
            continue
    return keys


def _products(red: Path) -> list[Path]:
    return sorted(p for p in red.rglob("*.fits") if "cache" not in p.relative_to(red).parts)


def test_every_keyword_in_the_products_is_documented(reduced_night):
    docs = load_keywords()
    raw = _raw_keywords(reduced_night.night)
    products = _products(reduced_night.red)
    assert any(p.name.endswith(".stk.fits") for p in products), "the night produced no stack"
    undocumented: dict[str, str] = {}
    for path in products:
        with fits.open(path) as hdul:
            for hdu in hdul:
                for card in hdu.header.cards:
                    key = card.keyword
                    if key in raw or key in undocumented or not key:
                        continue
                    if documented(key, docs) is None:
                        undocumented[key] = (
                            f"{path.name}[{hdu.name}] {key} = {card.value!r} / {card.comment}"
                        )
    assert not undocumented, (
        f"{len(undocumented)} keyword(s) written by the pipeline are undocumented; "
        + HOW.format(file=keywords_file().relative_to(ROOT))
        + ":\n  "
        + "\n  ".join(undocumented.values())
    )


_ASSIGN = re.compile(
    r"""(?:header|hdr|hdu\.header)\s*(?:\[\s*|\.set\(\s*)["']([A-Z][A-Z0-9_-]{0,7})["']"""
)


def test_every_keyword_literal_in_the_code_is_documented():
    docs = load_keywords()
    missing = []
    for folder in ("potpyri", "steps"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if (
                "sim" in path.relative_to(ROOT).parts
            ):  # the simulator writes raw files, not products
                continue
            for n, line in enumerate(path.read_text().splitlines(), start=1):
                for key in _ASSIGN.findall(line):
                    if "=" in line.split(key, 1)[1][:6] and documented(key, docs) is None:
                        missing.append(f"{path.relative_to(ROOT)}:{n}: {key}")
    assert not missing, (
        "header keywords set in the code but undocumented; "
        + HOW.format(file=keywords_file().relative_to(ROOT))
        + ":\n  "
        + "\n  ".join(missing)
    )


def test_the_keyword_list_is_well_formed():
    docs = load_keywords()
    keys = [e.key for entries in docs.values() for e in entries]
    assert len(keys) == len(set(keys)), "a keyword is listed twice in docs/keywords.yaml"
    for entries in docs.values():
        for e in entries:
            assert e.meaning.strip() and e.step.strip() and e.where.strip(), e.key
