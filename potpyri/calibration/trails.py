"""Satellite and aircraft trails: straight, narrow ridges of light crossing the illuminated area.

Candidate lines come from a 4x-binned frame minus a mask-aware local background: a Hough
transform (scikit-image) of its elongated bright pieces, and sums of it along every line (a Radon
transform, for trails fainter than the noise of a pixel). Pixels near the frame's edges or a long
masked structure (bad column, chip gap) take no part: the sky there cannot be modelled. Each
candidate is then measured on the full-resolution pixels, segment by segment along its length: a
trail is a ridge above the sky on *both* of its sides (an edge ramp or a step is not), seen over a
long stretch of the illuminated area, and wider than one pixel when it runs along a pixel column
or row (a column defect is one pixel wide).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from potpyri.calibration.masks import BAD, SATURATED

__all__ = ["Trail", "find_trails", "trail_pixels"]

#: Binning of the voting image: faster, and a trail a few pixels wide becomes a line.
_BIN = 4
#: Along the line, the profile is measured in segments of these lengths (pixels), shortest first.
_SEGMENT_PX = (32, 64, 128)
#: A segment sees the trail when its ridge stands this many noise levels above both sides.
_SEGMENT_Z = 3.0
#: ... and a trail is seen in at least this fraction of the segments where it can be measured.
_SEEN_FRACTION = 0.6
#: Masked structures at least this long (columns, gaps, vignetted corners) push voting away.
_STRUCTURE_PX = 16
#: A line within this angle (degrees) of the pixel grid runs along a column or a row.
_GRID_DEG = 1.0
#: Along the grid, a ridge narrower than this (Gaussian sigma, pixels) is a column/row defect.
_DEFECT_SIGMA_PX = 0.8


@dataclass(frozen=True)
class Trail:
    """A straight trail in Hough normal form, ``x cos(angle) + y sin(angle) = distance``
    (0-based pixels)."""

    angle_rad: float  #: direction of the line's normal
    distance_px: float  #: distance of the line from pixel (0, 0)
    half_width_px: float  #: masked on either side of the centre line
    length_px: float  #: length over which the trail is seen above the sky
    significance: float  #: median significance of the ridge per segment (noise levels)


def find_trails(
    sci: np.ndarray,
    mask: np.ndarray,
    threshold: float,
    min_length: float,
    max_trails: int,
    *,
    width_px: float = 6.0,
    edge_margin_px: int = 16,
) -> list[Trail]:
    """Straight trails crossing the frame.

    Parameters
    ----------
    sci, mask : numpy.ndarray
        The frame and its mask (0 = good pixel; bits of :mod:`potpyri.calibration.masks`).
    threshold : float
        Binned pixels this many noise levels above the local background vote for lines.
    min_length : float
        A trail is seen over at least this fraction of the frame's shorter side.
    max_trails : int
        At most this many trails (the most significant) are returned.
    width_px : float
        Least half-width masked around a trail; the sky is measured from 2 to 4 times this far
        from its centre line.
    edge_margin_px : int
        Pixels within this distance of the frame's edges or of a long masked structure (bad
        column, chip gap) neither vote nor serve as sky.

    Returns
    -------
    list of Trail
        Most significant first.
    """
    usable = mask == 0
    measurable = usable & ~_near_structure(mask, edge_margin_px)
    if measurable.sum() < 0.05 * mask.size:
        return []
    binned = _binned_residual(sci, measurable)
    if binned is None:
        return []
    residual, noise = binned
    needed = min_length * min(sci.shape)
    votes = residual > threshold * noise
    lines = _elongated(votes)
    # Bright enough trails stand out pixel by pixel: a Hough transform of the elongated pieces.
    # Candidates need half the votes of a full-length trail (a faint trail's votes are broken up
    # by noise). Faint ones (a fraction of the noise a pixel, as on an infrared sky) only add up
    # along their length: sums of the residual along every line, compact sources left out.
    count = 4 * max_trails + 8
    candidates = _hough_candidates(lines, 0.5 * needed / _BIN, count)
    compact = _grow(_sources(votes & ~lines))
    candidates += _line_sum_candidates(np.where(compact, np.nan, residual), noise, needed, count)
    trails: list[Trail] = []
    for angle, distance in candidates:
        if any(_near_line(angle, distance, t) for t in trails):
            continue  # found already (by the other search)
        trail = _measure(sci, measurable, angle, distance, width_px, needed)
        if trail is not None and not any(_same_line(trail, t) for t in trails):
            trails.append(trail)
    trails.sort(key=lambda t: -t.significance)
    return trails[:max_trails]


def trail_pixels(shape: tuple[int, int], trails: list[Trail]) -> np.ndarray:
    """Boolean image, True within each trail's ``half_width_px`` of its centre line."""
    flagged = np.zeros(shape, bool)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    for t in trails:
        offset = xx * np.cos(t.angle_rad) + yy * np.sin(t.angle_rad) - t.distance_px
        flagged |= np.abs(offset) <= t.half_width_px
    return flagged


