"""Compare the products of two reductions of one night, HDU by HDU.

``python benchmarks/compare_products.py RED_A RED_B`` reads every FITS file under the two ``red/``
folders (the cache and the logs aside) and reports, per file and HDU, where the data (image bytes,
table rows) or the header cards differ. Provenance cards (``PPCFGnn``, ``PPRCPSHA``, the
``PPRECIPE`` recipe and the HISTORY lines of step parameters) are counted apart: they change
whenever a config key is renamed, while the science must not. Dates are ignored.

Exit status 0 when the science (data and non-provenance cards) is identical, 1 otherwise. This is
how a refactor shows that it changed no product.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

from astropy.io import fits

_IGNORED = re.compile(r"^(DATE.*|CHECKSUM|DATASUM|COMMENT)$")
_PROVENANCE = re.compile(r"^(PPCFG\d+|PPRCPSHA|HISTORY)$")


def products(red: Path) -> dict[Path, Path]:
    """FITS products under ``red`` by relative path (the cache and run logs left out)."""
    return {
        path.relative_to(red): path
        for path in red.rglob("*.fits")
        if not {"cache", "log"} & set(path.relative_to(red).parts)
    }


def _cards(header: fits.Header) -> dict[str, str]:
    cards: dict[str, str] = {}
    for key in dict.fromkeys(header.keys()):
        if _IGNORED.match(key):
            continue
        values = header.get(key) if key != "HISTORY" else list(header["HISTORY"])
        cards[key] = repr(values)
    return cards


def compare_hdus(name: str, a: fits.HDUList, b: fits.HDUList) -> tuple[list[str], Counter]:
    """Science differences of two files (one line each) and counts of provenance differences."""
    science: list[str] = []
    provenance: Counter = Counter()
    if [h.name for h in a] != [h.name for h in b]:
        return [f"{name}: HDUs {[h.name for h in a]} vs {[h.name for h in b]}"], provenance
    for x, y in zip(a, b, strict=True):
        label = f"{name}[{x.name}]"
        if x.name == "PPRECIPE":
            provenance["PPRECIPE"] += x.data.tobytes() != y.data.tobytes()
            continue
        if (x.data is None) != (y.data is None) or (
            x.data is not None
            and (x.data.shape != y.data.shape or x.data.tobytes() != y.data.tobytes())
        ):
            science.append(f"{label}: data differ")
        ca, cb = _cards(x.header), _cards(y.header)
        for key in sorted(set(ca) | set(cb)):
            if ca.get(key) == cb.get(key):
                continue
            if _PROVENANCE.match(key):
                provenance[re.sub(r"\d+$", "nn", key)] += 1
            else:
                science.append(f"{label}: {key} {ca.get(key)} vs {cb.get(key)}")
    return science, provenance


def main(argv: list[str] | None = None) -> int:
    """Script entry: compare two ``red/`` folders; the exit status says whether science differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("red_a", type=Path)
    parser.add_argument("red_b", type=Path)
    args = parser.parse_args(argv)
    found_a, found_b = products(args.red_a), products(args.red_b)
    science = [f"only in {args.red_a}: {p}" for p in sorted(set(found_a) - set(found_b))]
    science += [f"only in {args.red_b}: {p}" for p in sorted(set(found_b) - set(found_a))]
    provenance: Counter = Counter()
    for rel in sorted(set(found_a) & set(found_b)):
        with fits.open(found_a[rel]) as a, fits.open(found_b[rel]) as b:
            lines, counts = compare_hdus(str(rel), a, b)
        science += lines
        provenance.update(counts)
    print("\n".join(science))
    shared = len(set(found_a) & set(found_b))
    print(
        f"{shared} products in both; science differences: {len(science)}; provenance "
        f"differences: {dict(provenance) or 'none'}"
    )
    return 1 if science else 0


if __name__ == "__main__":
    sys.exit(main())
