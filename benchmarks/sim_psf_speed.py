"""Time the simulator's star rendering per frame: physical PSF (GalSim) against the Moffat.

    python benchmarks/sim_psf_speed.py [--stars 3000] [--size 1024] [--fwhm 4]

Prints, for one frame of ``size``² pixels with ``stars`` point sources: the PSF's preparation
(node images, truth-FWHM lattice, wing kernel), the drawing of the stars, and the same stars
drawn as Moffats, in seconds; and the flux the image holds against the truth.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.sim.psf import FieldPsf, draw_psf_params
from potpyri.sim.scene import render_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=3000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--fwhm", type=float, default=4.0, help="seeing FWHM, pixels")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    pixscale = 0.16
    n = args.size
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    wcs.wcs.cd = [[-pixscale / 3600, 0], [0, pixscale / 3600]]
    x, y = rng.uniform(0, n - 1, args.stars), rng.uniform(0, n - 1, args.stars)
    ra, dec = wcs.all_pix2world(x, y, 0)
    stars = Table({"ra": ra, "dec": dec, "mag_r": rng.uniform(16, 24, args.stars)})
    stars["is_galaxy"] = False
    for column in ("re_arcsec", "axis_ratio", "pa_deg"):
        stars[column] = 0.0
    params = draw_psf_params(
        rng,
        "physical",
        pixscale=pixscale,
        seeing_arcsec=args.fwhm * pixscale,
        band="r",
        diameter_m=8.1,
        obscuration=0.13,
        aberrations_nm=(25.0, -20.0, 15.0, 30.0, -10.0),
    )
    start = time.perf_counter()
    psf = FieldPsf(params, (n, n))
    for i in range(3):
        for j in range(3):
            psf._node_coeffs(i, j)
    nodes = time.perf_counter()
    lattice = psf.fwhm_lattice()
    psf.wing_kernel()
    prepared = time.perf_counter()
    image = render_sources((n, n), wcs, stars, "r", 1e4, args.fwhm, pixscale, psf)[0]
    drawn = time.perf_counter()
    render_sources((n, n), wcs, stars, "r", 1e4, args.fwhm, pixscale)
    moffat = time.perf_counter()
    inside = (x > 150) & (x < n - 150) & (y > 150) & (y < n - 150)
    print(
        f"{args.stars} stars on {n}x{n} px, FWHM {np.mean([f for *_, f in lattice]):.2f} px: "
        f"PSF nodes {nodes - start:.2f} s, truth-FWHM lattice and wings {prepared - nodes:.2f} s, "
        f"stars {drawn - prepared:.2f} s; Moffat stars {moffat - drawn:.2f} s; "
        f"{inside.sum()} stars away from the edges"
    )
    flux = 1e4 * 10 ** (-0.4 * np.asarray(stars["mag_r"]))
    print(f"image holds {image.sum() / flux.sum():.5f} of the truth flux (edges lose wings)")


if __name__ == "__main__":
    main()