def _near_structure(mask: np.ndarray, margin_px: int) -> np.ndarray:
    """Pixels within ``margin_px`` of the frame's edges or of a long masked structure.

    The sky next to these cannot be modelled (the CTE ramp by an overscan, the glow along a bad
    column, the last row read): they must not vote for a line nor serve as its sky. Short masked
    pieces (hot pixels, cosmic rays) are left out: growing them would blank the frame.
    """
    from scipy import ndimage

    flagged = (mask & (BAD | SATURATED)) > 0
    labels, count = ndimage.label(flagged)
    structure = np.zeros(mask.shape, bool)
    for n, region in enumerate(ndimage.find_objects(labels), start=1):
        extent = max(region[0].stop - region[0].start, region[1].stop - region[1].start)
        if extent >= _STRUCTURE_PX:
            structure[region] |= labels[region] == n
    size = 2 * margin_px + 1
    # Outside the frame counts as a structure (cval=1): the edges get the same margin.
    return (
        ndimage.maximum_filter(structure.astype(np.uint8), size=size, mode="constant", cval=1) > 0
    )


def _binned_residual(sci: np.ndarray, measurable: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The 4x-binned frame minus a mask-aware local background (NaN where not measurable), and
    its noise; None if there is too little to model the sky."""
    from photutils.background import Background2D

    ny, nx = (s // _BIN * _BIN for s in sci.shape)
    good = np.where(measurable[:ny, :nx], sci[:ny, :nx], np.nan)
    with warnings.catch_warnings():  # wholly excluded blocks (CCD gaps, edges) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmedian(good)
        sigma = 1.4826 * np.nanmedian(np.abs(good - level))
        # Winsorise at 5 sigma, then average: a faint trail (a few sigma a pixel) adds up in the
        # mean where a median would drop it, while stars and residual hits cannot dominate a bin.
        capped = np.minimum(good, level + 5 * sigma).reshape(ny // _BIN, _BIN, nx // _BIN, _BIN)
        filled = np.isfinite(capped).sum(axis=(1, 3))
        binned = np.nanmean(capped, axis=(1, 3))
    binned[filled < _BIN * _BIN // 2] = np.nan  # a bin of one or two pixels is noise, not sky
    empty = ~np.isfinite(binned)
    try:
        background = Background2D(
            np.where(empty, 0.0, binned),
            (16, 16),  # 64 unbinned pixels: the sky's structure, not a trail's width
            mask=empty,
            filter_size=(3, 3),
            exclude_percentile=50,
        ).background
    except ValueError:  # too few unmasked boxes to model the sky: nothing to measure
        return None
    residual = np.where(empty, np.nan, binned - background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        noise = 1.4826 * np.nanmedian(np.abs(residual - np.nanmedian(residual)))
    if not noise > 0:
        return None
    return np.where(empty, np.nan, residual), float(noise)


def _sources(blobs: np.ndarray) -> np.ndarray:
    """The pieces of ``blobs`` of 4 binned pixels or more: stars and galaxies, not noise."""
    from scipy import ndimage

    labels, count = ndimage.label(blobs, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    return sizes[labels] >= 4


def _grow(flags: np.ndarray) -> np.ndarray:
    """``flags`` grown by one binned pixel (the wings of compact sources)."""
    from scipy import ndimage

    return ndimage.binary_dilation(flags, structure=np.ones((3, 3), bool))


def _elongated(votes: np.ndarray) -> np.ndarray:
    """Connected pieces of ``votes`` that are long (8 binned pixels along their major axis) or
    thin (3 pixels or more, axis ratio 3 or more), at any angle: not stars, galaxies or noise."""
    from scipy import ndimage

    labels, count = ndimage.label(votes, structure=np.ones((3, 3)))
    if not count:
        return votes
    index = np.arange(1, count + 1)
    yy, xx = np.indices(votes.shape)
    n = ndimage.sum(votes, labels, index)
    mean_y, mean_x = ndimage.mean(yy, labels, index), ndimage.mean(xx, labels, index)
    var_y = ndimage.mean(yy**2, labels, index) - mean_y**2
    var_x = ndimage.mean(xx**2, labels, index) - mean_x**2
    cov = ndimage.mean(yy * xx, labels, index) - mean_y * mean_x
    # Eigenvalues of each piece's coordinate covariance: its squared axes (up to a factor).
    half_trace, det = (var_x + var_y) / 2, var_x * var_y - cov**2
    root = np.sqrt(np.clip(half_trace**2 - det, 0, None))
    major, minor = half_trace + root, np.clip(half_trace - root, 0, None)
    # A line of L pixels has variance (L^2 - 1)/12 along it; a pixel adds 1/12 across.
    length = np.sqrt(12 * major)
    thin = (n >= 3) & (major + 1 / 12 >= 9 * (minor + 1 / 12))
    keep = np.concatenate([[False], (length >= 8) | thin])
    return keep[labels]
    return votes


def _hough_candidates(
    votes: np.ndarray, needed_votes: float, count: int
) -> list[tuple[float, float]]:
    """The ``count`` strongest lines of at least ``needed_votes`` votes, as (angle, distance) in
    unbinned pixels."""
    from skimage.transform import hough_line, hough_line_peaks

    # 0.125 degree steps: over 1000 pixels the line is then off by at most a pixel or two.
    theta = np.linspace(-np.pi / 2, np.pi / 2, 1440, endpoint=False)
    accumulator, angles, distances = hough_line(votes, theta=theta)
    peaks = hough_line_peaks(
        accumulator,
        angles,
        distances,
        num_peaks=count,
        threshold=needed_votes,
        min_angle=16,  # 2 degrees apart
    )
    half = (_BIN - 1) / 2  # binned pixel i covers unbinned pixels 4i .. 4i + 3
    return [
        (float(a), float(d * _BIN + half * (np.cos(a) + np.sin(a))))
        for _, a, d in zip(*peaks, strict=True)
    ]


def _line_sum_candidates(
    residual: np.ndarray, noise: float, needed_px: float, count: int
) -> list[tuple[float, float]]:
    """The ``count`` lines along which the residual adds up the most (at least 7 times the
    scatter of such sums, over at least ``needed_px``), as (angle, distance) in unbinned
    pixels: a Hough transform weighted by the pixel values (a Radon transform), 0.5 deg steps."""
    from skimage.feature import peak_local_max

    ys, xs = np.nonzero(np.isfinite(residual))
    # Clipped: a bright source crossed by a line cannot make it a trail.
    values = np.clip(residual[ys, xs], -3 * noise, 3 * noise)
    half = int(np.ceil(np.hypot(*residual.shape)))
    angles = np.deg2rad(np.arange(-90.0, 90.0, 0.5))
    snr = np.zeros((2 * half + 1, len(angles)))
    for j, angle in enumerate(angles):
        line = np.rint(xs * np.cos(angle) + ys * np.sin(angle)).astype(int) + half
        total = np.bincount(line, values, minlength=2 * half + 1)
        pixels = np.bincount(line, minlength=2 * half + 1)
        long_enough = pixels >= needed_px / _BIN
        snr[long_enough, j] = total[long_enough] / (noise * np.sqrt(pixels[long_enough]))
    # Neighbouring binned pixels are not independent (the background is smoothed): the sums'
    # own scatter, not the pixel noise, says what stands out.
    scatter = 1.4826 * np.median(np.abs(snr[snr != 0])) if (snr != 0).any() else 0.0
    if not scatter > 0:
        return []
    peaks = peak_local_max(snr / scatter, min_distance=3, threshold_abs=7.0, num_peaks=count)
    centre = (_BIN - 1) / 2  # binned pixel i covers unbinned pixels 4i .. 4i + 3
    out = []
    for row, column in peaks:
        a = float(angles[column])
        out.append((a, float((row - half) * _BIN + centre * (np.cos(a) + np.sin(a)))))
    return out


def _near_line(angle: float, distance: float, trail: Trail) -> bool:
    """Whether a candidate line lies along a trail found already."""
    return _same_line(Trail(angle, distance, 2 * _BIN, 0.0, 0.0), trail)


@dataclass
class _Strip:
    """The pixels around a line, resampled (nearest pixel) on a grid along and across it."""

    origin: np.ndarray  #: image x, y of the line's point nearest pixel (0, 0)
    along: np.ndarray  #: unit vector along the line
    normal: np.ndarray  #: unit vector across it
    t: np.ndarray  #: (T,) positions along the line
    offsets: np.ndarray  #: (S,) positions across the line
    values: np.ndarray  #: (T, S) pixel values, NaN off the frame or where not measurable


def _strip(
    sci: np.ndarray, measurable: np.ndarray, angle: float, distance: float, reach_px: float
) -> _Strip:
    ny, nx = sci.shape
    normal = np.array([np.cos(angle), np.sin(angle)])
    along = np.array([-np.sin(angle), np.cos(angle)])
    origin = distance * normal
    offsets = np.arange(-np.ceil(reach_px), np.ceil(reach_px) + 1)
    half_diagonal = np.hypot(nx, ny)  # every pixel of the frame is within this of the origin
    t = np.arange(-half_diagonal, half_diagonal, 1.0)
    x = origin[0] + t[:, None] * along[0] + offsets[None, :] * normal[0]
    y = origin[1] + t[:, None] * along[1] + offsets[None, :] * normal[1]
    ix, iy = np.rint(x).astype(int), np.rint(y).astype(int)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    ix, iy = np.clip(ix, 0, nx - 1), np.clip(iy, 0, ny - 1)
    values = np.where(inside & measurable[iy, ix], sci[iy, ix], np.nan)
    return _Strip(origin, along, normal, t, offsets, values)


@dataclass
class _Profile:
    """Ridge measurements per segment along a line (only segments where it can be measured)."""

    profiles: np.ndarray  #: (K, S) sky-subtracted median profile across the line
    centres: np.ndarray  #: (K, 2) image x, y of the ridge
    z: np.ndarray  #: (K,) ridge height above the higher of the two sides / its noise
    noise: np.ndarray  #: (K,) noise of one profile value


def _segments(strip: _Strip, segment_px: int, width_px: float, core_px: float) -> _Profile:
    """Median profiles across the line in segments of ``segment_px`` along it; a segment counts
    only where the sky on both sides and the ridge (within ``core_px``) can be measured."""
    offsets = strip.offsets
    core = np.abs(offsets) <= core_px
    sides = (offsets <= -2 * width_px, offsets >= 2 * width_px)
    profiles, centres, z, noise = [], [], [], []
    for start in range(0, len(strip.t) - segment_px + 1, segment_px):
        block = strip.values[start : start + segment_px]
        finite = np.isfinite(block)
        if finite[:, core].mean() < 0.5 or any(finite[:, s].mean() < 0.5 for s in sides):
            continue  # off the frame, masked, or sky missing on one side (an edge)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            profile = np.nanmedian(block, axis=0)
        sky_each = [np.nanmedian(profile[s]) for s in sides]
        sky_pixels = block[:, sides[0] | sides[1]]
        sky_pixels = sky_pixels[np.isfinite(sky_pixels)]
        sigma = 1.4826 * np.median(np.abs(sky_pixels - np.median(sky_pixels)))
        # The median of n values scatters 1.25 sigma / sqrt(n), if the pixels are independent;
        # in a crowded field (unresolved stars) the sky's own profile scatters more.
        independent = 1.2533 * sigma / np.sqrt(finite[:, core].sum(axis=0).mean())
        side_scatter = [profile[s] - np.nanmedian(profile[s]) for s in sides]
        structured = 1.4826 * np.nanmedian(np.abs(np.concatenate(side_scatter)))
        one_value = max(independent, structured)
        if not one_value > 0 or not np.isfinite(profile[core]).any():
            continue
        sky = 0.5 * (sky_each[0] + sky_each[1])
        # A ridge stands above *both* sides: against the higher one, a step or a ramp toward an
        # edge or a bright neighbour gives nothing.
        height = np.nanmean(profile[core]) - max(sky_each)
        excess = np.clip(np.nan_to_num(profile - sky) - 2 * one_value, 0, None)
        excess[np.abs(offsets) > width_px] = 0
        ridge = float(np.sum(excess * offsets) / np.sum(excess)) if excess.sum() > 0 else 0.0
        middle = strip.origin + (strip.t[start] + segment_px / 2) * strip.along
        profiles.append(profile - sky)
        centres.append(middle + ridge * strip.normal)
        z.append(height / (one_value / np.sqrt(core.sum())))
        noise.append(one_value)
    return _Profile(
        np.array(profiles).reshape(-1, len(offsets)),
        np.array(centres).reshape(-1, 2),
        np.array(z),
        np.array(noise),
    )


def _measure(
    sci: np.ndarray,
    measurable: np.ndarray,
    angle: float,
    distance: float,
    width_px: float,
    needed_px: float,
) -> Trail | None:
    """The trail along a candidate line, or None when the line is not one.

    The ridge's positions along the line refine it; then it is measured again, in segments
    long enough for its brightness (32 to 256 pixels: a faint trail needs longer ones).
    """
    reach = 4 * width_px
    for segment_px in _SEGMENT_PX:
        # The Hough line is good to a few pixels: a wide core finds the ridge, then a narrow one
        # measures it on the refined line.
        first = _segments(_strip(sci, measurable, angle, distance, reach), segment_px, width_px, 3)
        seen = first.z > _SEGMENT_Z
        if seen.sum() < 3 or seen.sum() * segment_px < needed_px:
            continue
        refined = _fit_line(first.centres[seen])
        strip = _strip(sci, measurable, *refined, reach)
        profile = _segments(strip, segment_px, width_px, 1)
        seen = profile.z > _SEGMENT_Z
        length = seen.sum() * segment_px
        if length >= needed_px and seen.mean() >= _SEEN_FRACTION:
            return _trail(refined, profile, seen, strip.offsets, width_px, float(length))
    return None  # too short, too faint, or not a continuous ridge (stars and noise lined up)


def _trail(
    line: tuple[float, float],
    profile: _Profile,
    seen: np.ndarray,
    offsets: np.ndarray,
    width_px: float,
    length_px: float,
) -> Trail | None:
    """The trail, its masked half-width from its stacked profile; None for a column defect."""
    angle, distance = line
    stacked = np.median(profile.profiles[seen], axis=0)
    noise = np.median(profile.noise[seen]) / np.sqrt(seen.sum())
    core = _contiguous_above(stacked, offsets, 3 * noise)
    light = np.clip(stacked, 0, None) * core
    sigma = np.sqrt(np.sum(light * offsets**2) / np.sum(light)) if light.sum() else 0.0
    tilt = np.rad2deg(angle) % 90.0
    if min(tilt, 90.0 - tilt) < _GRID_DEG and sigma < _DEFECT_SIGMA_PX:
        return None  # one pixel wide along a column or a row: a detector defect, not a trail
    reach = np.abs(offsets[core]).max() + 1 if core.any() else 0.0
    return Trail(
        float(angle),
        float(distance),
        float(max(width_px, reach)),
        length_px,
        float(np.median(profile.z[seen])),
    )


def _fit_line(points: np.ndarray) -> tuple[float, float]:
    """(angle, distance) of the straight line through ``points`` (x, y), by total least squares
    after one rejection of outliers."""
    for _ in range(2):
        centre = np.median(points, axis=0)
        _, _, vt = np.linalg.svd(points - centre)
        normal = vt[1]
        residual = (points - centre) @ normal
        spread = 1.4826 * np.median(np.abs(residual)) + 0.5
        kept = np.abs(residual) < 3 * spread
        if kept.sum() < 2 or kept.all():
            break
        points = points[kept]
    angle = float(np.arctan2(normal[1], normal[0]))
    distance = float(centre @ normal)
    if distance < 0:  # the same line with the normal turned round
        angle, distance = angle + np.pi if angle <= 0 else angle - np.pi, -distance
    return angle, distance


def _contiguous_above(profile: np.ndarray, offsets: np.ndarray, level: float) -> np.ndarray:
    """The run of offsets around 0 where ``profile`` stays above ``level``."""
    above = profile > level
    run = np.zeros(len(profile), bool)
    middle = int(np.argmin(np.abs(offsets)))
    if not above[middle]:
        return run
    left = right = middle
    while left > 0 and above[left - 1]:
        left -= 1
    while right < len(profile) - 1 and above[right + 1]:
        right += 1
    run[left : right + 1] = True
    return run


def _same_line(a: Trail, b: Trail) -> bool:
    """Whether two trails are the same line found twice (within a degree and their widths)."""
    turn = abs(np.angle(np.exp(2j * (a.angle_rad - b.angle_rad)))) / 2
    if turn > np.deg2rad(1.0):
        return False
    na = np.array([np.cos(a.angle_rad), np.sin(a.angle_rad)])
    nb = np.array([np.cos(b.angle_rad), np.sin(b.angle_rad)])
    return abs(a.distance_px - b.distance_px * float(na @ nb)) < a.half_width_px + b.half_width_px
