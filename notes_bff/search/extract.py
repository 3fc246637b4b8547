"""Suggestions extracted from a note's text: due dates, tasks, priorities, assignees, tags.

Never applied on their own: the API lists them and a user accepts one. Precision comes before
recall (a wrong due date is worse than none), so every rule is narrow:

- **due dates** only after a deadline word ("due", "deadline", "by", "before", "until", "no
  later than"), as a weekday, "today"/"tonight"/"tomorrow", "in 3 days"/"in two weeks", "end
  of week/month", or a day and month ("3 Dec", "December 3rd", "2025-12-03"), with an optional
  time ("5pm", "17:30", "noon"). They resolve against the note's last edit in the user's time
  zone, preferring the future ("Friday" is the coming one, "3 Dec" next year once it passed),
  at the end of that day when no time is given. "due to", "was due", "not due", code and
  vague phrases ("next week", "soon", "12/3") are ignored;
- **tasks**: open Markdown task list items and ``TODO:``/``FIXME:``/``Action item:`` lines;
- **priorities**: P0-P3, "urgent", "asap", "critical", "blocker", "high/low priority";
- **assignees**: ``@name`` matching exactly one member (first name, full name, email name);
- **tags**: the workspace's existing tags that appear in the text, or that similar notes of
  the workspace carry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from notes_bff.models import NotePriority
from notes_bff.search.text import stem, utf16_offsets, words


class SuggestionKind(StrEnum):
    """What a suggestion would change."""

    DUE_DATE = "DUE_DATE"
    TASK = "TASK"
    PRIORITY = "PRIORITY"
    ASSIGNEE = "ASSIGNEE"
    TAG = "TAG"


@dataclass(frozen=True)
class Suggestion:
    """One suggestion: its value, where it was read (``field`` with UTF-16 offsets; None for
    a tag suggested by similar notes), and how sure the rule is."""

    kind: SuggestionKind
    confidence: float
    field: str | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    due_date: datetime | None = None
    priority: NotePriority | None = None
    assignee_id: str | None = None
    tag: str | None = None
    task: str | None = None

    @property
    def id(self) -> str:
        """Stable for the same text: what the accept mutation names."""
        value = (self.due_date, self.priority, self.assignee_id, self.tag, self.task)
        key = f"{self.kind}|{self.field}|{self.start}|{self.end}|{value}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Member:
    """A workspace member, as @mentions name them."""

    id: str
    name: str
    email: str


@dataclass(frozen=True)
class NoteText:
    """What extraction reads: the note, its workspace's members and tags, and time."""

    title: str
    content: str
    written_at: datetime
    zone: ZoneInfo
    due_date: datetime | None = None
    priority: NotePriority | None = None
    tags: Sequence[str] = ()
    assignee_ids: Sequence[str] = ()
    members: Sequence[Member] = ()
    workspace_tags: Sequence[str] = ()
    # Tags of similar notes of the workspace, weighted by similarity (0..1).
    similar_tags: Mapping[str, float] = field(default_factory=dict)


# Dates

_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        ("monday mon", "tuesday tue tues", "wednesday wed", "thursday thu thur thurs",
         "friday fri", "saturday sat", "sunday sun")
    )
    for name in names.split()
}  # fmt: skip
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        ("january jan", "february feb", "march mar", "april apr", "may", "june jun",
         "july jul", "august aug", "september sep sept", "october oct", "november nov",
         "december dec")
    )
    for name in names.split()
}  # fmt: skip
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUM = r"\d{1,2}|" + "|".join(_NUMBERS)
_ORD = r"(?:st|nd|rd|th)?"
# A time of day: "noon", "5pm", "5:30 p.m.", "17:30" (a bare number is not a time).
_TIME = (
    r"(?:\s*,?\s*(?:at\s+)?(?P<time>noon|midday"
    r"|(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\b\.?)"
    r"|(?P<hour24>\d{1,2}):(?P<minute24>\d{2})\b))?"
)
_DATE = (
    r"(?P<expr>"
    r"(?P<today>today|tonight|eod|end\s+of\s+(?:the\s+)?day)"
    r"|(?P<dayafter>(?:the\s+)?day\s+after\s+tomorrow)"
    r"|(?P<tomorrow>tomorrow|tmrw)"
    rf"|(?:(?P<which>this|next|coming)\s+)?(?P<weekday>{_WD})\b(?!'s)\.?"
    r"|(?P<eow>end\s+of\s+(?:the\s+|this\s+)?week|eow)"
    r"|(?P<eom>end\s+of\s+(?:the\s+|this\s+)?month|eom)"
    rf"|(?:in|within)\s+(?P<count>{_NUM})\s+(?P<unit>days?|weeks?)"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    rf"|(?P<d1>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<m1>{_MON})\b\.?(?:,?\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{_MON})\b\.?\s+(?P<d2>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<y2>\d{{4}}))?"
    r")"
)
_TRIGGER = (
    r"(?P<trigger>\bdue(?:\s+date)?(?:\s+(?:on|by|before))?\s*:?"
    r"|\bdeadline(?:\s+is)?\s*:?"
    r"|\bno\s+later\s+than|\bby|\bbefore|\buntil|\btill)"
)
_DUE = re.compile(rf"{_TRIGGER}\s+(?:the\s+)?{_DATE}\b{_TIME}", re.IGNORECASE)
_NEGATED = re.compile(r"\b(?:was|were|not|no\s+longer|wasn't|isn't)\s*$", re.IGNORECASE)
# Code (fenced blocks, inline spans) and links are not prose.
_NOT_PROSE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|https?://\S+", re.DOTALL)
END_OF_DAY = time(23, 59, 59)


