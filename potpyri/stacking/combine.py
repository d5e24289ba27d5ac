"""Pixel combination of aligned frames, one block of rows at a time.

Pure array functions: they know nothing of the pipeline, so the stack step can feed them row
blocks read from the frames on disk and keep peak memory at N frames × one block
(:class:`RowReader` reads rows with plain file reads, not memory maps, so that pages of the inputs
do not pile up in the process's resident memory either).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

import bottleneck as bn
import numpy as np
from astropy.io import fits

__all__ = [
    "BYTES_PER_ELEMENT",
    "CombineMethod",
    "METHODS",
    "RowReader",
    "background_variance",
    "combine_block",
    "median_variance_ratio",
    "row_blocks",
]


class CombineMethod(str, enum.Enum):
    """How frames are combined, pixel by pixel (masters and stacks alike)."""

    median = "median"
    mean = "mean"
    sigclip = "sigclip"  #: mean after rejecting outliers beyond ``sigma`` uncertainties


METHODS = tuple(m.value for m in CombineMethod)  #: the combinations :func:`combine_block` knows

#: Bytes of working memory per input pixel of a block in :func:`combine_block` (inputs: data 4,
#: error 4, valid 1; temporaries: at most ~4 float32 arrays of the block's size alive at once;
#: tests/stacking/test_stack.py checks it with tracemalloc).
BYTES_PER_ELEMENT = 28

# n × Var(median of n unit normals): 1 for n <= 2, π/2 for n -> ∞. n = 3..25 from 4e5 Monte Carlo
# draws per n (±0.003); beyond, the odd/even asymptotic forms fitted to n = 20..25.
_MEDIAN_RATIO = np.array(
    [
        1.0,
        1.0,
        1.0,
        1.346,
        1.192,
        1.434,
        1.283,
        1.478,
        1.347,
        1.497,
        1.381,
        1.502,
        1.414,
        1.52,
        1.435,
        1.525,
        1.451,
        1.533,
        1.463,
        1.529,
        1.467,
        1.54,
        1.474,
        1.538,
        1.488,
        1.547,
    ]
)


def median_variance_ratio(n: np.ndarray) -> np.ndarray:
    """Variance of the median of ``n`` Gaussian values over that of their mean (1 where n <= 2)."""
    n = np.asarray(n)
    big = np.maximum(n, 1).astype(np.float64)
    asymptotic = np.where(n % 2 == 1, 0.5 * np.pi * (1 - 0.38 / big), 0.5 * np.pi * (1 - 1.3 / big))
    table = _MEDIAN_RATIO[np.clip(n, 0, _MEDIAN_RATIO.size - 1)]
    return np.where(n < _MEDIAN_RATIO.size, table, asymptotic)


def combine_block(
    data: np.ndarray,
    error: np.ndarray,
    valid: np.ndarray,
    method: str = "median",
    sigma: float = 3.0,
    maxiters: int = 5,
    clip_frac: float = 0.0,
    frame_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine a ``(n_frames, rows, cols)`` block along the first axis.

    Parameters
    ----------
    data, error : numpy.ndarray
        Values and 1σ uncertainties, already on a common scale (e.g. electrons per second).
    valid : numpy.ndarray
        Boolean, False where a frame's pixel is masked (modified in place).
    method : {'median', 'mean', 'sigclip'}
        ``mean`` is the inverse-variance weighted mean; ``sigclip`` rejects pixels more than
        ``sigma`` uncertainties from the median of the frames (iteratively) and takes the
        inverse-variance weighted mean of the rest; ``median`` is the plain median of the valid
        pixels.
    sigma, maxiters : float, int
        Rejection threshold and iterations for ``sigclip``.
    clip_frac : float
        ``sigclip`` only: the rejection threshold is ``sigma × sqrt(error² + (clip_frac ×
        median)²)``, so that star cores, which differ between frames by more than their noise
        when the seeing differs, are not clipped (SWarp's ``CLIP_AMPFRAC``; assumes
        background-subtracted frames).
    frame_weight : numpy.ndarray, optional
        ``mean``/``sigclip`` only: one weight per frame (e.g. its background inverse variance)
        instead of each pixel's own inverse variance. Per-pixel weights that include a star's
        photon noise differ across the star (and between frames of different seeing), so the
        frames' profiles are mixed unevenly and bright stars lose flux; frame weights do not
        depend on the pixel's value. The uncertainty is then ``sqrt(Σ wᵢ² σᵢ²) / Σ wᵢ``.

    Returns
    -------
    value, uncertainty, n_used : numpy.ndarray
        Combined image, its 1σ uncertainty (NaN where no frame contributed) and the number of
        frames used per pixel. The uncertainty of ``mean``/``sigclip`` with per-pixel weights is
        ``1/sqrt(Σ wᵢ)``; that of ``median`` is the same times the efficiency of a median of
        ``n_used`` Gaussian values.
    """
    if method not in METHODS:
        raise ValueError(f"unknown stack method {method!r}; choose from {', '.join(METHODS)}")
    valid = np.ascontiguousarray(valid)  # _clip updates it through a reshaped view
    valid &= np.isfinite(data)
    valid &= np.isfinite(error)
    valid &= error > 0
    if method == "sigclip":
        _clip(data, error, valid, sigma, maxiters, clip_frac)
    if method == "median":
        masked = np.where(valid, data, np.float32(np.nan))
    weight = np.square(error)
    np.divide(np.float32(1.0), weight, out=weight, where=valid)
    weight[~valid] = 0.0
    weight_sum = weight.sum(axis=0, dtype=np.float64)
    n_used = valid.sum(axis=0).astype(np.int16)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_error = 1.0 / np.sqrt(weight_sum)
        if method == "median":
            del weight
            value = bn.nanmedian(masked, axis=0)
            uncertainty = mean_error * np.sqrt(median_variance_ratio(n_used))
        elif frame_weight is not None:
            del weight
            value, uncertainty = _frame_weighted_mean(data, error, valid, frame_weight)
        else:
            weight *= np.where(valid, data, np.float32(0.0))
            value = weight.sum(axis=0, dtype=np.float64) / weight_sum
            uncertainty = mean_error
    empty = n_used == 0
    value = np.where(empty, np.nan, value).astype(np.float32)
    uncertainty = np.where(empty, np.nan, uncertainty).astype(np.float32)
    return value, uncertainty, n_used


