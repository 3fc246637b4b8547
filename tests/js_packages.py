"""The locked npm packages of tests/js, for the JavaScript client tests and the benchmarks."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

JS_DIR = Path(__file__).parent / "js"
LOCKFILE = JS_DIR / "package-lock.json"
# The sha256 of the lockfile that node_modules was installed from.
INSTALLED_LOCK = JS_DIR / "node_modules" / ".notes-bff-lock-sha256"


def installed_node() -> str | None:
    """The path of ``node`` with tests/js's packages installed (``npm ci`` when node_modules
    is missing or the lockfile changed since); None when node or npm is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    digest = hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()
    # One install at a time: the suite's xdist workers may all ask at once.
    with (JS_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not INSTALLED_LOCK.exists() or INSTALLED_LOCK.read_text() != digest:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                check=True,
                capture_output=True,
                timeout=600,
            )
            INSTALLED_LOCK.write_text(digest)
    return node