def _mask(text: str) -> str:
    """``text`` with code and links blanked out, offsets unchanged."""
    return _NOT_PROSE.sub(lambda m: " " * len(m[0]), text)


def _count(raw: str) -> int:
    return int(raw) if raw.isdigit() else _NUMBERS[raw.lower()]


def _day(match: re.Match[str], today: date) -> tuple[date, float] | None:
    """The date a matched expression names, and how sure that is."""
    g = match.groupdict()
    if g["today"]:
        return today, 0.95
    if g["dayafter"]:
        return today + timedelta(days=2), 0.95
    if g["tomorrow"]:
        return today + timedelta(days=1), 0.95
    if g["weekday"]:
        ahead = (_WEEKDAYS[g["weekday"].lower()] - today.weekday()) % 7
        if (g["which"] or "").lower() == "next":
            # The one in next week (Monday-based), a reading people disagree on.
            monday = today + timedelta(days=7 - today.weekday())
            return monday + timedelta(days=_WEEKDAYS[g["weekday"].lower()]), 0.6
        return today + timedelta(days=ahead), 0.9
    if g["eow"]:
        return today + timedelta(days=(4 - today.weekday()) % 7), 0.85
    if g["eom"]:
        following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return following - timedelta(days=1), 0.85
    if g["count"]:
        days = _count(g["count"]) * (7 if g["unit"].lower().startswith("week") else 1)
        return today + timedelta(days=days), 0.9
    try:
        if g["iso"]:
            return date.fromisoformat(g["iso"]), 0.95
        day, month, year = (g["d1"], g["m1"], g["y1"]) if g["d1"] else (g["d2"], g["m2"], g["y2"])
        found = date(int(year) if year else today.year, _MONTHS[month.lower()], int(day))
        if not year and found < today:
            found = found.replace(year=today.year + 1)
        return found, 0.9
    except ValueError:  # 31 June, 2025-13-45
        return None


def _clock(match: re.Match[str]) -> time | None:
    """The time of day after the date, if one was given (and is valid)."""
    g = match.groupdict()
    if not g["time"]:
        return None
    if g["time"].lower() in ("noon", "midday"):
        return time(12)
    if g["hour24"]:
        hour, minute = int(g["hour24"]), int(g["minute24"])
    else:
        hour, minute = int(g["hour"]) % 12, int(g["minute"] or 0)
        if g["ampm"].lower().startswith("p"):
            hour += 12
    return time(hour, minute) if hour < 24 and minute < 60 else None


def due_dates(
    text: str, written_at: datetime, zone: ZoneInfo
) -> Iterator[tuple[re.Match[str], datetime, float]]:
    """Every due date stated in ``text``: its match, the moment (UTC) and a confidence."""
    today = written_at.astimezone(zone).date()
    prose = _mask(text)
    for match in _DUE.finditer(prose):
        if _NEGATED.search(prose[: match.start()]):
            continue
        found = _day(match, today)
        if found is None:
            continue
        day, confidence = found
        if match["trigger"].lower() in ("by", "before", "until", "till"):
            confidence -= 0.05
        local = datetime.combine(day, _clock(match) or END_OF_DAY, zone)
        yield match, local.astimezone(ZoneInfo("UTC")), confidence


# Tasks, priorities, mentions

_TASK = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+\[[ \t]\][ \t]+(?P<box>\S.*)"
    r"|(?:[-*+][ \t]+)?(?:TODO|FIXME|Action item|AI)[ \t]*[:\-][ \t]*(?P<todo>\S.*))$",
    re.MULTILINE | re.IGNORECASE,
)
_PRIORITY = re.compile(
    r"(?P<negated>\bnot\s+|\bnon-)?\b(?:(?P<p>P[0-3])|(?P<urgent>urgent|asap|a\.s\.a\.p|critical"
    r"|blocker)|(?P<high>high[\s-]priority)|(?P<low>low[\s-]priority|no\s+rush))\b",
    re.IGNORECASE,
)
_P_LEVELS = [NotePriority.URGENT, NotePriority.HIGH, NotePriority.MEDIUM, NotePriority.LOW]
_MENTION = re.compile(r'(?<![\w.@])@(?:"(?P<quoted>[^"\n]{1,80})"|(?P<handle>[\w][\w.\-]{0,63}))')


