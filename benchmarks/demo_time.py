"""Time the README's demo (``potpyri demo DIR``, a fresh folder, cold caches) on this machine.

    python benchmarks/demo_time.py            # writes benchmarks/demo_time.json

The script writes the measurement, with the commit measured, into README.md itself (replacing the
previous measurement's words, :func:`readme_phrase`); tests/docs/test_readme.py checks that the
README says what the last measurement says.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import git_commit, machine  # noqa: E402  (benchmarks/run.py: commit and machine line)

RESULT = Path(__file__).resolve().parent / "demo_time.json"
README = Path(__file__).resolve().parents[1] / "README.md"


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
        "commit": git_commit(),
    }


def minutes(seconds: float) -> str:
    """``159`` -> ``'2:39'``."""
    mins, secs = divmod(round(seconds), 60)
    return f"{mins}:{secs:02d}"


def readme_phrase(record: dict) -> str:
    """The README's words for a measurement."""
    return (
        f"{minutes(record['wall_s'])} wall time, {minutes(record['cpu_s'])} CPU, measured by "
        f"`benchmarks/demo_time.py` at commit {record.get('commit', 'unknown')} on "
        f"{record['machine']}"
    )


def update_readme(old: dict | None, new: dict) -> None:
    """Put the new measurement's words where the old one's stand in README.md."""
    text = README.read_text()
    flat = " ".join(text.split())
    if old is None or readme_phrase(old) not in flat:
        raise SystemExit(
            f"README.md does not quote the last measurement; put in: {readme_phrase(new)}"
        )
    # The README may wrap the phrase over lines: match it with any whitespace between words.

    pattern = r"\s+".join(re.escape(word) for word in readme_phrase(old).split())
    README.write_text(re.sub(pattern, readme_phrase(new), text, count=1))


if __name__ == "__main__":
    previous = json.loads(RESULT.read_text()) if RESULT.exists() else None
    record = measure()
    RESULT.write_text(json.dumps(record, indent=1) + "\n")
    update_readme(previous, record)
    print(readme_phrase(record))
