"""The served schema honours the frontends' contract, and the committed SDL is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema as parse_sdl
from graphql import find_breaking_changes

from notes_bff.schema import build_schema

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT.parent / "shared" / "contract" / "schema.graphql"


@pytest.mark.skipif(not CONTRACT.exists(), reason=f"no contract at {CONTRACT}")
def test_no_breaking_change_against_the_contract() -> None:
    contract = parse_sdl(CONTRACT.read_text())
    served = parse_sdl(build_schema().as_str())
    breaking = [change.description for change in find_breaking_changes(contract, served)]
    assert breaking == []


def test_committed_schema_is_what_the_server_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "notes_bff", "schema"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (ROOT / "schema.graphql").read_text() == printed, "run `make schema`"
