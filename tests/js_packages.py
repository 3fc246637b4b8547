"""The locked npm packages of tests/js, for the JavaScript client tests and the benchmarks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_DIR = Path(__file__).parent / "js"


def installed_node() -> str | None:
    """The path of ``node`` with tests/js's packages installed (``npm ci`` once); None when
    node or npm is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    if not (JS_DIR / "node_modules" / ".package-lock.json").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return node
