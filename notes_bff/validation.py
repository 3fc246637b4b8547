"""Input validation and normalization; every failure is a ``BadInput`` naming its field."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from beanie import PydanticObjectId
from bson import ObjectId
from email_validator import EmailNotValidError, validate_email

from notes_bff.errors import BadInput
from notes_bff.models.clock import to_bson_precision

PASSWORD_LENGTH = (8, 128)
NAME_LENGTH = (1, 100)
WORKSPACE_NAME_LENGTH = (1, 100)
DESCRIPTION_MAX = 2000
TITLE_LENGTH = (1, 200)
CONTENT_MAX = 100_000
TAGS_MAX = 20
TAG_LENGTH = (1, 40)
SEARCH_MAX = 100
IDS_MAX = 100
PAGE_SIZE = (1, 100)

# C0 and C1 control characters except tab and newline; carriage returns are normalized.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def strip_controls(text: str) -> str:
    """NFC-normalize, turn CRLF into LF and drop control characters (tab, LF stay)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def single_line(field: str, value: str, bounds: tuple[int, int]) -> str:
    """A one-line text: controls removed, whitespace collapsed, length within ``bounds``."""
    text = _SPACES.sub(" ", strip_controls(value)).strip()
    low, high = bounds
    if not low <= len(text) <= high:
        raise BadInput(field, f"{field} must be {low} to {high} characters long.")
    return text


def multi_line(field: str, value: str, max_length: int) -> str:
    """A multi-line text: controls removed, at most ``max_length`` characters."""
    text = strip_controls(value)
    if len(text) > max_length:
        raise BadInput(field, f"{field} must be at most {max_length} characters long.")
    return text


def email(field: str, value: str) -> str:
    """A deliverable-looking email address, normalized: NFKC (full-width letters and other
    compatibility forms become the plain ones), then lower-cased."""
    text = unicodedata.normalize("NFKC", strip_controls(value)).strip()
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadInput(field, f"{field} is not a valid email address: {exc}") from exc
    return checked.normalized.lower()


def password(field: str, value: str) -> str:
    """A password of 8 to 128 characters (kept as typed)."""
    low, high = PASSWORD_LENGTH
    if not low <= len(value) <= high:
        raise BadInput(field, f"{field} must be {low} to {high} characters long.")
    return value


def tags(field: str, values: list[str]) -> list[str]:
    """At most 20 tags, each 1 to 40 characters, lowercased, deduplicated in order."""
    normalized: list[str] = []
    for value in values:
        tag = single_line(field, value, TAG_LENGTH).lower()
        if tag not in normalized:
            normalized.append(tag)
    if len(normalized) > TAGS_MAX:
        raise BadInput(field, f"{field} holds at most {TAGS_MAX} tags.")
    return normalized


def object_id(field: str, value: str) -> PydanticObjectId:
    """A 24-hex-character id."""
    if not isinstance(value, str) or not ObjectId.is_valid(value) or len(value) != 24:
        raise BadInput(field, f"{field} is not a valid id.")
    return PydanticObjectId(value)


def object_ids(field: str, values: list[str], max_count: int = IDS_MAX) -> list[PydanticObjectId]:
    """Distinct valid ids, at most ``max_count``."""
    if len(values) > max_count:
        raise BadInput(field, f"{field} holds at most {max_count} ids.")
    return list(dict.fromkeys(object_id(field, v) for v in values))


def page_size(field: str, value: int) -> int:
    """``first``: 1 to 100."""
    low, high = PAGE_SIZE
    if not low <= value <= high:
        raise BadInput(field, f"{field} must be between {low} and {high}.")
    return value


def bounded_int(field: str, value: int, low: int, high: int) -> int:
    """An integer argument within [low, high]."""
    if not low <= value <= high:
        raise BadInput(field, f"{field} must be between {low} and {high}.")
    return value


def search_pattern(field: str, value: str) -> str | None:
    """A literal, escaped regular expression for a case-insensitive substring search.

    The user's text never becomes regex syntax (``re.escape``), so neither injection nor
    catastrophic backtracking is possible; its length is bounded. Empty means no search.
    """
    text = _SPACES.sub(" ", strip_controls(value)).strip()
    if len(text) > SEARCH_MAX:
        raise BadInput(field, f"{field} must be at most {SEARCH_MAX} characters long.")
    return re.escape(text) if text else None


def moment(value: datetime) -> datetime:
    """A DateTime input in UTC at BSON precision."""
    return to_bson_precision(value)
