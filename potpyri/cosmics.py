"""Cosmic-ray masks: L.A.Cosmic (astroscrappy) detections, cleaned of star cores, grown into tails.

L.A.Cosmic flags the cores of bright stars when they are undersampled (FWHM below ~2.5 px), because
they are then as sharp as a hit. A star has wings and a hit has none, so a flagged group whose
surrounding ring stands far above the local sky is a source, not a cosmic ray. Conversely the
faint pixels of a track beside a bright one have a negative Laplacian and escape L.A.Cosmic's
neighbour growth; they are recovered by value, against the local sky, one ring at a time.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

__all__ = ["detect_cosmic_rays", "grow_into_tails", "unflag_sources"]

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
    import astroscrappy

    crmask, _ = astroscrappy.detect_cosmics(
        sci, inmask=bad, gain=1.0, readnoise=readnoise, satlevel=np.inf,
        sigclip=sigclip, sigfrac=sigfrac, objlim=objlim, niter=niter,
    )
    crmask = unflag_sources(sci, crmask, bad, source_ring_nsig)
    return grow_into_tails(sci, crmask, bad, uncert, tail_nsig)


def unflag_sources(sci: np.ndarray, crmask: np.ndarray, bad: np.ndarray, nsig: float,
                   ring: tuple[float, float] = (2.0, 4.0), sky_from: float = 6.0,
                   half: int = 10) -> np.ndarray:
    """Unflag the groups of ``crmask`` that sit in an extended source (a ring excess > nsig)."""
    if not np.isfinite(nsig):
        return crmask
    out = crmask.copy()
    labels, _ = ndimage.label(crmask, structure=_EIGHT)
    ny, nx = sci.shape
    for number, region in enumerate(ndimage.find_objects(labels), start=1):
        cy = (region[0].start + region[0].stop - 1) // 2
        cx = (region[1].start + region[1].stop - 1) // 2
        box = (slice(max(cy - half, 0), min(cy + half + 1, ny)), slice(max(cx - half, 0), min(cx + half + 1, nx)))
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


def grow_into_tails(sci: np.ndarray, crmask: np.ndarray, bad: np.ndarray, uncert: np.ndarray,
                    nsig: float, rounds: int = 2) -> np.ndarray:
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
