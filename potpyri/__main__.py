"""``python -m potpyri`` is the ``potpyri`` command."""

from potpyri.cli import main

main()
