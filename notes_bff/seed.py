"""Realistic demo data: people, shared workspaces, Markdown notes with tags and due dates."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from beanie import Document
from faker import Faker

from notes_bff.auth.passwords import Passwords
from notes_bff.models import Member, Note, NotePriority, Role, User, Workspace
from notes_bff.models.clock import now, to_bson_precision

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a published demo login, printed by --demo
TAG_POOL = [
    "design", "backend", "frontend", "research", "meeting", "bug", "idea", "release",
    "ops", "docs", "hiring", "customer", "roadmap", "security", "perf", "q3", "q4",
]  # fmt: skip
WORKSPACE_NAMES = [
    "Product Roadmap", "Platform Team", "Design Studio", "Customer Research", "Ops Runbooks",
    "Marketing Launch", "Engineering Handbook", "Hiring Pipeline", "Security Reviews",
]  # fmt: skip


@dataclass(frozen=True)
class SeedReport:
    """What ``seed`` wrote."""

    users: int
    workspaces: int
    notes: int


# Documents per insert_many.
CHUNK = 500


async def _insert_all(docs: Sequence[Document]) -> None:
    """Insert in chunks, setting each document's new id."""
    for start in range(0, len(docs), CHUNK):
        chunk = docs[start : start + CHUNK]
        result = await type(chunk[0]).insert_many(list(chunk))
        for doc, new_id in zip(chunk, result.inserted_ids, strict=True):
            doc.id = new_id


def _markdown(fake: Faker, rng: random.Random) -> str:
    parts = [f"## {fake.catch_phrase()}", fake.paragraph(nb_sentences=rng.randint(2, 5))]
    if rng.random() < 0.6:
        parts.append("\n".join(f"- {fake.sentence(nb_words=rng.randint(3, 8))}" for _ in range(3)))
    if rng.random() < 0.4:
        parts.append(
            f"**Next step:** {fake.sentence()} See [the brief](https://example.com/{fake.slug()})."
        )
    if rng.random() < 0.3:
        parts.append(f"```\n{fake.word()} --check {fake.word()}\n```")
    parts.append(fake.paragraph(nb_sentences=rng.randint(1, 4)))
    return "\n\n".join(parts)


async def seed(
    passwords: Passwords,
    *,
    users: int = 8,
    workspaces: int = 4,
    notes: int = 200,
    seed_value: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Write demo data; the first user is the demo login (``DEMO_EMAIL`` / ``DEMO_PASSWORD``).

    Notes are written a chunk at a time; ``progress(written, notes)`` follows each chunk.
    """
    fake = Faker()
    Faker.seed(seed_value)
    rng = random.Random(seed_value)  # noqa: S311 - demo data, not security
    password_hash = await passwords.hash(DEMO_PASSWORD)
    existing = {u.email for u in await User.find({}).to_list()}
    people: list[User] = []
    demo = await User.find_one({"email": DEMO_EMAIL})
    people.append(demo or User(email=DEMO_EMAIL, name="Demo User", password_hash=password_hash))
    while len(people) < max(users, 1):
        email = fake.unique.email().lower()
        if email not in existing:
            people.append(User(email=email, name=fake.name(), password_hash=password_hash))
    new_people = [p for p in people if p.id is None]
    await _insert_all(new_people)
    spaces: list[Workspace] = []
    for i in range(workspaces):
        owner = people[i % len(people)] if i else people[0]
        others = rng.sample(
            [p for p in people if p.id != owner.id], k=min(len(people) - 1, rng.randint(2, 5))
        )
        members = [Member(user_id=owner.id, role=Role.OWNER)]
        if people[0].id != owner.id and people[0] not in others:
            others.append(people[0])
        members += [
            Member(user_id=p.id, role=rng.choice([Role.EDITOR, Role.EDITOR, Role.VIEWER]))
            for p in others
        ]
        spaces.append(
            Workspace(
                name=WORKSPACE_NAMES[i % len(WORKSPACE_NAMES)]
                + (f" {i // len(WORKSPACE_NAMES) + 1}" if i >= len(WORKSPACE_NAMES) else ""),
                description=fake.sentence(nb_words=10),
                owner_id=owner.id,
                members=members,
            )
        )
    await _insert_all(spaces)
    batch: list[Note] = []
    written = 0
    moment = now()
    for _ in range(notes if spaces else 0):
        space = rng.choice(spaces)
        writers = [m.user_id for m in space.members if m.role is not Role.VIEWER]
        member_ids = [m.user_id for m in space.members]
        created = moment - timedelta(minutes=rng.randint(10, 60 * 24 * 120))
        note = Note(
            workspace_id=space.id,
            author_id=rng.choice(writers),
            title=fake.sentence(nb_words=rng.randint(3, 8)).rstrip("."),
            content=_markdown(fake, rng),
            tags=rng.sample(TAG_POOL, k=rng.randint(0, 4)),
            is_pinned=rng.random() < 0.1,
            is_archived=rng.random() < 0.05,
            assignee_ids=rng.sample(member_ids, k=rng.randint(0, min(2, len(member_ids)))),
            mention_ids=rng.sample(member_ids, k=rng.randint(0, 1)),
            created_at=created,
            updated_at=created + timedelta(minutes=rng.randint(0, 60 * 24 * 10)),
        )
        note.set_priority(rng.choice(list(NotePriority)))
        if rng.random() < 0.5:
            note.set_due_date(
                to_bson_precision(moment + timedelta(hours=rng.randint(-24 * 14, 24 * 30)))
            )
        note.last_edited_by_id = note.author_id
        batch.append(note)
        if len(batch) == CHUNK or written + len(batch) == notes:
            await _insert_all(batch)
            written += len(batch)
            batch = []
            if progress is not None:
                progress(written, notes)
    return SeedReport(len(new_people), len(spaces), written)
