"""The export archive's format."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

from notes_bff.services.export_archive import ARCHIVE_FORMAT, zip_archive


def test_each_kind_of_record_is_a_json_file_listed_in_the_manifest() -> None:
    made = datetime(2026, 1, 1, tzinfo=UTC)
    data = zip_archive({"profile": {"name": "Ada"}, "notes": [{"id": 1}, {"id": 2}]}, made)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: json.loads(archive.read(name)) for name in archive.namelist()}
    assert files == {
        "manifest.json": {
            "format": ARCHIVE_FORMAT,
            "generated_at": "2026-01-01T00:00:00+00:00",
            "files": ["notes", "profile"],
        },
        "profile.json": {"name": "Ada"},
        "notes.json": [{"id": 1}, {"id": 2}],
    }
