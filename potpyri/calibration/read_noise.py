"""Read noise measured from pairs of biases, per amplifier, and compared with the configured one.

The difference of two biases holds no fixed pattern, only twice the read noise variance, so its
clipped scatter / sqrt(2) is the read noise. A configured value that is too low makes every
uncertainty too small and the sigma clipping of the master bias reject good pixels (which are then
masked in every frame), so the measured value replaces it downstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from potpyri.instruments.sections import parse_section

__all__ = [
    "AmplifierNoise",
    "ReadNoise",
    "amplifier_sections",
    "measure_read_noise",
    "robust_sigma",
]

#: Relative disagreement between configured and measured read noise above which a warning is given.
TOLERANCE = 0.2
#: Regions smaller than this (pixels) are not amplifiers (stray pixels of a mosaic's edges).
_MIN_PIXELS = 64


@dataclass
class AmplifierNoise:
    """One amplifier's read noise: its section (FITS, 1-based), configured and measured, e-."""

    section: str
    configured_e: float
    measured_e: float


@dataclass
class ReadNoise:
    """The read noise of a detector's amplifiers, as measured from its biases."""

    amplifiers: list[AmplifierNoise]

    @property
    def median_e(self) -> float:
        """Median of the measured values over amplifiers, e-."""
        return float(np.median([a.measured_e for a in self.amplifiers]))

    def noise_map(self, configured: np.ndarray | float, shape: tuple[int, ...]) -> np.ndarray:
        """The per-pixel read noise, e-: ``configured`` with each amplifier's section replaced by
        its measured value (pixels outside every section, such as CCD gaps, keep theirs)."""
        out = np.array(np.broadcast_to(np.asarray(configured, np.float32), shape), np.float32)
        for amp in self.amplifiers:
            rows, cols = parse_section(amp.section)
            out[rows, cols] = amp.measured_e
        return out

    def disagreement(self, tolerance: float = TOLERANCE) -> str:
        """One line when any amplifier's measured value differs from the configured one by more
        than ``tolerance`` (a fraction); '' when they agree."""
        off = [
            a
            for a in self.amplifiers
            if a.configured_e <= 0 or abs(a.measured_e / a.configured_e - 1) > tolerance
        ]
        if not off:
            return ""
        if len(self.amplifiers) == 1:
            amp = off[0]
            return (
                f"read noise: configured {amp.configured_e:.2f} e-, measured {amp.measured_e:.2f} "
                f"e- from the biases; using {amp.measured_e:.2f} e-"
            )
        parts = ", ".join(
            f"{a.section} configured {a.configured_e:.2f} e- measured {a.measured_e:.2f} e-"
            for a in off
        )
        return (
            f"read noise differs from the configured value by >{tolerance:.0%} ({parts}); "
            "using the measured values"
        )

    def to_meta(self) -> dict:
        """JSON-serialisable form (an item's meta)."""
        return {
            "sections": [a.section for a in self.amplifiers],
            "configured_e": [a.configured_e for a in self.amplifiers],
            "measured_e": [a.measured_e for a in self.amplifiers],
        }

    @classmethod
    def from_meta(cls, meta: dict | None) -> ReadNoise | None:
        """The inverse of :meth:`to_meta` (None for a master without measured read noise)."""
        if not meta:
            return None
        return cls(
            [
                AmplifierNoise(s, float(c), float(m))
                for s, c, m in zip(
                    meta["sections"], meta["configured_e"], meta["measured_e"], strict=True
                )
            ]
        )

    def header_cards(self) -> list[tuple[str, object, str]]:
        """Cards of a master bias: RDNOISE, RDNSRC and per amplifier RDNSECn/RDNMEAn/RDNCFGn."""
        cards: list[tuple[str, object, str]] = [
            ("RDNOISE", round(self.median_e, 3), "read noise, e- (median over amplifiers)"),
            ("RDNSRC", "measured", "read noise measured from bias pairs"),
        ]
        for n, amp in enumerate(self.amplifiers, start=1):
            cards += [
                (f"RDNSEC{n}", amp.section, f"amplifier {n} section"),
                (f"RDNMEA{n}", round(amp.measured_e, 3), f"amplifier {n} measured read noise, e-"),
                (f"RDNCFG{n}", round(amp.configured_e, 3), f"amplifier {n} configured read noise"),
            ]
        return cards

    @classmethod
    def from_header(cls, header) -> ReadNoise | None:
        """The read noise a master bias's header records (None if it records none)."""
        if header.get("RDNSRC") != "measured":
            return None
        amps, n = [], 1
        while f"RDNSEC{n}" in header:
            amps.append(
                AmplifierNoise(
                    str(header[f"RDNSEC{n}"]),
                    float(header[f"RDNCFG{n}"]),
                    float(header[f"RDNMEA{n}"]),
                )
            )
            n += 1
        return cls(amps) if amps else None


