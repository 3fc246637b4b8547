"""The search language, parsed here and never by the engine's query parser.

Users type words, ``"exact phrases"`` and ``-excluded`` words. Nothing else has a meaning:
``title:x``, ``AND``, ``*``, ``~`` or brackets are just text, so no input can change the shape
of the engine query (whose workspace restriction it must never escape). Every word must
match (stop words only add to the score), each with a typo budget; the last word also
matches as a prefix while the user is still typing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from notes_bff.errors import BadInput
from notes_bff.search.text import STOP_WORDS, stem, typo_budget, words
from notes_bff.validation import single_line

MAX_QUERY_CHARS = 256
MAX_TERMS = 32
# A prefix of one letter would match most of the vocabulary.
MIN_PREFIX = 2
# A quoted phrase (its closing quote may still be missing while typing), or a bare chunk.
_CHUNK = re.compile(r'"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True)
class Term:
    """One query word."""

    plain: str
    stem: str
    typos: int
    prefix: bool
    optional: bool


@dataclass(frozen=True)
class Phrase:
    """Words that must appear in this order, next to each other."""

    plains: tuple[str, ...]
    stems: tuple[str, ...]


@dataclass(frozen=True)
class ParsedQuery:
    """A validated query."""

    text: str
    terms: tuple[Term, ...] = ()
    phrases: tuple[Phrase, ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing in it can match (no word, no phrase)."""
        return not self.terms and not self.phrases


def parse(field: str, raw: str) -> ParsedQuery:
    """Parse user input; ``BadInput`` on ``field`` when it is too long or has too many words."""
    if len(raw) > MAX_QUERY_CHARS * 4:  # refuse before normalizing a huge string
        raise BadInput(field, f"{field} must be at most {MAX_QUERY_CHARS} characters long.")
    text = single_line(field, raw, (0, MAX_QUERY_CHARS))
    plain_words: list[str] = []
    phrases: list[Phrase] = []
    excluded: list[str] = []
    # Whether the last thing typed is a bare word the user may still be typing.
    open_word = False
    for match in _CHUNK.finditer(text):
        quoted, chunk = match[1], match[2] or ""
        tokens = words(quoted if quoted is not None else chunk)
        open_word = False
        if quoted is None and chunk.startswith("-") and len(chunk) > 1:
            excluded.extend(stem(t) for t in tokens)
        elif len(tokens) > 1:  # a phrase, or "follow-up" and "v1.2": their parts in order
            phrases.append(Phrase(tuple(tokens), tuple(stem(t) for t in tokens)))
        elif tokens:
            plain_words.extend(tokens)
            open_word = quoted is None and chunk[-1].isalnum()
    if len(plain_words) + sum(len(p.plains) for p in phrases) + len(excluded) > MAX_TERMS:
        raise BadInput(field, f"{field} may hold at most {MAX_TERMS} words.")
    typing = open_word and not raw[-1].isspace()
    all_stop = not phrases and all(w in STOP_WORDS for w in plain_words)
    last = len(plain_words) - 1
    terms = tuple(
        Term(
            plain=word,
            stem=stem(word),
            typos=typo_budget(word),
            prefix=typing and i == last and len(word) >= MIN_PREFIX,
            optional=word in STOP_WORDS and not all_stop,
        )
        for i, word in enumerate(plain_words)
    )
    return ParsedQuery(text, terms, tuple(phrases), tuple(dict.fromkeys(excluded)))
