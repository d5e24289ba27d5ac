"""The tutorial's code runs as written (docs/tutorial.rst), on the session's reduced demo night.

Every ``bash`` and ``python`` code block of the page runs in order, with the page's demo folder
(``/tmp/demo``) replaced by the session's (tests/demo_night.py reduced it once).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from astropy.io import fits

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.rst"
PAGE_FOLDER = "/tmp/demo"
_BLOCK = re.compile(r"^\.\. code-block:: (\w+)\n\n((?:(?: {3}.*)?\n)+)", re.MULTILINE)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every code block of a reST page, indentation removed."""
    return [
        (language, "\n".join(line[3:] for line in body.splitlines()).strip() + "\n")
        for language, body in _BLOCK.findall(text)
    ]


def test_the_page_has_the_blocks_this_test_runs():
    languages = [language for language, _ in code_blocks(TUTORIAL.read_text())]
    assert languages == ["bash", "text", "bash", "python"]


def test_the_tutorial_code_runs_as_written(reduced_demo):
    folder = str(reduced_demo.folder)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "POTPYRI_PLAIN_LOG": "1",
    }
    outputs = []
    for language, code in code_blocks(TUTORIAL.read_text()):
        if language == "text":
            continue
        code = code.replace(PAGE_FOLDER, folder)
        command = ["bash", "-euo", "pipefail", "-c", code]
        if language == "python":
            command = [sys.executable, "-c", code]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{language} block failed:\n{code}\n{proc.stderr[-3000:]}"
        outputs.append(proc.stdout)
    # Step 3 restacked with stack.method=mean; step 4 printed the stack's cards and the truth.
    stack = reduced_demo.folder / "red" / "SIM01_GRB.r_G0303.20240618.3.44.stk.fits"
    header = fits.getheader(stack)
    assert header["STKMETH"] == "mean"
    first, *table = outputs[-1].splitlines()
    assert first.split()[:2] == [str(header["NCOMBINE"]), str(header["EXPTIME"])]
    assert sum("N20240618S00" in line for line in table) == 3  # the three r exposures
