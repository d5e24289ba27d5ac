"""Pixel calibration: master frames, applying them, masks, cosmic rays, sky models."""