def background_variance(error: np.ndarray, good: np.ndarray) -> float:
    """Median variance of the ``good`` pixels: the sky's, since most pixels are sky (a frame
    weight that does not depend on any one pixel's value). NaN when no pixel qualifies."""
    e = error[good & np.isfinite(error) & (error > 0)]
    return float(np.median(np.square(e, dtype=np.float64))) if e.size else float("nan")


def _frame_weighted_mean(
    data: np.ndarray, error: np.ndarray, valid: np.ndarray, frame_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean with one weight per frame over the valid pixels, and its propagated uncertainty
    (accumulated frame by frame: the temporaries are one frame's block, not the whole block)."""
    shape = data.shape[1:]
    weight_sum, total, variance = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for d, e, v, w in zip(data, error, valid, np.asarray(frame_weight, np.float64), strict=True):
        weight_sum += np.where(v, w, 0.0)
        total += np.where(v, w * d, 0.0)
        variance += np.where(v, np.square(w * e), 0.0)
    return total / weight_sum, np.sqrt(variance) / weight_sum


def _clip(
    data: np.ndarray,
    error: np.ndarray,
    valid: np.ndarray,
    sigma: float,
    maxiters: int,
    clip_frac: float,
) -> None:
    """Iterative clipping about the median of the frames; updates ``valid`` in place.

    After the first pass only the pixels where something was rejected can change, so later
    passes (median and comparisons) work on those pixels alone: clipping costs about one median.
    """
    n = data.shape[0]
    d, e, v = data.reshape(n, -1), error.reshape(n, -1), valid.reshape(n, -1)
    center = bn.nanmedian(np.where(v, d, np.float32(np.nan)), axis=0)
    idx = None  # all pixels in the first pass (views, no copies)
    for _ in range(maxiters):
        dd, ee, vv, cc = (
            (d, e, v, center) if idx is None else (d[:, idx], e[:, idx], v[:, idx], center[idx])
        )
        limit = np.square(ee)
        if clip_frac:
            limit += np.square(clip_frac * cc)
        limit *= sigma * sigma
        deviation = np.subtract(dd, cc)
        np.square(deviation, out=deviation)
        keep = deviation <= limit  # NaN (no valid frame left) compares False
        del limit, deviation
        keep &= vv
        changed = (keep != vv).any(axis=0)
        if idx is None:
            v[...] = keep
            idx = np.flatnonzero(changed)
        else:
            v[:, idx] = keep
            idx = idx[changed]
        del keep, dd, ee, vv, cc
        if idx.size == 0:
            break
        center[idx] = bn.nanmedian(np.where(v[:, idx], d[:, idx], np.float32(np.nan)), axis=0)


def row_blocks(ny: int, nx: int, n_frames: int, memory_mb: float):
    """Row slices whose working memory in :func:`combine_block` fits ``memory_mb``."""
    rows = max(1, min(ny, int(memory_mb * 1e6 // (n_frames * nx * BYTES_PER_ELEMENT))))
    for start in range(0, ny, rows):
        yield slice(start, min(ny, start + rows))


class RowReader:
    """Rows of image extensions of an uncompressed FITS file, read on demand with ``pread``.

    One file descriptor per file, whatever the number of extensions read; scaled or compressed
    data fall back to astropy's ``section``.

    Parameters
    ----------
    path : path-like
        The FITS file.
    extnames : sequence of str or int
        Extensions to read; :meth:`read` takes their position in this sequence.
    """

    _DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}

    def __init__(self, path: str | os.PathLike, extnames) -> None:
        self.path = Path(path)
        self._ext = list(extnames)
        self._layout = []
        with fits.open(self.path, memmap=False, lazy_load_hdus=True) as hdul:
            for ext in self._ext:
                hdu = hdul[ext]
                header = hdu.header
                scaled = header.get("BSCALE", 1) != 1 or header.get("BZERO", 0) != 0
                plain = not scaled and not isinstance(hdu, fits.CompImageHDU)
                dtype = np.dtype(self._DTYPES[int(header["BITPIX"])]) if plain else None
                shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
                self._layout.append((hdul.fileinfo(hdul.index_of(ext))["datLoc"], dtype, shape))
        self.shape = self._layout[0][2]
        self._fd = os.open(self.path, os.O_RDONLY)

    def read(self, which: int, rows: slice) -> np.ndarray:
        """Rows ``rows`` of the ``which``-th extension, as a native-endian array."""
        offset, dtype, (ny, nx) = self._layout[which]
        start, stop, _ = rows.indices(ny)
        if dtype is None:
            with fits.open(self.path, memmap=False) as hdul:
                return np.asarray(hdul[self._ext[which]].section[start:stop, :])
        size = dtype.itemsize
        buffer = os.pread(self._fd, (stop - start) * nx * size, offset + start * nx * size)
        return (
            np.frombuffer(buffer, dtype).reshape(stop - start, nx).astype(dtype.newbyteorder("="))
        )

    def close(self) -> None:
        """Release the file descriptor."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
