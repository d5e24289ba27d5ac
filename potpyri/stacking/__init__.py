"""Resampling frames onto a common grid and combining them in bounded memory."""
