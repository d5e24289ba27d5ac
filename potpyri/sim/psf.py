"""The simulator's point-spread function from physics, not from the pipeline's model.

A frame's PSF is the atmosphere (von Kármán: a Kolmogorov spectrum with a finite outer scale)
convolved with the telescope's pupil (an obscured circular aperture with small defocus,
astigmatism and coma). The atmospheric part is sheared and dilated by low-order polynomials of
the field position, so ellipticity and size vary smoothly over the mosaic; seeing, ellipticity
and its position angle change from frame to frame. GalSim renders it. The Moffat (β = 3) the
simulator used before stays available as ``model="moffat"``.

Rendering draws the pixel-convolved PSF once per node of a coarse grid over the mosaic, finely
sampled; a star's core is a cubic-spline sample of the bilinear blend of its four nodes' images
(so its truth FWHM is measured on that blend), and its faint wings come from one convolution.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache

import galsim
import numpy as np
from scipy import ndimage, signal

__all__ = [
    "BAND_WAVELENGTH_NM",
    "FieldPsf",
    "PsfParams",
    "draw_psf_params",
    "effective_fwhm",
    "field_psf",
]

#: Effective wavelength (nm) of each simulated band, for diffraction and the atmosphere.
BAND_WAVELENGTH_NM = {
    "u": 360.0,
    "g": 475.0,
    "r": 620.0,
    "i": 760.0,
    "z": 900.0,
    "Y": 1020.0,
    "J": 1250.0,
    "H": 1650.0,
    "K": 2150.0,
    "B": 440.0,
    "V": 550.0,
    "R": 650.0,
    "I": 800.0,
    "NB4170": 417.0,
}
#: Samples per detector pixel of the node images stars are interpolated from.
_OVERSAMPLE = 4
#: Grid of PSF nodes over the mosaic (per axis).
_NODES = 3
#: Reach of the wings drawn around every star, in FWHM.
_WING_FWHM = 25.0
#: GalSim accuracy of the rendered images: the wings its FFTs fold back (by default 0.5% of the
#: flux) would add light to the core that the truth flux does not hold.
_GSPARAMS = galsim.GSParams(folding_threshold=1e-3)
#: Positions per axis at which the truth FWHM is measured and recorded.
_LATTICE = 5


@dataclass(frozen=True)
class PsfParams:
    """Everything that fixes one frame's PSF; stored as JSON in ``truth/frames.ecsv`` (``psf``).

    Field coordinates ``u, v`` run from -1 to 1 over the mosaic's width and height. The shear
    ``g1, g2`` and the dilation of the atmospheric part are polynomials in the basis
    ``(1, u, v, u*u, u*v, v*v)``; ``dilation`` has no constant term (it is 1 at the centre).
    """

    model: str  #: "physical" (von Kármán ⊗ aberrated pupil) or "moffat" (β = 3, circular)
    pixscale: float  #: arcsec per (binned) pixel
    seeing_arcsec: float  #: FWHM of the atmosphere's (von Kármán) PSF in the band
    outer_scale_m: float = 25.0  #: von Kármán outer scale L0
    wavelength_nm: float = 620.0  #: effective wavelength of the band
    diameter_m: float = 8.0  #: telescope aperture
    obscuration: float = 0.15  #: linear central obscuration (secondary / primary diameter)
    #: Zernike rms amplitudes, nm: defocus, astigmatism (2), coma (2) (Noll 4-8)
    aberrations_nm: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    g1: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    g2: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    dilation: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def to_json(self) -> str:
        """One-line JSON for the truth table."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PsfParams:
        """The parameters written by :meth:`to_json`."""
        values = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def shape_at(self, u: float, v: float) -> tuple[float, float, float]:
        """``(g1, g2, dilation)`` of the atmospheric PSF at field position ``u, v``."""
        basis = np.array([1.0, u, v, u * u, u * v, v * v])
        g1, g2 = float(basis @ np.asarray(self.g1)), float(basis @ np.asarray(self.g2))
        return g1, g2, 1.0 + float(basis[1:] @ np.asarray(self.dilation))

    def galsim_psf(self, u: float = 0.0, v: float = 0.0, *, flux_exact: bool = True):
        """The PSF (no pixel) at field position ``u, v``, unit flux, lengths in arcsec.

        ``flux_exact=False`` keeps GalSim's default folding, enough for the PSF's core (its
        FWHM) and several times faster on a fine grid.
        """
        gsparams = _GSPARAMS if flux_exact else galsim.GSParams()
        if self.model == "moffat":
            return galsim.Moffat(beta=3.0, fwhm=self.seeing_arcsec, gsparams=gsparams)
        g1, g2, scale = self.shape_at(u, v)
        atmosphere = _atmosphere(
            self.wavelength_nm, self.seeing_arcsec, self.outer_scale_m, flux_exact
        )
        atmosphere = atmosphere.dilate(scale).shear(g1=g1, g2=g2)
        # The pupil keeps GalSim's defaults: a stricter folding makes its FFT gigabytes.
        return galsim.Convolve(
            atmosphere, _optics(self), gsparams=gsparams, propagate_gsparams=False
        )


