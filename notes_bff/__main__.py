"""``python -m notes_bff`` is the same as ``notes-bff``."""

from notes_bff.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
