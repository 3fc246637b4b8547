"""Text analysis shared by indexing, querying and highlighting.

Two analyzers, both on tantivy's simple tokenizer (runs of letters and digits), lowercased and
ASCII-folded: ``plain`` keeps words as written (typo tolerance and prefixes match against it)
and ``stem`` reduces English word forms to one stem ("meetings", "meeting" → "meet"; BM25 and
phrases match against it). Offsets are code points; :func:`utf16_offsets` turns them into the
JavaScript string indices the API returns.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from functools import cache, lru_cache

import tantivy

PLAIN = "notes_plain"
STEM = "notes_stem"
# Longer tokens (hashes, base64 blobs, URLs without separators) are not indexed.
MAX_TOKEN_BYTES = 40

# Lucene's English stop words: optional in a query that has other words.
STOP_WORDS = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
        "there", "these", "they", "this", "to", "was", "will", "with",
    )
)  # fmt: skip


def _builder(stem: bool) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


@cache
def plain_analyzer() -> tantivy.TextAnalyzer:
    """Words lowercased and ASCII-folded, as written."""
    return _builder(stem=False)


@cache
def stem_analyzer() -> tantivy.TextAnalyzer:
    """Words lowercased, ASCII-folded and reduced to their English stem."""
    return _builder(stem=True)


def register_analyzers(index: tantivy.Index) -> None:
    """Make both analyzers known to an opened index."""
    index.register_tokenizer(PLAIN, plain_analyzer())
    index.register_tokenizer(STEM, stem_analyzer())


def words(text: str) -> list[str]:
    """The plain tokens of ``text``."""
    return plain_analyzer().analyze(text)


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The stem of one plain token."""
    stems = stem_analyzer().analyze(word)
    return stems[0] if stems else word


def typo_budget(word: str) -> int:
    """Edits a query word may be away from a match: none up to 4 letters, 1 up to 8, then 2.

    Words with digits (versions, ticket numbers, years) must match exactly.
    """
    if not word.isalpha() or len(word) < 5:
        return 0
    return 1 if len(word) < 9 else 2


def edit_distance(a: str, b: str, bound: int) -> int:
    """Optimal-string-alignment distance (a transposition is one edit), or ``bound + 1`` once
    it is certainly over ``bound``."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > bound:
            return bound + 1
        previous2, previous = previous, current
    return previous[-1]


def utf16_offsets(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Code-point spans of ``text`` as UTF-16 code unit spans (JavaScript string indices)."""
    if text.isascii():
        return list(spans)
    astral = [i for i, char in enumerate(text) if ord(char) > 0xFFFF]
    return [(s + bisect_left(astral, s), e + bisect_left(astral, e)) for s, e in spans]
