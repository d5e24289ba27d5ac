"""Detection, aperture and PSF photometry, the error model, and flux calibration."""
