"""UTS #39 skeletons and email normalization, without servers."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest
from pydantic import ValidationError

from notes_bff.config import Settings
from notes_bff.confusables import CONFUSABLES, email_skeleton, parse_confusables, skeleton
from notes_bff.validation import email

# Unicode's confusables.txt 18.0.0 (2026-08-06), as published: 763,128 bytes.
CONFUSABLES_SHA256 = "6ed3ee967c9dfdf6677d563c9985182fbc50a2efb7d6059cd57b2e2ce18f5b92"

CYRILLIC_E = "\u0435"
FULL_WIDTH_USER = "\uff55\uff53\uff45\uff52"
BOLD_USER = "\U0001d42e\U0001d42c\U0001d41e\U0001d42b"  # MATHEMATICAL BOLD SMALL U, S, E, R


def test_the_vendored_data_is_unicodes_file_unmodified() -> None:
    data = resources.files("notes_bff").joinpath(CONFUSABLES).read_bytes()
    assert hashlib.sha256(data).hexdigest() == CONFUSABLES_SHA256
    assert b"# Version: 18.0.0" in data[:400]


def test_parse_confusables_reads_sources_and_multi_character_prototypes() -> None:
    text = (
        "# confusables.txt\n"
        "\n"
        "0430 ;\t0061 ;\tMA\t# ( \u0430 \u2192 a ) CYRILLIC SMALL LETTER A\t#\n"
        "006D ;\t0072 006E ;\tMA\t# ( m \u2192 rn )\t#\n"
    )
    assert parse_confusables(text) == {0x430: "a", 0x6D: "rn"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("p\u0430ypal", "paypal"),  # Cyrillic a
        ("\u0440aypal", "paypal"),  # Cyrillic er
        ("mary", "rnary"),  # m and rn
        ("bob1", "bobl"),  # digit one and small L
        ("us\u200ber", "user"),  # a zero-width space is a default ignorable: dropped
        ("us\u00ader", "user"),  # soft hyphen
        ("user\ufe0f", "user"),  # variation selector
        ("caf\u00e9", "cafe\u0301"),  # precomposed and decomposed
    ],
)
def test_look_alikes_share_a_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(("one", "other"), [("caf\u00e9", "cafe"), ("user1", "user2")])
def test_different_strings_keep_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_a_skeleton_is_its_own_skeleton() -> None:
    text = "".join(chr(c) for c in range(0x20, 0x2500) if chr(c).isprintable())
    assert skeleton(skeleton(text)) == skeleton(text)


@pytest.mark.parametrize(
    "look_alike",
    [
        f"us{CYRILLIC_E}r@example.com",
        f"{FULL_WIDTH_USER}@example.com",
        f"{BOLD_USER}@example.com",
        "USER@Example.COM",
        "user@ex\u0430mple.com",  # a look-alike domain
        "us\u200ber@example.com",
    ],
)
def test_look_alike_addresses_share_the_email_skeleton(look_alike: str) -> None:
    assert email_skeleton(look_alike) == email_skeleton("user@example.com")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("rene@example.com", "ren\u00e9@example.com"),
        ("user1@example.com", "user2@example.com"),
        ("user@example.com", "user@example.org"),
    ],
)
def test_distinct_addresses_keep_distinct_email_skeletons(one: str, other: str) -> None:
    assert email_skeleton(one) != email_skeleton(other)


def test_email_normalizes_compatibility_forms_but_keeps_other_scripts() -> None:
    assert email("e", f"{FULL_WIDTH_USER}@example.com") == "user@example.com"
    full_width_at_and_dot = f"{FULL_WIDTH_USER}\uff20example\uff0ecom"
    assert email("e", full_width_at_and_dot) == "user@example.com"
    assert email("e", f"us{CYRILLIC_E}r@Example.com") == f"us{CYRILLIC_E}r@example.com"


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="NOTES_BFF_METRICS_TOKEN must be at least 32"):
        Settings(_env_file=None, metrics_token="short")
