"""Text changes applied to a live Y.Text as edits, never as a replacement.

:func:`rebase` is a three-way merge: the edits that turn ``base`` into ``new`` (what a writer
changed in the text it read) are moved onto ``live`` (that text plus everyone else's edits
since), so both survive. :func:`apply` performs edits on a ``pycrdt.Text``, whose indices are
UTF-8 byte offsets.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from difflib import SequenceMatcher

from pycrdt import Text

# Changed line blocks are refined to characters only up to this product of their lengths
# (SequenceMatcher is quadratic); larger ones are replaced whole.
MAX_REFINE = 4_000_000

Opcode = tuple[str, int, int, int, int]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    low, high = 0, n
    while low < high:  # binary search on slices: C speed instead of a Python loop
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _line_offsets(lines: list[str]) -> list[int]:
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return offsets


def _middle(a: str, b: str) -> list[Opcode]:
    """Opcodes between two texts that differ at both ends: lines, then characters."""
    if not a or not b:
        return [("delete" if a else "insert", 0, len(a), 0, len(b))]
    lines_a, lines_b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    at_a, at_b = _line_offsets(lines_a), _line_offsets(lines_b)
    ops: list[Opcode] = []
    matcher = SequenceMatcher(None, lines_a, lines_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        a1, a2, b1, b2 = at_a[i1], at_a[i2], at_b[j1], at_b[j2]
        if tag == "replace" and (a2 - a1) * (b2 - b1) <= MAX_REFINE:
            chars = SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
            ops += [
                (t, a1 + x1, a1 + x2, b1 + y1, b1 + y2) for t, x1, x2, y1, y2 in chars.get_opcodes()
            ]
        else:
            ops.append((tag, a1, a2, b1, b2))
    return ops


def opcodes(a: str, b: str) -> list[Opcode]:
    """difflib-style opcodes turning ``a`` into ``b``."""
    prefix = _common_prefix(a, b)
    suffix = _common_prefix(a[prefix:][::-1], b[prefix:][::-1])
    end_a, end_b = len(a) - suffix, len(b) - suffix
    ops: list[Opcode] = [("equal", 0, prefix, 0, prefix)] if prefix else []
    if prefix < end_a or prefix < end_b:
        middle = _middle(a[prefix:end_a], b[prefix:end_b])
        ops += [
            (t, i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix) for t, i1, i2, j1, j2 in middle
        ]
    if suffix:
        ops.append(("equal", end_a, len(a), end_b, len(b)))
    return ops


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``text[start:end]`` (character offsets) with ``insert``."""

    start: int
    end: int
    insert: str = ""


def rebase(base: str, new: str, live: str) -> list[Edit]:
    """The edits turning ``base`` into ``new``, placed on ``live``; text that others changed
    meanwhile is kept (only what still stands of what the writer deleted is deleted)."""
    equal = [op for op in opcodes(base, live) if op[0] == "equal"]
    starts = [op[1] for op in equal]

    def position(p: int) -> int:
        """Where base offset ``p`` is in ``live``; inside text others changed, its start."""
        k = bisect.bisect_right(starts, p) - 1
        if k >= 0 and p <= equal[k][2]:
            return equal[k][3] + p - equal[k][1]
        return equal[k][4] if k >= 0 else 0

    edits: list[Edit] = []
    for tag, i1, i2, j1, j2 in opcodes(base, new):
        if tag == "equal":
            continue
        for _, e1, e2, l1, _ in equal:
            low, high = max(i1, e1), min(i2, e2)
            if low < high:
                edits.append(Edit(l1 + low - e1, l1 + high - e1))
        if j2 > j1:
            edits.append(Edit(position(i1), position(i1), new[j1:j2]))
    return edits


def apply(text: Text, live: str, edits: list[Edit]) -> None:
    """Perform ``edits`` (made against ``live``, the text's current string) in one
    transaction, last position first so earlier offsets stay valid."""
    # At one position: a deletion starting there first, then the insertions, last one first.
    ordered = [
        edit
        for _, _, _, edit in sorted(
            ((e.start, e.end > e.start, i, e) for i, e in enumerate(edits)), reverse=True
        )
    ]
    bounds = sorted({e.start for e in edits} | {e.end for e in edits})
    byte_at, total, previous = {}, 0, 0
    for offset in bounds:
        total += len(live[previous:offset].encode())
        byte_at[offset], previous = total, offset
    doc = text.doc
    with doc.transaction():
        for edit in ordered:
            if edit.end > edit.start:
                del text[byte_at[edit.start] : byte_at[edit.end]]
            if edit.insert:
                text.insert(byte_at[edit.start], edit.insert)


def replace(text: Text, new: str) -> None:
    """Make ``text`` read ``new`` with the fewest edits (a restore, a first import)."""
    live = str(text)
    apply(text, live, rebase(live, new, live))
