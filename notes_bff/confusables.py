"""Unicode confusable detection (UTS #39, section 4): strings that look alike share a skeleton.

The mapping is Unicode's own ``confusables.txt``, kept verbatim in ``notes_bff/data`` (version
18.0.0; its licence beside it), so a skeleton stored in the database changes only when that
file is replaced, not with the operating system's ICU.
"""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources

CONFUSABLES = "data/confusables.txt"

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible characters, which a
# skeleton drops (UTS #39 skeleton, step 2).
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def parse_confusables(text: str) -> dict[int, str]:
    """``confusables.txt``'s mapping: each source code point to its prototype string."""
    table: dict[int, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if data:
            source, prototype, _ = (field.strip() for field in data.split(";"))
            table[int(source, 16)] = "".join(chr(int(cp, 16)) for cp in prototype.split())
    return table


@functools.cache
def _table() -> dict[int, str | None]:
    """Prototypes for ``str.translate``, and ``None`` (drop) for the default ignorables."""
    text = resources.files("notes_bff").joinpath(CONFUSABLES).read_text(encoding="utf-8-sig")
    table: dict[int, str | None] = {**parse_confusables(text)}
    for low, high in _DEFAULT_IGNORABLE:
        table.update(dict.fromkeys(range(low, high + 1)))
    return table


def skeleton(text: str) -> str:
    """UTS #39 ``skeleton(X)``: NFD, without default ignorables, each character replaced by
    its prototype, NFD again. Two strings are confusable when their skeletons are equal."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(_table()))


def email_skeleton(address: str) -> str:
    """The look-alike key of an email address: the skeleton of its NFKC, lower-case form.

    ``user@example.com`` with a Cyrillic e (U+0435), in full-width letters (U+FF55…) or as
    itself all share one key. It is a comparison key only, never an address.
    """
    return skeleton(unicodedata.normalize("NFKC", address).lower())
