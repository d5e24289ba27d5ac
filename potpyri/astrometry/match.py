"""Built-in coarse solver: triangle pattern matching of detections to a reference catalog.

Both point sets are in pixels: detections as measured, reference stars projected through the
header WCS. Triangles formed by each star and its nearest neighbours are described by two
invariants (ratios of sorted side lengths), which do not change under shift, rotation and scale;
candidate triangle pairs propose a similarity transform, and the one most stars agree with wins
(as in astroalign, Beroiz et al. 2020). A naive nearest-neighbour match cannot recover a
pointing error of tens of arcseconds combined with a rotation of degrees; this can.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from potpyri.astrometry.wcsio import pixel_scale, project_inside

__all__ = ["PatternMatch", "match_pattern", "solve_builtin"]


@dataclass
class PatternMatch:
    """A similarity transform from detection pixels to reference pixels, and its matched pairs."""

    matrix: np.ndarray  #: 2×2 (scale × rotation)
    shift: np.ndarray  #: 2
    det_index: np.ndarray
    ref_index: np.ndarray

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.matrix))))

    @property
    def rotation_deg(self) -> float:
        return float(np.rad2deg(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))


def match_pattern(
    det_xy: np.ndarray,
    ref_xy: np.ndarray,
    *,
    n_det: int = 40,
    n_ref: int = 40,
    neighbours: int = 5,
    invariant_tol: float = 0.015,
    match_tol: float = 3.0,
    max_rotation_deg: float = 10.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    min_matches: int = 5,
) -> PatternMatch | None:
    """Find the similarity transform mapping detections onto reference positions.

    Parameters
    ----------
    det_xy, ref_xy : numpy.ndarray
        (N, 2) pixel positions, brightest first.
    n_det, n_ref : int
        How many of the brightest of each set form triangles.
    neighbours : int
        Each star forms triangles with this many nearest neighbours.
    invariant_tol : float
        Distance in invariant space within which two triangles are candidates.
    match_tol : float
        Pixels within which a transformed detection counts as agreeing with a reference star.
    max_rotation_deg, scale_range
        Transforms outside these bounds are not considered (the header WCS is not that wrong).
    min_matches : int
        Fewer agreeing stars than this is no solution.

    Returns
    -------
    PatternMatch or None
    """
    from scipy.spatial import cKDTree

    det = np.asarray(det_xy, float)[:n_det]
    ref = np.asarray(ref_xy, float)[:n_ref]
    if len(det) < 3 or len(ref) < 3:
        return None
    det_tri, det_inv = _triangles(det, neighbours)
    ref_tri, ref_inv = _triangles(ref, neighbours)
    if not len(det_tri) or not len(ref_tri):
        return None
    all_det = np.asarray(det_xy, float)
    ref_tree = cKDTree(np.asarray(ref_xy, float))
    candidates = cKDTree(ref_inv).query_ball_point(det_inv, invariant_tol)
    best: tuple[int, np.ndarray, np.ndarray] | None = None
    tried: set[tuple] = set()
    for i, js in enumerate(candidates):
        for j in js:
            src, dst = det[det_tri[i]], ref[ref_tri[j]]
            matrix, shift = _similarity(src, dst)
            scale = np.sqrt(abs(np.linalg.det(matrix)))
            rotation = np.rad2deg(np.arctan2(matrix[1, 0], matrix[0, 0]))
            if (
                not (scale_range[0] <= scale <= scale_range[1])
                or abs(rotation) > max_rotation_deg
                or np.linalg.det(matrix) <= 0
            ):
                continue
            key = (round(rotation, 1), round(shift[0]), round(shift[1]))
            if key in tried:
                continue
            tried.add(key)
            moved = all_det @ matrix.T + shift
            dist, _ = ref_tree.query(moved, distance_upper_bound=match_tol)
            count = int(np.isfinite(dist).sum())
            if best is None or count > best[0]:
                best = (count, matrix, shift)
    if best is None or best[0] < min_matches:
        return None
    _, matrix, shift = best
    # Refit on every agreeing pair, twice, for a transform not tied to one triangle's noise.
    for _ in range(2):
        moved = all_det @ matrix.T + shift
        dist, nearest = ref_tree.query(moved, distance_upper_bound=match_tol)
        ok = np.flatnonzero(np.isfinite(dist))
        if len(ok) < min_matches:
            return None
        matrix, shift = _similarity(all_det[ok], np.asarray(ref_xy, float)[nearest[ok]])
    moved = all_det @ matrix.T + shift
    dist, nearest = ref_tree.query(moved, distance_upper_bound=match_tol)
    ok = np.flatnonzero(np.isfinite(dist))
    order = np.argsort(dist[ok])
    _, first = np.unique(nearest[ok][order], return_index=True)
    keep = ok[order[first]]
    if len(keep) < min_matches:
        return None
    return PatternMatch(matrix, shift, keep, nearest[keep])


def solve_builtin(
    x: np.ndarray,
    y: np.ndarray,
    ref_ra: np.ndarray,
    ref_dec: np.ndarray,
    start_wcs: WCS,
    shape: tuple[int, int],
    *,
    margin_px: float = 0.0,
    max_rotation_deg: float = 10.0,
    min_matches: int = 5,
) -> tuple[WCS, int] | None:
    """Coarse WCS from pattern matching detections to reference stars, starting from the header.

    ``x, y`` are 0-based detections brightest first; reference stars are taken brightest first
    (callers sort them) among those the header WCS puts within ``margin_px`` of the image.
    Returns the fitted TAN WCS and the number of matched stars, or None.
    """
    from astropy.wcs.utils import fit_wcs_from_points

    ny, nx = shape
    ref_coords = SkyCoord(ref_ra, ref_dec, unit="deg")
    rx, ry, inside = project_inside(start_wcs, ref_coords, shape, margin_px)
    if len(inside) < 3 or len(x) < 3:
        return None
    det_xy = np.column_stack([x, y])
    ref_xy = np.column_stack([rx[inside], ry[inside]])
    scale_px = pixel_scale(start_wcs)
    result = None
    # The brightest detections are mostly the reference stars: as many detections as reference
    # stars first (fast, and the triangles agree best), then more for crowded or deep frames.
    n_ref = min(len(ref_xy), 60)
    for n_det, neighbours in ((n_ref, 5), (n_ref, 7), (2 * n_ref, 7), (60, 5)):
        result = match_pattern(
            det_xy,
            ref_xy,
            n_det=max(n_det, 8),
            n_ref=n_ref,
            neighbours=neighbours,
            max_rotation_deg=max_rotation_deg,
            match_tol=max(2.0, 1.0 / scale_px),
            min_matches=min_matches,
        )
        if result is not None:
            break
    if result is None:
        return None
    ref_sel = inside[result.ref_index]
    coords = SkyCoord(np.asarray(ref_ra)[ref_sel], np.asarray(ref_dec)[ref_sel], unit="deg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = fit_wcs_from_points(
            (det_xy[result.det_index, 0], det_xy[result.det_index, 1]), coords, proj_point="center"
        )
    wcs.pixel_shape = (nx, ny)
    return wcs, len(result.det_index)


def _triangles(xy: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangles (vertex indices ordered by the opposite side, shortest first) and invariants."""
    from scipy.spatial import cKDTree

    k = min(neighbours + 1, len(xy))
    _, near = cKDTree(xy).query(xy, k)
    seen: set[tuple[int, int, int]] = set()
    tris, invs = [], []
    for group in near:
        for combo in itertools.combinations(sorted(group), 3):
            if combo in seen:
                continue
            seen.add(combo)
            p = xy[list(combo)]
            # side i is opposite vertex i
            sides = np.array(
                [
                    np.linalg.norm(p[1] - p[2]),
                    np.linalg.norm(p[0] - p[2]),
                    np.linalg.norm(p[0] - p[1]),
                ]
            )
            order = np.argsort(sides)
            s = sides[order]
            if s[0] <= 1e-6 or s[2] < 5.0:
                continue
            tris.append(np.asarray(combo)[order])
            invs.append((s[2] / s[1], s[1] / s[0]))
    if not tris:
        return np.empty((0, 3), int), np.empty((0, 2))
    inv = np.asarray(invs)
    # compress the second invariant: long thin triangles have unstable ratios
    inv[:, 1] = 1.0 / inv[:, 1]
    inv[:, 0] = 1.0 / inv[:, 0]
    return np.asarray(tris), inv


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity (rotation, uniform scale, shift) with dst ≈ src @ M.T + t."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag([1.0, d]) @ vt
    var = (a**2).sum() / len(src)
    scale = (s[0] + d * s[1]) / var if var > 0 else 1.0
    matrix = scale * rot
    return matrix, mu_d - mu_s @ matrix.T
