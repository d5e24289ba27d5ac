"""Time the README's demo (``potpyri demo DIR``, a fresh folder, cold caches) on this machine.

    python benchmarks/demo_time.py            # writes benchmarks/demo_time.json

README.md quotes the result through :func:`readme_phrase`; tests/docs/test_readme.py checks that
the README says what the last measurement says (re-run this script, then paste the printed
phrase into README.md).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402  (benchmarks/run.py: one line describing the machine)

RESULT = Path(__file__).resolve().parent / "demo_time.json"


def measure() -> dict:
    """Run the demo once in a fresh folder; its wall and CPU time, and the machine."""
    with tempfile.TemporaryDirectory(prefix="potpyri-demo-time-") as folder:
        where = machine()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from potpyri.cli import main; main()", "demo", folder],
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "machine": where,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def minutes(seconds: float) -> str:
    """``159`` -> ``'2:39'``."""
    mins, secs = divmod(round(seconds), 60)
    return f"{mins}:{secs:02d}"


def readme_phrase(record: dict) -> str:
    """The README's words for a measurement."""
    return (
        f"{minutes(record['wall_s'])} wall time, {minutes(record['cpu_s'])} CPU, measured by "
        f"`benchmarks/demo_time.py` on {record['machine']}"
    )


if __name__ == "__main__":
    record = measure()
    RESULT.write_text(json.dumps(record, indent=1) + "\n")
    print(readme_phrase(record))
