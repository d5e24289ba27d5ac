"""Cosmic-ray masks: L.A.Cosmic (astroscrappy) detections, cleaned of star cores, grown into tails.

L.A.Cosmic flags the cores of undersampled bright stars (they are as sharp as a hit); a star has
wings and a hit has none, so a flagged group whose surrounding ring stands far above the local
sky is unflagged. The faint pixels of a track beside a bright one escape L.A.Cosmic's neighbour
growth (negative Laplacian); they are added by value against the local sky.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

__all__ = ["detect_cosmic_rays", "grow_into_tails", "lacosmic", "unflag_sources"]

_EIGHT = np.ones((3, 3), bool)


def detect_cosmic_rays(
    sci: np.ndarray,
    bad: np.ndarray,
    uncert: np.ndarray,
    readnoise: float,
    *,
    sigclip: float = 4.5,
    sigfrac: float = 0.15,
    objlim: float = 5.0,
    niter: int = 4,
    source_ring_nsig: float = 10.0,
    tail_nsig: float = 2.0,
) -> np.ndarray:
    """Boolean cosmic-ray mask of an image in electrons.

    Parameters
    ----------
    sci, uncert : ndarray
        Image and its 1-sigma uncertainty, electrons.
    bad : ndarray of bool
        Pixels already known bad (not searched, not grown into).
    readnoise : float
        Read noise, electrons.
    sigclip, sigfrac, objlim, niter
        astroscrappy's L.A.Cosmic parameters.
    source_ring_nsig : float
        A flagged group whose ring (2-4 px out) stands this many sigma above the local sky is a
        star and is unflagged; ``inf`` turns this off.
    tail_nsig : float
        Neighbours of a hit brighter than the local sky by this many sigma join it; ``inf`` off.
    """
    crmask = lacosmic(
        sci, bad, readnoise, sigclip=sigclip, sigfrac=sigfrac, objlim=objlim, niter=niter
    )
    crmask = unflag_sources(sci, crmask, bad, source_ring_nsig)
    return grow_into_tails(sci, crmask, bad, uncert, tail_nsig)


def lacosmic(
    sci: np.ndarray,
    bad: np.ndarray,
    readnoise: float,
    *,
    sigclip: float = 4.5,
    sigfrac: float = 0.15,
    objlim: float = 5.0,
    niter: int = 4,
    reach: int = 10,
    margin: int = 8,
) -> np.ndarray:
    """astroscrappy's L.A.Cosmic mask, with iterations 2.. run only around the newest hits.

    Iterations after the first are local: each decision depends on pixels within ~8 px (the
    Laplacian, the 7x7 noise median, the 5x5 and 9x9 fine-structure medians, two neighbour
    growths), and between iterations only pixels within 2 px of new hits change (their 5x5
    masked-mean cleaning). So iteration 1 runs on the whole image and the later ones on boxes
    around the previous iteration's new hits: the same mask as astroscrappy's ``niter`` loop
    for less work.

    Parameters
    ----------
    sci : ndarray
        Image, electrons.
    bad : ndarray of bool
        Known bad pixels (astroscrappy's ``inmask``).
    readnoise : float
        Read noise, electrons.
    sigclip, sigfrac, objlim, niter
        astroscrappy's parameters (gain 1, no saturation level: saturation is masked already).
    reach : int
        Distance from a new hit within which the next iteration can decide differently.
    margin : int
        Context around each box, so that no filter of a box sees its edge within ``reach``.
    """
    import astroscrappy

    _stop_dilate5_leak()

    def one_pass(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return astroscrappy.detect_cosmics(
            image,
            inmask=mask,
            gain=1.0,
            readnoise=readnoise,
            satlevel=np.inf,
            sigclip=sigclip,
            sigfrac=sigfrac,
            objlim=objlim,
            niter=1,
        )[0]

    data = np.asarray(sci, np.float32)
    bad = np.asarray(bad, bool)
    crmask = one_pass(data, bad)
    grown = ndimage.binary_dilation(bad, structure=_EIGHT)  # astroscrappy grows its inmask by 1 px
    background = float(np.median(data[~grown])) if (~grown).any() else 0.0
    ny, nx = data.shape
    pad = reach + margin
    new = crmask
    for _ in range(niter - 1):
        if not new.any():
            break
        clean = _clean_meanmask(data, crmask, grown, background)
        labels, _ = ndimage.label(new, structure=_EIGHT)
        groups = ndimage.find_objects(labels)
        area = sum(
            (g[0].stop - g[0].start + 2 * pad) * (g[1].stop - g[1].start + 2 * pad) for g in groups
        )
        if area > data.size / 3:  # dense hits: one pass over the image is cheaper than many boxes
            found = one_pass(clean, bad) & ndimage.binary_dilation(
                new, np.ones((2 * reach + 1,) * 2, bool)
            )
        else:
            found = np.zeros_like(crmask)
            for group in groups:
                (gy0, gy1), (gx0, gx1) = ((s.start, s.stop) for s in group)
                by0, bx0 = max(gy0 - pad, 0), max(gx0 - pad, 0)
                box = (slice(by0, min(gy1 + pad, ny)), slice(bx0, min(gx1 + pad, nx)))
                hits = one_pass(clean[box], bad[box])
                y0, y1 = max(gy0 - reach, 0), min(gy1 + reach, ny)
                x0, x1 = max(gx0 - reach, 0), min(gx1 + reach, nx)
                found[y0:y1, x0:x1] |= hits[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        new = found & ~crmask
        crmask |= new
    return crmask


def _stop_dilate5_leak() -> None:
    """Work around a leak in astroscrappy 1.x: ``utils.dilate5`` never frees its output buffer
    (1 byte per pixel per call), and ``detect_cosmics`` calls it once per call to grow
    the saturated-pixel mask. potpyri passes ``satlevel=inf`` (saturation is masked already), so
    that mask is empty and its dilation is empty too: return that without calling the leaking
    function. Any non-empty input still goes to astroscrappy's own ``dilate5``."""
    import astroscrappy.astroscrappy as lacosmic_module

    original = lacosmic_module.dilate5
    if getattr(original, "_potpyri_guard", False):
        return

    def dilate5(data: np.ndarray, niter: int) -> np.ndarray:
        if not np.any(data):
            return np.zeros(np.shape(data), dtype=bool)
        return original(data, niter)

    dilate5._potpyri_guard = True  # type: ignore[attr-defined]
    lacosmic_module.dilate5 = dilate5


def _clean_meanmask(
    data: np.ndarray, crmask: np.ndarray, bad: np.ndarray, background: float
) -> np.ndarray:
    """astroscrappy's 'meanmask' cleaning: each hit (not on the 2-px border) becomes the mean of
    the pixels of its 5×5 neighbourhood that are neither hits nor ``bad``, or ``background``
    where there are none."""
    good = ~(crmask | bad)
    box = np.ones((5, 5))
    total = ndimage.convolve(np.where(good, data, 0.0).astype(np.float64), box, mode="constant")
    count = ndimage.convolve(good.astype(np.float64), box, mode="constant")
    fill = crmask.copy()
    fill[:2, :] = fill[-2:, :] = False
    fill[:, :2] = fill[:, -2:] = False
    out = data.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out[fill] = np.where(count > 0, total / np.maximum(count, 1), background)[fill]
    return out


def unflag_sources(
    sci: np.ndarray,
    crmask: np.ndarray,
    bad: np.ndarray,
    nsig: float,
    ring: tuple[float, float] = (2.0, 4.0),
    sky_from: float = 6.0,
    half: int = 10,
) -> np.ndarray:
    """Unflag the groups of ``crmask`` that sit in an extended source (a ring excess > nsig)."""
    if not np.isfinite(nsig):
        return crmask
    out = crmask.copy()
    labels, _ = ndimage.label(crmask, structure=_EIGHT)
    ny, nx = sci.shape
    for number, region in enumerate(ndimage.find_objects(labels), start=1):
        cy = (region[0].start + region[0].stop - 1) // 2
        cx = (region[1].start + region[1].stop - 1) // 2
        box = (
            slice(max(cy - half, 0), min(cy + half + 1, ny)),
            slice(max(cx - half, 0), min(cx + half + 1, nx)),
        )
        group = labels[box] == number
        usable = ~(bad[box] | crmask[box])
        distance = ndimage.distance_transform_edt(~group)
        in_ring = (distance >= ring[0]) & (distance <= ring[1]) & usable
        in_sky = (distance >= sky_from) & usable
        if in_ring.sum() < 5 or in_sky.sum() < 10:
            continue
        cut = sci[box]
        sky = np.median(cut[in_sky])
        noise = 1.4826 * np.median(np.abs(cut[in_sky] - sky))
        excess = cut[in_ring].mean() - sky
        if noise > 0 and excess > nsig * noise / np.sqrt(in_ring.sum()):
            out[labels == number] = False
    return out


def grow_into_tails(
    sci: np.ndarray,
    crmask: np.ndarray,
    bad: np.ndarray,
    uncert: np.ndarray,
    nsig: float,
    rounds: int = 2,
) -> np.ndarray:
    """Add the 8-connected neighbours of hits that stand ``nsig`` above their 5x5 local sky."""
    if not np.isfinite(nsig):
        return crmask
    out = crmask.copy()
    padded = np.pad(np.where(crmask | bad, np.nan, sci), 2, mode="edge")
    windows = sliding_window_view(padded, (5, 5))
    for _ in range(rounds):
        ys, xs = np.nonzero(ndimage.binary_dilation(out, structure=_EIGHT) & ~out & ~bad)
        if not len(ys):
            break
        with warnings.catch_warnings():  # an all-NaN window (inside a gap) is simply not grown into
            warnings.simplefilter("ignore", RuntimeWarning)
            sky = np.nanmedian(windows[ys, xs].reshape(len(ys), -1), axis=1)
        join = (sci[ys, xs] - sky) > nsig * uncert[ys, xs]
        if not join.any():
            break
        out[ys[join], xs[join]] = True
    return out
