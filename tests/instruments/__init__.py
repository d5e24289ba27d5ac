"""Readers on real raw files and on files built from the real-format specification."""

#: Header cards FITS itself writes for an image extension: not part of an instrument's keyword set.
STRUCTURAL_KEYWORDS = frozenset(
    {"XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "BZERO", "BSCALE"}
)
