"""The reference pipeline's mask bits, shared by every step that flags pixels."""

BAD = 1  #: bad pixel (static mask, non-finite during processing, no data)
COSMIC_RAY = 2  #: cosmic-ray hit
SATURATED = 4  #: saturated or non-linear pixel
NEIGHBOUR = 8  #: neighbour of a flagged pixel (grown mask)

__all__ = [
    "BAD",
    "COSMIC_RAY",
    "NEIGHBOUR",
    "SATURATED",
    "grow",
    "no_image_reason",
    "raw_mask",
    "STATIC_MASK_ENV",
    "static_mask",
    "static_mask_path",
]


def no_image_reason(data) -> str:
    """Why a raw image holds no image ('' when it does): all NaN, or one value everywhere (a
    failed readout)."""
    import numpy as np

    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return "no finite pixel (a NaN-filled frame)"
    if finite.min() == finite.max():
        return f"every pixel is {finite.min():g} ADU (a constant frame, no image)"
    return ""


def raw_mask(data, gain, saturation_adu: float):
    """The mask of a raw image in ADU: BAD where there is no data (non-finite, or no amplifier:
    gain <= 0, as in CCD gaps) and SATURATED at or above ``saturation_adu``."""
    import numpy as np

    mask = np.zeros(data.shape, dtype=np.uint8)
    mask[~np.isfinite(data) | (np.broadcast_to(gain, data.shape) <= 0)] |= BAD
    mask[data >= saturation_adu] |= SATURATED
    return mask


def grow(mask, radius: int, bits: int = BAD | COSMIC_RAY | SATURATED):
    """Flag as NEIGHBOUR the pixels within ``radius`` of any pixel carrying ``bits``.

    Returns a new uint8 mask; pixels already flagged keep their bits.
    """
    import numpy as np
    from scipy import ndimage

    if radius <= 0:
        return mask
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = (xx**2 + yy**2) <= radius**2
    near = ndimage.binary_dilation((mask & bits) > 0, structure=disk)
    return (mask | np.where(near & ((mask & bits) == 0), NEIGHBOUR, 0)).astype(np.uint8)


#: Environment variable naming a folder of static masks (e.g. the reference pipeline's).
STATIC_MASK_ENV = "POTPYRI_STATIC_MASKS"


def static_mask_path(name: str, data_path, folder: str | None):
    """Where static mask ``name`` is: absolute, in ``data_path`` or in ``folder`` (else None)."""
    from pathlib import Path

    path = Path(name).expanduser()
    if path.is_absolute():
        return path if path.is_file() else None
    for base in (data_path, folder):
        if base and (Path(base) / path).is_file():
            return Path(base) / path
    return None


def static_mask(instrument, data_path, shape):
    """The instrument's static bad-pixel mask as BAD bits (zeros when none is configured).

    ``instrument.static_mask`` is a FITS file whose first image is non-zero where pixels are bad,
    in the reader's output geometry. A relative name is looked for in ``data_path``, then in the
    folder named by the environment variable ``POTPYRI_STATIC_MASKS`` (where the reference
    pipeline's masks can be kept); a configured mask found nowhere is reported in one log line
    and not applied.
    """
    import logging
    import os

    import numpy as np
    from astropy.io import fits

    if not instrument.static_mask:
        return np.zeros(shape, np.uint8)
    path = static_mask_path(instrument.static_mask, data_path, os.environ.get(STATIC_MASK_ENV))
    if path is None:
        logging.getLogger("potpyri").warning(
            "static mask %s not found in %s or $%s: not applied",
            instrument.static_mask,
            data_path,
            STATIC_MASK_ENV,
        )
        return np.zeros(shape, np.uint8)
    with fits.open(path) as hdul:
        data = next(h.data for h in hdul if h.data is not None and h.data.ndim == 2)
    if data.shape != tuple(shape):
        raise ValueError(
            f"static mask {path.name} has shape {data.shape}, the frames {tuple(shape)}"
        )
    return np.where(data != 0, BAD, 0).astype(np.uint8)
