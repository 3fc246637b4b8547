"""The export archive's format: a zip of JSON files, one per kind of record."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import datetime

import orjson

ARCHIVE_FORMAT = "notes-bff-export/1"


def zip_archive(files: Mapping[str, object], generated_at: datetime) -> bytes:
    """A zip holding ``<name>.json`` for each of ``files`` plus ``manifest.json`` (the
    format, when it was made, and the files)."""
    manifest = {"format": ARCHIVE_FORMAT, "generated_at": generated_at, "files": sorted(files)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, records in {"manifest": manifest, **files}.items():
            archive.writestr(
                f"{name}.json", orjson.dumps(records, default=str, option=orjson.OPT_INDENT_2)
            )
    return buffer.getvalue()
