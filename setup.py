"""Package discovery that pyproject.toml alone cannot express.

The repository keeps ``conf/`` and ``steps/`` at its top level (where people look for them) but
installs them as ``potpyri.conf`` and ``potpyri.steps``, so the wheel holds one namespace only.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["potpyri", "potpyri.*"]) + ["potpyri.conf", "potpyri.steps"])