def draw_psf_params(
    rng: np.random.Generator,
    model: str,
    *,
    pixscale: float,
    seeing_arcsec: float,
    band: str,
    diameter_m: float,
    obscuration: float,
    aberrations_nm: tuple[float, ...],
) -> PsfParams:
    """One frame's PSF: the frame's seeing, an ellipticity of up to 0.05 at a random position
    angle (guiding, wind shake), and its field variation (gradients and curvature of a few per
    cent, as across an imager's field); the optics' aberrations are the night's."""
    if model not in ("physical", "moffat"):
        raise ValueError(f"unknown PSF model {model!r}: use 'physical' or 'moffat'")
    g = rng.uniform(0.0, 0.05)
    angle = rng.uniform(0.0, np.pi)
    g1 = (g * np.cos(2 * angle), *rng.normal(0.0, 0.01, 2), *rng.normal(0.0, 0.006, 3))
    g2 = (g * np.sin(2 * angle), *rng.normal(0.0, 0.01, 2), *rng.normal(0.0, 0.006, 3))
    curvature = rng.uniform(0.0, 0.04)
    dilation = (*rng.normal(0.0, 0.01, 2), curvature, 0.0, curvature)
    return PsfParams(
        model=model,
        pixscale=float(pixscale),
        seeing_arcsec=float(seeing_arcsec),
        wavelength_nm=BAND_WAVELENGTH_NM.get(band, 620.0),
        diameter_m=float(diameter_m),
        obscuration=float(obscuration),
        aberrations_nm=tuple(float(a) for a in aberrations_nm),
        g1=tuple(float(c) for c in g1),
        g2=tuple(float(c) for c in g2),
        dilation=tuple(float(c) for c in dilation),
    )


@lru_cache(maxsize=64)
def _atmosphere(
    wavelength_nm: float, seeing_arcsec: float, outer_scale_m: float, flux_exact: bool = True
):
    """Von Kármán PSF whose FWHM is ``seeing_arcsec``.

    The outer scale narrows the Kolmogorov core by ``sqrt(1 - 2.183 (r0/L0)^0.356)``
    (Tokovinin 2002, PASP 114, 1156), so r0 is solved for with that factor: the frame's seeing is
    the atmosphere's delivered FWHM, as an image-quality monitor would report it.
    """
    radians = np.deg2rad(seeing_arcsec / 3600.0)
    lam = wavelength_nm * 1e-9
    r0 = 0.976 * lam / radians
    for _ in range(50):  # fixed point: r0 shrinks until the narrowed core has the seeing FWHM
        factor = np.sqrt(max(1.0 - 2.183 * (r0 / outer_scale_m) ** 0.356, 0.05))
        r0 = 0.976 * lam * factor / radians
    return galsim.VonKarman(
        lam=wavelength_nm,
        r0=r0,
        L0=outer_scale_m,
        scale_unit=galsim.arcsec,
        gsparams=_GSPARAMS if flux_exact else galsim.GSParams(),
    )


def _optics(params: PsfParams) -> galsim.GSObject:
    return _optics_cached(
        params.wavelength_nm, params.diameter_m, params.obscuration, params.aberrations_nm
    )


