"""A note's collaborative document: one Y.Text, built from a persisted state plus updates.

States and updates are Yjs updates (v1). Merging is :func:`pycrdt.merge_updates`, which keeps
everything, even an update whose dependencies have not arrived yet (re-encoding a document
would drop those), and applying an update twice changes nothing: any order of merges and
reloads gives the same document.
"""

from __future__ import annotations

from collections.abc import Iterable

from pycrdt import Doc, Text, merge_updates

# The name of the shared text: clients bind their editor to `ydoc.getText("content")`.
TEXT = "content"
EMPTY_UPDATE = b"\x00\x00"


def text_of(doc: Doc[Text]) -> Text:
    """The document's shared text."""
    return doc.get(TEXT, type=Text)


def build(state: bytes, updates: Iterable[bytes] = ()) -> Doc[Text]:
    """A document from a persisted state and the updates after it."""
    doc: Doc[Text] = Doc()
    text_of(doc)
    for update in (state, *updates):
        doc.apply_update(update)
    return doc


def initial_state(markdown: str) -> bytes:
    """The first state of a note's document: its Markdown as one insertion. Made once per
    note (whoever stores it first wins): two documents made from the same text would hold
    it twice once merged."""
    doc: Doc[Text] = Doc()
    text_of(doc).insert(0, markdown)
    return doc.get_update()


def merge(state: bytes, updates: Iterable[bytes]) -> bytes:
    """One update equivalent to ``state`` followed by ``updates``."""
    pending = list(updates)
    return merge_updates(state, *pending) if pending else state
