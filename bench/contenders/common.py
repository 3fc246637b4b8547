"""What the contenders share with each other and with notes-bff: configuration (the same
``NOTES_BFF_*`` variables), the viewer from the same access token, the database, the answer
formats (``DateTime``, excerpts) and serving with 1 or N workers like ``notes-bff serve``."""

from __future__ import annotations

import argparse
import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from notes_bff.auth.tokens import TokenService
from notes_bff.config import Settings
from notes_bff.errors import Unauthenticated
from notes_bff.markdown import render

Doc = dict[str, Any]
DB = web.AppKey("db", AsyncDatabase[Doc])
SETTINGS = Settings()
TOKENS = TokenService.from_settings(SETTINGS)
# Sort orders of notes-bff's lists (ties broken by id) and the priority order of its stats.
CREATED_DESC = [("created_at", -1), ("_id", -1)]
UPDATED_DESC = [("updated_at", -1), ("_id", -1)]
DUE_ASC = [("due_sort", 1), ("_id", 1)]
PRIORITIES = ["URGENT", "HIGH", "MEDIUM", "LOW"]
WRITERS = ("OWNER", "EDITOR")


def viewer_of(request: web.Request) -> ObjectId | None:
    """The user of the request's valid bearer access token, else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return ObjectId(TOKENS.verify(token, "access").user_id)
    except Unauthenticated:
        return None


def iso(value: datetime) -> str:
    """notes-bff's ``DateTime`` output: UTC, milliseconds, ``Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_or_none(value: datetime | None) -> str | None:
    """``iso`` of a nullable date."""
    return None if value is None else iso(value)


@functools.lru_cache(maxsize=4096)
def excerpt(content: str, length: int) -> str:
    """notes-bff's ``Note.excerpt``: the same renderer, cached by content like its own."""
    return render(content).excerpt(length)


def live_notes(workspace_ids: list[ObjectId]) -> Doc:
    """The unarchived notes of some workspaces."""
    return {"workspace_id": {"$in": workspace_ids}, "is_archived": False}


def sections(moment: datetime, viewer: ObjectId) -> dict[str, tuple[Doc, list[tuple[str, int]]]]:
    """The dashboard's note sections: extra filter and order of each (``dueSoon``: 7 days)."""
    return {
        "pinned": ({"is_pinned": True}, UPDATED_DESC),
        "dueSoon": ({"due_sort": {"$gte": moment, "$lte": moment + timedelta(days=7)}}, DUE_ASC),
        "overdue": ({"due_sort": {"$lt": moment}}, DUE_ASC),
        "recent": ({}, UPDATED_DESC),
        "assignedToMe": ({"assignee_ids": viewer}, DUE_ASC),
    }


def now() -> datetime:
    """The current time as MongoDB stores it (milliseconds)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def ordered(docs: list[Doc], ids: list[ObjectId]) -> list[Doc]:
    """``docs`` in the order of ``ids`` (missing ones left out)."""
    by_id = {doc["_id"]: doc for doc in docs}
    return [by_id[i] for i in ids if i in by_id]


async def _database(app: web.Application) -> AsyncIterator[None]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(SETTINGS.mongodb_uri, tz_aware=True)
    app[DB] = client[SETTINGS.mongodb_db]
    yield
    await client.close()


async def _ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def application(graphql: Callable[[web.Request], Any]) -> web.Application:
    """An app with ``POST /graphql`` (``graphql``), ``GET /readyz`` and the database."""
    app = web.Application()
    app.cleanup_ctx.append(_database)
    app.router.add_post("/graphql", graphql)
    app.router.add_get("/readyz", _ready)
    return app


def serve(make_app: Callable[[], web.Application], description: str | None) -> None:
    """The command line of a contender: ``--workers N`` (N > 1 under gunicorn, as notes-bff)."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="aiohttp workers (1)")
    workers = parser.parse_args().workers
    host, port = "127.0.0.1", SETTINGS.port
    if workers == 1:
        import uvloop

        web.run_app(make_app(), host=host, port=port, print=None, loop=uvloop.new_event_loop())
        return
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {"bind": f"{host}:{port}", "workers": workers, "accesslog": None}
            for name, value in options.items():
                self.cfg.set(name, value)
            self.cfg.set("worker_class", "aiohttp.GunicornUVLoopWebWorker")

        def load(self) -> web.Application:
            return make_app()

    Gunicorn().run()