def robust_sigma(values: np.ndarray, nsigma: float = 4.0, iterations: int = 5) -> float:
    """Standard deviation of the finite ``values`` after iterative clipping at ``nsigma``
    (started from the median absolute deviation); NaN if none.

    Not the MAD itself: raw pixels are integers, and the MAD of integer differences moves in
    whole ADU (steps of 10-20% for a read noise of a few ADU); clipping at 4 sigma removes cosmic
    rays and hot pixels and biases a Gaussian's sigma by 0.1% only.
    """
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan")
    centre = float(np.median(finite))
    sigma = float(1.4826 * np.median(np.abs(finite - centre))) or float(np.std(finite))
    for _ in range(iterations):
        kept = finite[np.abs(finite - centre) <= nsigma * sigma]
        if kept.size < 2:
            break
        centre, new = float(kept.mean()), float(kept.std())
        if new == sigma:
            break
        sigma = new
    return sigma


def amplifier_sections(gain: np.ndarray, rdnoise: np.ndarray, shape: tuple[int, int]) -> list[str]:
    """The amplifiers' sections (FITS ``'[x1:x2,y1:y2]'``) of an assembled image.

    Readers give gain and read noise per pixel where a detector has several amplifiers; a region
    of one (gain, read noise) pair that is connected is one amplifier (its bounding box). Scalar
    values mean one amplifier: the whole frame. Pixels without an amplifier (gain <= 0, such as
    CCD gaps) belong to none.
    """
    ny, nx = shape
    if np.ndim(gain) < 2 and np.ndim(rdnoise) < 2:
        return [f"[1:{nx},1:{ny}]"]
    gain = np.broadcast_to(np.asarray(gain, np.float32), shape)
    noise = np.broadcast_to(np.asarray(rdnoise, np.float32), shape)
    # The distinct pairs from a sparse grid (amplifiers are far larger than 8 pixels), then each
    # pair's pixels at full resolution: no sort of every pixel of a mosaic.
    pairs = np.unique(np.stack([gain[::8, ::8].ravel(), noise[::8, ::8].ravel()], axis=1), axis=0)
    boxes = []
    for g, n_e in pairs:
        if not g > 0:
            continue
        regions, _ = ndimage.label((gain == g) & (noise == n_e))
        for n, box in enumerate(ndimage.find_objects(regions), start=1):
            if box is not None and (regions[box] == n).sum() >= _MIN_PIXELS:
                boxes.append(box)
    boxes.sort(key=lambda b: (b[0].start, b[1].start))
    return [f"[{c.start + 1}:{c.stop},{r.start + 1}:{r.stop}]" for r, c in boxes]


def measure_read_noise(
    biases: Sequence[np.ndarray], sections: Sequence[str], configured: np.ndarray | float
) -> ReadNoise | None:
    """Read noise per amplifier section from bias exposures in electrons.

    Consecutive pairs (1-2, 3-4, ...) are differenced; each pair's clipped sigma / sqrt(2) is one
    measurement and the median over pairs the result, so one odd pair does not decide it. None
    with fewer than two biases.
    """
    if len(biases) < 2:
        return None
    shape = biases[0].shape
    configured_map = np.broadcast_to(np.asarray(configured, np.float32), shape)
    amps = []
    for section in sections:
        rows, cols = parse_section(section)
        values = [
            robust_sigma(biases[i][rows, cols] - biases[i + 1][rows, cols]) / np.sqrt(2.0)
            for i in range(0, len(biases) - 1, 2)
        ]
        values = [v for v in values if np.isfinite(v)]
        if not values:
            continue
        amps.append(
            AmplifierNoise(
                section,
                float(np.median(configured_map[rows, cols])),
                float(np.median(values)),
            )
        )
    return ReadNoise(amps) if amps else None
