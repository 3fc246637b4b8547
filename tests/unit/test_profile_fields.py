"""The profile's settings: avatar URLs, IANA time zones and BCP 47 locales."""

from __future__ import annotations

import pytest

from notes_bff.errors import BadInput
from notes_bff.profile_fields import avatar_url, locale, time_zone


@pytest.mark.parametrize(
    "url",
    [
        "https://images.example.com/a.png",
        "https://cdn.example.co.uk:8443/u/1?s=64#x",
        "  https://xn--bcher-kva.example/a.png ",
    ],
)
def test_https_urls_on_public_host_names_are_kept(url: str) -> None:
    assert avatar_url("avatarUrl", url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT://example.com/%0aalert(1)",
        "data:image/svg+xml,<svg/>",
        "http://images.example.com/a.png",
        "//images.example.com/a.png",
        "https://user@images.example.com/a.png",
        "https://localhost/a.png",
        "https://intranet/a.png",
        "https://10.0.0.1/a.png",
        "https://[::1]/a.png",
        "https://images.example.com/a b.png",
        'https://images.example.com/"onerror=x',
        "https://images.example.com:99999/a.png",
        "https://images.example.com/" + "a" * 2048,
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(BadInput) as refused:
        avatar_url("avatarUrl", url)
    assert refused.value.field == "avatarUrl"


@pytest.mark.parametrize(
    ("given", "stored"),
    [("Europe/Paris", "Europe/Paris"), ("america/new_york", "America/New_York"), ("UTC", "UTC")],
)
def test_iana_zones_are_stored_in_their_canonical_spelling(given: str, stored: str) -> None:
    assert time_zone("timeZone", given) == stored


@pytest.mark.parametrize("given", ["Mars/Base", "+02:00", "CEST ", "", "../etc/passwd"])
def test_unknown_zones_are_refused(given: str) -> None:
    with pytest.raises(BadInput):
        time_zone("timeZone", given)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("en", "en"),
        ("en-us", "en-US"),
        ("zh_hant_tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("DE-ch-1996", "de-CH-1996"),
        ("en-US-x-twain", "en-US-x-twain"),
    ],
)
def test_bcp47_tags_are_cased_canonically(given: str, stored: str) -> None:
    assert locale("locale", given) == stored


@pytest.mark.parametrize("given", ["english", "e", "en-", "en--US", "en-US-" + "x" * 40, "12"])
def test_malformed_tags_are_refused(given: str) -> None:
    with pytest.raises(BadInput):
        locale("locale", given)
