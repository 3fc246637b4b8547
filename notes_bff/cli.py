"""``notes-bff serve|seed|schema``: the command line of CONTRACT.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from notes_bff.config import Settings, SmtpSecurity
from notes_bff.embedded import EmbeddedServerError, embedded_servers
from notes_bff.logs import configure_logging

if TYPE_CHECKING:
    from redis.asyncio import Redis

T = TypeVar("T")


def _settings(**overrides: object) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SystemExit(f"notes-bff: configuration error: {reasons}") from None
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


@contextlib.contextmanager
def _services(settings: Settings, *, mail: bool = False) -> Iterator[Settings]:
    """Settings with real service URLs: the configured ones, else embedded servers' (with
    ``mail``, an SMTP server too, in development)."""
    try:
        with embedded_servers(
            settings.data_dir,
            mongodb=settings.mongodb_uri is None,
            redis=not settings.redis_configured,
            mail=mail and settings.smtp_host is None and not settings.is_production,
            avoid_ports={settings.port},
        ) as started:
            urls: dict[str, object] = {}
            if "mongodb" in started:
                urls["mongodb_uri"] = started["mongodb"].url
                print(f"embedded SecantusDB: {started['mongodb'].url}", file=sys.stderr)
            if "redis" in started:
                urls["redis_url"] = started["redis"].url
                print(f"embedded valkey: {started['redis'].url}", file=sys.stderr)
            if "smtp" in started:
                smtp = started["smtp"]
                urls.update(
                    smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security=SmtpSecurity.NONE
                )
                print(f"embedded SMTP: {smtp.url}, emails in {smtp.data_dir}", file=sys.stderr)
            yield settings.model_copy(update=urls)
    except EmbeddedServerError as exc:
        raise SystemExit(f"notes-bff: {exc}") from None


def _run(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``; a database that does not answer is a one-line error, no traceback."""
    from notes_bff.errors import MONGO_OUTAGES
    from notes_bff.redis_guard import REDIS_OUTAGES

    try:
        return asyncio.run(work)
    except MONGO_OUTAGES as exc:
        reason = str(exc).split(", Timeout:")[0][:300]
        raise SystemExit(f"notes-bff: MongoDB did not answer: {reason}") from None
    except REDIS_OUTAGES as exc:
        raise SystemExit(f"notes-bff: Redis did not answer: {str(exc)[:300]}") from None


def _refuse_in_production(settings: Settings, what: str, why: str) -> None:
    if settings.is_production:
        raise SystemExit(f"notes-bff: {what} is refused in production: {why}")


@contextlib.contextmanager
def _worker_metrics(workers: int) -> Iterator[None]:
    """A temporary ``PROMETHEUS_MULTIPROC_DIR`` for gunicorn's workers, unless one is set.

    Set before anything imports prometheus-client (the demo seeding does): otherwise every
    worker keeps its own samples and ``/metrics`` answers none of them.
    """
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    path, creator = tempfile.mkdtemp(prefix="notes-bff-metrics-"), os.getpid()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        # gunicorn forks its workers inside this block: a worker that leaves (stopped,
        # recycled, or timed out) unwinds it too, and must not take the directory with it
        # while the master and the other workers still use it.
        if os.getpid() == creator:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            shutil.rmtree(path, ignore_errors=True)


def _progress(written: int, total: int) -> None:
    print(f"seeding notes: {written}/{total}", file=sys.stderr)


async def _seed(
    settings: Settings, users: int, workspaces: int, notes: int, *, only_if_empty: bool
) -> None:
    from beanie import init_beanie

    from notes_bff.auth.passwords import Passwords
    from notes_bff.db import mongo_client
    from notes_bff.models import DOCUMENT_MODELS, Note
    from notes_bff.seed import CHUNK, DEMO_EMAIL, DEMO_PASSWORD, seed

    client = mongo_client(settings)
    try:
        await init_beanie(database=client[settings.mongodb_db], document_models=DOCUMENT_MODELS)
        if not only_if_empty or await Note.find({}).count() == 0:
            report = await seed(
                Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
                users=users,
                workspaces=workspaces,
                notes=notes,
                progress=_progress if notes > CHUNK else None,
            )
            print(
                f"seeded {report.users} users, {report.workspaces} workspaces, "
                f"{report.notes} notes",
                file=sys.stderr,
            )
        print(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}", file=sys.stderr)
    finally:
        await client.close()


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(host=args.host, port=args.port)
    if args.demo:
        _refuse_in_production(settings, "--demo", "its login (demo@example.com) is public")
    configure_logging(settings)
    settings.jwt_key()  # create the development key once, before any worker forks
    with _worker_metrics(args.workers), _services(settings, mail=True) as live:
        if args.demo:
            _run(_seed(live, 8, 4, 200, only_if_empty=True))
        print(f"GraphQL on http://{live.host}:{live.port}/graphql", file=sys.stderr)
        if args.workers > 1:
            _run_gunicorn(live, args.workers)
        else:
            import uvloop
            from aiohttp import web

            from notes_bff.observability.drain import drain_on_sigterm
            from notes_bff.server import create_app

            app = create_app(live)
            app.on_startup.append(drain_on_sigterm(live))
            web.run_app(
                app,
                host=live.host,
                port=live.port,
                print=None,
                shutdown_timeout=live.graceful_timeout_seconds,
                keepalive_timeout=live.keepalive_seconds,
                loop=uvloop.new_event_loop(),
            )
    return 0


