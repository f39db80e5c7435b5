"""``python -m seq2math``: the same command line as ``seq2math`` (used where the entry point is not on PATH)."""

from seq2math.cli import main

raise SystemExit(main())