@lru_cache(maxsize=16)
def _optics_cached(wavelength_nm, diameter_m, obscuration, aberrations_nm):
    waves = [0.0] * 4 + [a / wavelength_nm for a in aberrations_nm]  # galsim: Noll index, waves
    return galsim.OpticalPSF(
        lam=wavelength_nm,
        diam=diameter_m,
        obscuration=obscuration,
        aberrations=waves,
        scale_unit=galsim.arcsec,
    )


def _pixel(scale: float) -> galsim.Pixel:
    return galsim.Pixel(scale, gsparams=_GSPARAMS)


def effective_fwhm(image: np.ndarray, samples_per_px: float) -> float:
    """Effective FWHM (pixels) of a finely sampled PSF image: the diameter of the circle with the
    area inside the half-maximum contour, ``2 sqrt(A / π)``.

    For an elliptical PSF it is the geometric mean of the axes' FWHMs, which a circular model fit
    reports. Each sample counts for the fraction of it above half maximum, from the local
    gradient, so the contour is resolved below one sample.
    """
    half = image.max() / 2.0
    gy, gx = np.gradient(image)
    slope = np.maximum(np.hypot(gx, gy), 1e-30)
    inside = np.clip(0.5 + (image - half) / slope, 0.0, 1.0)
    return float(2.0 * np.sqrt(inside.sum() / samples_per_px**2 / np.pi))


@lru_cache(maxsize=2)
def field_psf(params: PsfParams, shape: tuple[int, int]) -> FieldPsf:
    """The :class:`FieldPsf` of ``params`` on a mosaic of ``shape``, shared while a frame is
    measured and rendered (its node images are the costly part)."""
    return FieldPsf(params, tuple(shape))


