"""Highlight ranges: where a query matched in a note's title or content.

Offsets, not markup: ``[start, end)`` in UTF-16 code units (JavaScript string indices) of the
text the API returns, so clients render them as text nodes and nothing the user wrote is ever
interpreted as HTML. They are computed on the note as MongoDB has it, the text returned
beside them.
"""

from __future__ import annotations

from notes_bff.search.query import ParsedQuery, Phrase, Term
from notes_bff.search.text import edit_distance, plain_analyzer, stem, utf16_offsets

# Ranges returned per field at most (a long note may match hundreds of times).
MAX_RANGES = 50


def _term_matches(term: Term, word: str) -> bool:
    if word == term.plain or stem(word) == term.stem:
        return True
    size = len(term.plain)
    if term.prefix:
        heads = {word[: size + shift] for shift in (-term.typos, 0, term.typos)}
        return any(edit_distance(h, term.plain, term.typos) <= term.typos for h in heads)
    return bool(term.typos) and edit_distance(word, term.plain, term.typos) <= term.typos


def _phrase_starts(phrase: Phrase, stems: list[str]) -> list[int]:
    size = len(phrase.stems)
    return [
        i
        for i in range(len(stems) - size + 1)
        if stems[i] == phrase.stems[0] and tuple(stems[i : i + size]) == phrase.stems
    ]


def highlight(query: ParsedQuery, text: str, limit: int = MAX_RANGES) -> list[tuple[int, int]]:
    """The matched words and phrases of ``query`` in ``text``, in order, at most ``limit``."""
    terms = [t for t in query.terms if not t.optional]
    tokens = plain_analyzer().pre_tokenize(text).tokens
    spans: list[tuple[int, int]] = []
    if query.phrases:
        stems = [stem(token.text) for token in tokens]
        for phrase in query.phrases:
            size = len(phrase.stems)
            spans += [
                (tokens[i].char_offset_from, tokens[i + size - 1].char_offset_to)
                for i in _phrase_starts(phrase, stems)
            ]
    matched: dict[str, bool] = {}
    for token in tokens:
        word = token.text
        if word not in matched:
            matched[word] = any(_term_matches(t, word) for t in terms)
        if matched[word]:
            spans.append((token.char_offset_from, token.char_offset_to))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return utf16_offsets(text, merged[:limit])
