"""The import direction of docs/architecture.md, enforced by import-linter's layers contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contract over the package found in ``root``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_module_imports_from_a_layer_above_it() -> None:
    outcome = _lint_imports(ROOT)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "1 kept, 0 broken" in outcome.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """A service that reached for the HTTP layer (a cookie helper) would fail ``make test``."""
    shutil.copytree(
        ROOT / "notes_bff",
        tmp_path / "notes_bff",
        ignore=shutil.ignore_patterns("__pycache__", "static"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    service = tmp_path / "notes_bff" / "services" / "auth.py"
    service.write_text(
        service.read_text() + "\nfrom notes_bff.http.cookies import ACCESS_COOKIE  # noqa\n"
    )
    outcome = _lint_imports(tmp_path)
    assert outcome.returncode != 0
    assert "notes_bff.services is not allowed to import notes_bff.http" in outcome.stdout
    assert "notes_bff.services.auth -> notes_bff.http.cookies" in outcome.stdout