class FieldPsf:
    """One frame's PSF over a mosaic of ``shape``: star images and truth FWHMs.

    A star is its core, a box of :attr:`core_half` pixels around it (tapering over
    :attr:`taper` more) drawn from the PSF at its position (:meth:`stamp`), plus the wings
    beyond, added for all stars at once by convolving their fluxes with the field centre's PSF
    outside the box (:meth:`add_wings`): the wings out to 25 FWHM hold the light a core box
    leaves out (~1%). Core and wings add up to the PSF's flux within a few 1e-5.

    Parameters
    ----------
    params : PsfParams
    shape : tuple of int
        ``(ny, nx)`` of the mosaic.
    """

    def __init__(self, params: PsfParams, shape: tuple[int, int]) -> None:
        self.params = params
        self.shape = shape
        ny, nx = shape
        self.node_x = np.linspace(0.0, nx - 1.0, _NODES)
        self.node_y = np.linspace(0.0, ny - 1.0, _NODES)
        self._coeffs: dict[tuple[int, int], np.ndarray] = {}
        self._fine: dict[tuple[int, int], np.ndarray] = {}
        self.nominal_fwhm_px = params.seeing_arcsec / params.pixscale
        self.centre_fwhm_px = self.fwhm_at((nx - 1) / 2.0, (ny - 1) / 2.0)
        #: Half-size (pixels) of a star's core box: 4 Moffat α (the Moffat renderer's least).
        self.core_half = int(np.ceil(4.0 * self.centre_fwhm_px / 1.0196))
        #: Pixels over which a core box's edge tapers into the wings.
        self.taper = max(2, self.core_half // 4)
        self._grid_half = self.core_half + self.taper + 3  # room for the spline beyond the box
        self._wings: np.ndarray | None = None
        self._captured = 1.0

    def _uv(self, i: int, j: int) -> tuple[float, float]:
        ny, nx = self.shape
        return (
            2.0 * self.node_x[i] / max(nx - 1, 1) - 1.0,
            2.0 * self.node_y[j] / max(ny - 1, 1) - 1.0,
        )

    def _node_coeffs(self, i: int, j: int) -> np.ndarray:
        """Spline coefficients of node (i, j)'s pixel-convolved PSF, sampled _OVERSAMPLE times
        per pixel, values in unit-flux pixel counts."""
        key = (i, j)
        if key not in self._coeffs:
            p = self.params
            psf = galsim.Convolve(p.galsim_psf(*self._uv(i, j)), _pixel(p.pixscale))
            n = 2 * self._grid_half * _OVERSAMPLE + 1
            drawn = psf.drawImage(
                nx=n, ny=n, scale=p.pixscale / _OVERSAMPLE, method="no_pixel"
            ).array.astype(np.float64)
            # A fine sample holds profile × (pixel/OS)²; a detector pixel's share is OS² that.
            self._coeffs[key] = ndimage.spline_filter(drawn * _OVERSAMPLE**2, order=3)
        return self._coeffs[key]

    def _weights(self, x: float, y: float) -> list[tuple[tuple[int, int], float]]:
        """Bilinear weights of the (up to four) nodes around mosaic position x, y."""
        fx = np.interp(x, self.node_x, np.arange(_NODES))
        fy = np.interp(y, self.node_y, np.arange(_NODES))
        i0, j0 = min(int(fx), _NODES - 2), min(int(fy), _NODES - 2)
        tx, ty = fx - i0, fy - j0
        out = []
        for di, wx in ((0, 1 - tx), (1, tx)):
            for dj, wy in ((0, 1 - ty), (1, ty)):
                if wx * wy > 0:
                    out.append(((i0 + di, j0 + dj), wx * wy))
        return out

    def stamp(self, x0: int, x1: int, y0: int, y1: int, xc: float, yc: float) -> np.ndarray:
        """Unit-flux PSF of a star at ``(xc, yc)`` on pixels ``[y0:y1, x0:x1]`` (pixel response
        included), within :attr:`core_half` + :attr:`taper` + 2 pixels of it (zero beyond)."""
        centre = self._grid_half * _OVERSAMPLE
        cols = (np.arange(x0, x1) - xc) * _OVERSAMPLE + centre
        rows = (np.arange(y0, y1) - yc) * _OVERSAMPLE + centre
        grid = np.meshgrid(rows, cols, indexing="ij")
        out = np.zeros((y1 - y0, x1 - x0))
        for key, weight in self._weights(xc, yc):
            out += weight * ndimage.map_coordinates(
                self._node_coeffs(*key), grid, order=3, prefilter=False, mode="constant"
            )
        return out

    def wing_kernel(self) -> np.ndarray:
        """The field centre's unit-flux pixel PSF out to :data:`_WING_FWHM` FWHM, zero inside
        the core box (:attr:`captured`: the PSF's fraction the whole kernel holds)."""
        if self._wings is None:
            p = self.params
            half = int(np.ceil(_WING_FWHM * self.centre_fwhm_px))
            # Drawn as the cores are (explicit pixel, no_pixel), so core and wings join exactly.
            kernel = (
                galsim.Convolve(p.galsim_psf(), _pixel(p.pixscale))
                .drawImage(nx=2 * half + 1, ny=2 * half + 1, scale=p.pixscale, method="no_pixel")
                .array.astype(np.float64)
            )
            self._captured = float(kernel.sum())
            offset = np.arange(-half, half + 1)
            kernel *= 1.0 - np.outer(self._inside(offset), self._inside(offset))
            self._wings = kernel
        return self._wings

    @property
    def captured(self) -> float:
        """The fraction of the PSF's flux the wing kernel (core box included) holds."""
        self.wing_kernel()
        return self._captured

    def add_stars(
        self,
        image: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        flux: np.ndarray,
        origin: tuple[int, int] = (0, 0),
    ) -> None:
        """Add point sources of ``flux`` at 0-based mosaic positions ``x, y`` to ``image`` (in
        place): each star's core from :meth:`stamp`, then all the wings. ``image`` is the
        part of the mosaic whose first pixel is mosaic pixel ``origin`` (x, y).

        The wings are laid down from the four pixels around a star with bilinear shares
        (:meth:`add_wings`), each leaving out the core box around its own pixel; the core is
        weighted by the same shares of those four boxes, so core and wings add up to the PSF.
        The boxes' edges taper over a few pixels: there the wings, laid from whole pixels, are
        an interpolation of the PSF rather than the PSF a fraction of a pixel away.
        """
        ny, nx = image.shape
        ox, oy = origin
        c = self.core_half + self.taper
        for xk, yk, fk in zip(x, y, flux, strict=True):
            ix, iy = int(np.floor(xk)), int(np.floor(yk))
            tx, ty = xk - ix, yk - iy
            x0, x1 = max(ix - c - ox, 0), min(ix + c + 2 - ox, nx)
            y0, y1 = max(iy - c - oy, 0), min(iy + c + 2 - oy, ny)
            if x0 >= x1 or y0 >= y1:
                continue
            # Share of the core boxes (around ix and ix + 1) covering each column, and rows.
            cols, rows = np.arange(x0, x1) + ox, np.arange(y0, y1) + oy
            wx = (1 - tx) * self._inside(cols - ix) + tx * self._inside(cols - ix - 1)
            wy = (1 - ty) * self._inside(rows - iy) + ty * self._inside(rows - iy - 1)
            core = self.stamp(x0 + ox, x1 + ox, y0 + oy, y1 + oy, xk, yk)
            image[y0:y1, x0:x1] += fk * core * wy[:, None] * wx[None, :]
        self.add_wings(image, np.asarray(x) - ox, np.asarray(y) - oy, np.asarray(flux))

    def _inside(self, offset: np.ndarray) -> np.ndarray:
        """Weight of the core box at integer pixel offsets from its centre: 1 within
        :attr:`core_half`, falling linearly to 0 over :attr:`taper` pixels beyond."""
        return np.clip((self.core_half + self.taper - np.abs(offset)) / self.taper, 0.0, 1.0)

    def add_wings(self, image: np.ndarray, x: np.ndarray, y: np.ndarray, flux: np.ndarray) -> None:
        """Add the wings of stars of ``flux`` at ``x, y`` to ``image`` (in place).

        Each star's flux is shared bilinearly among the four pixels around it, so the wings are
        centred to a fraction of a pixel; they are smooth on that scale.
        """
        ny, nx = image.shape
        kernel = self.wing_kernel()
        half = kernel.shape[0] // 2
        pad = np.zeros((ny + 2 * half + 2, nx + 2 * half + 2))
        near = (x > -half) & (x < nx + half) & (y > -half) & (y < ny + half)
        x, y, flux = x[near], y[near], flux[near]
        ix, iy = np.floor(x).astype(int), np.floor(y).astype(int)
        tx, ty = x - ix, y - iy
        for dx, wx in ((0, 1 - tx), (1, tx)):
            for dy, wy in ((0, 1 - ty), (1, ty)):
                np.add.at(pad, (iy + dy + half, ix + dx + half), flux * wx * wy)
        # One FFT is fastest on small read-outs; overlap-add keeps full mosaics' memory bounded.
        convolve = signal.fftconvolve if pad.size < 2**23 else signal.oaconvolve
        wings = convolve(pad, kernel, mode="same")
        image += wings[half : half + ny, half : half + nx]

    def _node_fine(self, i: int, j: int, samples: int, size: int) -> np.ndarray:
        key = (i, j)
        if key not in self._fine:
            p = self.params
            self._fine[key] = (
                p.galsim_psf(*self._uv(i, j), flux_exact=False)
                .drawImage(nx=size, ny=size, scale=p.pixscale / samples, method="no_pixel")
                .array.astype(np.float64)
            )
        return self._fine[key]

    def fwhm_at(self, x: float, y: float) -> float:
        """Truth effective FWHM (pixels, no pixel response) of the PSF rendered at ``x, y``: see
        :func:`effective_fwhm`."""
        samples = max(8, int(np.ceil(32.0 / self.nominal_fwhm_px)))
        size = int(4 * self.nominal_fwhm_px * samples) | 1
        blend = sum(w * self._node_fine(*key, samples, size) for key, w in self._weights(x, y))
        return effective_fwhm(blend, samples)

    def fwhm_lattice(self) -> list[tuple[float, float, float]]:
        """``(x, y, fwhm_px)`` of the truth PSF at the centres of a 5×5 division of the mosaic."""
        ny, nx = self.shape
        xs = (np.arange(_LATTICE) + 0.5) * nx / _LATTICE - 0.5
        ys = (np.arange(_LATTICE) + 0.5) * ny / _LATTICE - 0.5
        return [(float(x), float(y), self.fwhm_at(x, y)) for y in ys for x in xs]