def _handles(member: Member) -> set[str]:
    parts = member.name.lower().split()
    handles = {member.email.split("@")[0].lower(), "".join(parts), ".".join(parts), "_".join(parts)}
    if parts:
        handles.add(parts[0])
    return handles | {member.name.lower()}


class _Builder:
    """Suggestions of one note, with spans in UTF-16 offsets of the field's text."""

    def __init__(self, note: NoteText) -> None:
        self.note = note
        self.found: list[Suggestion] = []

    def add(
        self,
        kind: SuggestionKind,
        field: str,
        span: tuple[int, int],
        confidence: float,
        **value: object,
    ) -> None:
        text = self.note.title if field == "TITLE" else self.note.content
        ((start, end),) = utf16_offsets(text, [span])
        self.found.append(
            Suggestion(
                kind,
                round(confidence, 2),
                field,
                start,
                end,
                text[span[0] : span[1]],
                **value,  # type: ignore[arg-type]
            )
        )

    def fields(self) -> Iterable[tuple[str, str]]:
        return (("TITLE", self.note.title), ("CONTENT", self.note.content))

    def dates(self) -> None:
        for name, text in self.fields():
            for match, moment, confidence in due_dates(text, self.note.written_at, self.note.zone):
                if moment != self.note.due_date:
                    self.add(
                        SuggestionKind.DUE_DATE, name, match.span(), confidence, due_date=moment
                    )

    def tasks(self) -> None:
        for match in _TASK.finditer(_mask(self.note.content)):
            group = "box" if match["box"] else "todo"
            line = match[group].strip()
            due = next(due_dates(line, self.note.written_at, self.note.zone), None)
            self.add(
                SuggestionKind.TASK,
                "CONTENT",
                match.span(group),
                0.95 if group == "box" else 0.9,
                task=line,
                due_date=due[1] if due else None,
            )

    def priority(self) -> None:
        for name, text in self.fields():
            for match in _PRIORITY.finditer(_mask(text)):
                if match["p"]:
                    level, confidence = _P_LEVELS[int(match["p"][1])], 0.9
                elif match["low"] or (match["negated"] and match["urgent"]):
                    level, confidence = NotePriority.LOW, 0.75
                elif match["negated"]:
                    continue
                elif match["urgent"]:
                    level, confidence = NotePriority.URGENT, 0.85
                else:
                    level, confidence = NotePriority.HIGH, 0.8
                if level is not self.note.priority:
                    self.add(
                        SuggestionKind.PRIORITY, name, match.span(), confidence, priority=level
                    )
                return

    def assignees(self) -> None:
        by_handle: dict[str, set[str]] = {}
        for member in self.note.members:
            for handle in _handles(member):
                by_handle.setdefault(handle, set()).add(member.id)
        seen: set[str] = set()
        for match in _MENTION.finditer(_mask(self.note.content)):
            handle = (match["quoted"] or match["handle"]).lower().rstrip(".-")
            candidates = by_handle.get(handle, set())
            if len(candidates) != 1:
                continue  # nobody, or ambiguous
            (member_id,) = candidates
            if member_id in self.note.assignee_ids or member_id in seen:
                continue
            seen.add(member_id)
            self.add(SuggestionKind.ASSIGNEE, "CONTENT", match.span(), 0.9, assignee_id=member_id)

    def tags(self, limit: int = 3) -> None:
        current = set(self.note.tags)
        scored: dict[str, tuple[float, tuple[str, tuple[int, int]] | None]] = {}
        for name, text in self.fields():
            tokens = [(stem(w), w) for w in words(text)]
            stems = {s for s, _ in tokens}
            for tag in self.note.workspace_tags:
                if tag in current or tag in scored:
                    continue
                tag_stems = [stem(w) for w in words(tag)]
                if tag_stems and all(s in stems for s in tag_stems):
                    found = re.search(rf"\b{re.escape(tag_stems[0])}\w*", text, re.IGNORECASE)
                    span = (name, found.span()) if found else None
                    scored[tag] = (0.7 if name == "TITLE" else 0.6, span)
        for tag, weight in self.note.similar_tags.items():
            if tag not in current and tag in self.note.workspace_tags:
                keyword, span = scored.get(tag, (0.0, None))
                scored[tag] = (
                    min(0.95, max(keyword, 0.8 * weight) + 0.15 * weight * bool(keyword)),
                    span,
                )
        best = sorted(scored.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
        for tag, (confidence, span) in best:
            if confidence < 0.3:
                continue
            if span is None:
                self.found.append(Suggestion(SuggestionKind.TAG, round(confidence, 2), tag=tag))
            else:
                self.add(SuggestionKind.TAG, span[0], span[1], confidence, tag=tag)


def suggestions(note: NoteText) -> list[Suggestion]:
    """Every suggestion for ``note``, by kind, then in reading order."""
    builder = _Builder(note)
    builder.dates()
    builder.tasks()
    builder.priority()
    builder.assignees()
    builder.tags()
    return builder.found
