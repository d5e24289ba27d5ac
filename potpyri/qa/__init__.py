"""Quality assessment of a stack: quick independent measurements, figures and QC flags.

The run's HTML page that shows them is :mod:`potpyri.report` (it reads the runner's result).
"""