def _run_gunicorn(settings: Settings, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from notes_bff.observability.gunicorn import options

    os.environ["NOTES_BFF_MONGODB_URI"] = settings.mongodb_uri or ""
    if settings.redis_url:  # else the Cluster's or Sentinels' addresses are in the environment
        os.environ["NOTES_BFF_REDIS_URL"] = settings.redis_url
    if settings.smtp_host is not None:
        os.environ["NOTES_BFF_SMTP_HOST"] = settings.smtp_host
        os.environ["NOTES_BFF_SMTP_PORT"] = str(settings.smtp_port)
        os.environ["NOTES_BFF_SMTP_SECURITY"] = settings.smtp_security.value

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in options(settings, workers).items():
                self.cfg.set(name, value)

        def load(self) -> object:
            from notes_bff.server import gunicorn_app

            return gunicorn_app

    Gunicorn().run()


def _seed_command(args: argparse.Namespace) -> int:
    settings = _settings()
    if not args.force:
        _refuse_in_production(settings, "seed", "it adds demo accounts (use --force to seed)")
    with _services(settings) as live:
        _run(_seed(live, args.users, args.workspaces, args.notes, only_if_empty=False))
    return 0


async def _with_database(settings: Settings, work: Callable[[Redis], Awaitable[int]]) -> int:
    """Run ``work`` with Beanie initialized and a Redis client, then close both."""
    from beanie import init_beanie

    from notes_bff import redis_client
    from notes_bff.db import mongo_client
    from notes_bff.models import DOCUMENT_MODELS

    client = mongo_client(settings)
    redis = redis_client.connect(settings, name=f"notes-bff-cli:{os.getpid()}")
    try:
        await init_beanie(database=client[settings.mongodb_db], document_models=DOCUMENT_MODELS)
        return await work(redis)
    finally:
        await redis.aclose()
        await client.close()


def _persisted_command(args: argparse.Namespace) -> int:
    from notes_bff import cli_persisted as admin

    settings = _settings()
    content = b""
    if args.action == "push":
        try:
            content = args.file.read_bytes()
        except OSError as exc:
            raise SystemExit(f"notes-bff: cannot read {args.file}: {exc.strerror}") from None
    with _services(settings) as live:
        if args.action == "push":
            return _run(_with_database(live, lambda r: admin.push(r, args.file, content)))
        if args.action == "list":
            return _run(_with_database(live, admin.list_documents))
        return _run(_with_database(live, lambda r: admin.remove(r, args.hashes)))


async def _disable_user(settings: Settings, raw_email: str, redis: Redis) -> int:
    from datetime import timedelta

    from notes_bff.auth.revocation import Revocations
    from notes_bff.errors import BadInput
    from notes_bff.metrics import Metrics
    from notes_bff.models import User
    from notes_bff.redis_guard import RedisGuard
    from notes_bff.validation import email

    try:
        user = await User.find_one({"email": email("EMAIL", raw_email)})
    except BadInput as exc:
        raise SystemExit(f"notes-bff: {exc.message}") from None
    if user is None or user.id is None:
        raise SystemExit(f"notes-bff: no user has the email {raw_email}")
    revocations = Revocations(
        redis,
        RedisGuard("revocations", Metrics()),
        timedelta(seconds=settings.access_token_ttl_seconds),
        settings.revocation_cache_seconds,
    )
    if not await revocations.disable_user(user.id):
        print(
            f"notes-bff: disabled {user.email}, but Redis did not answer: their access tokens "
            f"work until they expire (at most {settings.access_token_ttl_seconds} s); "
            "run the command again once Redis is back",
            file=sys.stderr,
        )
        return 1
    print(f"disabled {user.email}: signed out everywhere, sign-in refused", file=sys.stderr)
    return 0


def _users_command(args: argparse.Namespace) -> int:
    settings = _settings()
    with _services(settings) as live:
        return _run(_with_database(live, partial(_disable_user, live, args.email)))


async def _reindex(settings: Settings, redis: Redis) -> int:
    from notes_bff.search.service import reindex

    count = await reindex(settings, redis)
    if count is None:
        print("the running server rebuilt this host's search index", file=sys.stderr)
    else:
        print(f"rebuilt this host's search index: {count} notes", file=sys.stderr)
    return 0


def _search_command(args: argparse.Namespace) -> int:
    settings = _settings()
    with _services(settings) as live:
        return _run(_with_database(live, partial(_reindex, live)))


async def _list_dead_emails(limit: int, redis: Redis) -> int:
    from notes_bff.models import EmailStatus, OutboxEmail

    dead = (
        await OutboxEmail.find({"status": EmailStatus.DEAD})
        .sort("-created_at")
        .limit(limit)
        .to_list()
    )
    for message in dead:
        print(
            f"{message.id}  {message.created_at:%Y-%m-%d %H:%M:%S}  {message.template.value}  "
            f"{message.to}  attempts={message.attempts}  {message.last_error or ''}"
        )
    print(f"{len(dead)} dead emails", file=sys.stderr)
    return 0


def _email_command(args: argparse.Namespace) -> int:
    settings = _settings()
    with _services(settings) as live:
        return _run(_with_database(live, partial(_list_dead_emails, args.limit)))


def _schema_command(args: argparse.Namespace) -> int:
    from notes_bff.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser, with help on every command."""
    root = argparse.ArgumentParser(
        prog="notes-bff",
        description="GraphQL backend-for-frontend of the notes dashboard. "
        "Configuration comes from NOTES_BFF_* variables (see README).",
    )
    version = importlib.metadata.version("notes-bff")
    root.add_argument("--version", action="version", version=f"notes-bff {version}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the server. Without NOTES_BFF_MONGODB_URI / NOTES_BFF_REDIS_URL it "
        "starts embedded SecantusDB and valkey servers that keep their data in NOTES_BFF_DATA_DIR.",
    )
    serve.add_argument("--host", help="bind address (default: NOTES_BFF_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: NOTES_BFF_PORT or 8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="N>1 runs N aiohttp workers under gunicorn"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load demo data when the database is empty and print a demo login",
    )
    serve.set_defaults(run=_serve)
    seed = commands.add_parser("seed", help="fill the database with realistic demo data")
    seed.add_argument("--users", type=int, default=8, help="how many users (default 8)")
    seed.add_argument("--workspaces", type=int, default=4, help="how many workspaces (default 4)")
    seed.add_argument("--notes", type=int, default=200, help="how many notes (default 200)")
    seed.add_argument(
        "--force", action="store_true", help="seed even with NOTES_BFF_ENV=production"
    )
    seed.set_defaults(run=_seed_command)
    schema = commands.add_parser("schema", help="print the schema as SDL")
    schema.set_defaults(run=_schema_command)
    persisted = commands.add_parser(
        "persisted-queries",
        help="manage trusted documents (registered operations)",
        description="Trusted documents are stored in MongoDB and cached in Redis. With "
        "NOTES_BFF_PERSISTED_QUERIES=trusted only registered operations run.",
    )
    actions = persisted.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = actions.add_parser(
        "push",
        help="register the operations of a manifest",
        description="Register every operation of FILE: Apollo's persisted-query manifest "
        '({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [...]}) '
        'or a {"<sha256>": "<document>"} map (graphql-codegen). Every hash is verified and '
        "every document validated against the schema; any problem refuses the whole file.",
    )
    push.add_argument("file", type=Path, help="the manifest (JSON)")
    actions.add_parser("list", help="list the registered operations")
    remove = actions.add_parser("remove", help="unregister operations by hash")
    remove.add_argument("hashes", nargs="+", metavar="HASH", help="SHA-256 of a document")
    persisted.set_defaults(run=_persisted_command)
    users = commands.add_parser("users", help="manage user accounts")
    user_actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    disable = user_actions.add_parser(
        "disable",
        help="disable an account and end all its sessions",
        description="Disable the account with EMAIL: it can no longer sign in or refresh, and "
        "every token it holds stops working at once on every server (its websockets close "
        "with 4403).",
    )
    disable.add_argument("email", metavar="EMAIL", help="the account's email")
    users.set_defaults(run=_users_command)
    search = commands.add_parser("search", help="manage this host's search index")
    search_actions = search.add_subparsers(dest="action", required=True, metavar="ACTION")
    search_actions.add_parser(
        "reindex",
        help="rebuild the search index from MongoDB",
        description="Rebuild this host's search index (NOTES_BFF_SEARCH_DIR) from MongoDB. "
        "When a server on this host is writing the index, it is asked to rebuild and the "
        "command waits until it has; searches keep answering from the old index meanwhile.",
    )
    search.set_defaults(run=_search_command)
    mail = commands.add_parser("email", help="inspect the email outbox")
    mail_actions = mail.add_subparsers(dest="action", required=True, metavar="ACTION")
    list_dead = mail_actions.add_parser(
        "list-dead",
        help="list the emails that were given up on",
        description="List the newest dead emails of the outbox: those SMTP refused or did not "
        "answer NOTES_BFF_EMAIL_MAX_ATTEMPTS times (id, creation time, template, recipient, "
        'attempts, last error). The metric notes_bff_emails_total{outcome="dead"} counts them.',
    )
    list_dead.add_argument(
        "--limit", type=int, default=100, help="list at most this many (default 100)"
    )
    mail.set_defaults(run=_email_command)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``notes-bff`` and ``python -m notes_bff``."""
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code
