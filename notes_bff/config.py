"""Settings: the only module that reads the environment (prefix ``NOTES_BFF_``).

It imports nothing of the package, so the CLI can set up the process (Prometheus'
multiprocess mode, for one) before anything else is imported.
"""

from __future__ import annotations

import ipaddress
import secrets
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_JWT_SECRET_BYTES = 32
MIN_METRICS_TOKEN_CHARS = 32


class Environment(StrEnum):
    """Where the server runs; production tightens defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class PersistedQueriesMode(StrEnum):
    """``NOTES_BFF_PERSISTED_QUERIES``."""

    APQ = "apq"
    TRUSTED = "trusted"
    OFF = "off"


class RateLimitFallback(StrEnum):
    """``NOTES_BFF_RATE_LIMIT_FALLBACK``: what rate limiting does while Redis is down."""

    LOCAL = "local"
    OPEN = "open"
    CLOSED = "closed"


class ReadPreferenceMode(StrEnum):
    """``NOTES_BFF_MONGODB_LIST_READ_PREFERENCE``: MongoDB's read preference modes."""

    PRIMARY = "primary"
    PRIMARY_PREFERRED = "primaryPreferred"
    SECONDARY_PREFERRED = "secondaryPreferred"
    SECONDARY = "secondary"
    NEAREST = "nearest"


# MongoDB's smallest maxStalenessSeconds (the heartbeat frequency plus idle write period).
MIN_MAX_STALENESS_SECONDS = 90


class IndexHints(StrEnum):
    """``NOTES_BFF_MONGODB_INDEX_HINTS``: whether list queries name their index
    (docs/indexes.md); ``auto`` sends them to MongoDB and not to SecantusDB."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class SmtpSecurity(StrEnum):
    """``NOTES_BFF_SMTP_SECURITY``: how the SMTP connection is protected."""

    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Settings(BaseSettings):
    """Every knob of the server, read from ``NOTES_BFF_*`` variables and ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="NOTES_BFF_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.DEVELOPMENT
    mongodb_uri: str | None = None
    mongodb_db: str = "notes"
    redis_url: str | None = None
    # The alternatives to REDIS_URL (docs/operations.md, "Redis topologies"): seed nodes of a
    # Redis Cluster, or the Sentinels watching a primary and the primary's name there.
    redis_cluster_nodes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_master: str | None = None
    # The password of the Cluster's nodes or of the Sentinel-managed servers (a REDIS_URL
    # carries its own).
    redis_password: SecretStr | None = None
    data_dir: Path = Path(".notes-bff")
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "notes-bff"
    jwt_audience: str = "notes-dashboard"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=5)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    persisted_queries: PersistedQueriesMode = PersistedQueriesMode.APQ
    graphiql: bool | None = None
    # GraphiQL's npm files from this base URL (``<package>@<version>/<path>`` under it, as on
    # unpkg.com or cdn.jsdelivr.net/npm, or a mirror) instead of the server's own copies.
    graphiql_assets_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    introspection: bool | None = None
    apq_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Query answers kept in each worker and in Redis until a write changes what they read
    # (docs/response-cache.md); browsers may reuse a GET answer this long without asking.
    response_cache: bool = True
    response_cache_ttl_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    response_cache_entries: int = Field(default=10_000, ge=1)
    browser_cache_seconds: int = Field(default=0, ge=0, le=3600)
    max_document_bytes: int = Field(default=100_000, ge=1024)
    document_cache_size: int = Field(default=1000, ge=1)
    document_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    apq_register_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_max_bytes: int = Field(default=64 * 1024, ge=1024)
    idempotency_bytes_per_caller: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_subscriptions_per_connection: int = Field(default=50, ge=1)
    max_connections_per_user: int = Field(default=20, ge=1)
    due_soon_interval_seconds: float = Field(default=60.0, gt=0)
    subscriber_queue_size: int = Field(default=256, ge=1)
    ws_compression: bool = False
    gc_threshold: int = Field(default=50_000, ge=0)
    max_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=30, ge=0)
    max_tokens: int = Field(default=5000, ge=10)
    max_root_fields: int = Field(default=20, ge=1)
    max_directives_per_field: int = Field(default=4, ge=0)
    max_cost: int = Field(default=10_000, ge=1)
    max_validation_work: int = Field(default=50_000, ge=1000)
    operation_timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit_points: int = Field(default=200_000, ge=1)
    rate_limit_anonymous_points: int = Field(default=20_000, ge=1)
    rate_limit_period_seconds: float = Field(default=3600.0, gt=0)
    rate_limit_fallback: RateLimitFallback = RateLimitFallback.LOCAL
    auth_attempts: int = Field(default=10, ge=1)
    auth_attempts_per_ip: int = Field(default=30, ge=1)
    auth_period_seconds: float = Field(default=900.0, gt=0)
    auth_account_attempts: int = Field(default=100, ge=1)
    auth_account_period_seconds: float = Field(default=3600.0, gt=0)
    refresh_attempts_per_ip: int = Field(default=30, ge=1)
    known_address_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    revocation_cache_seconds: float = Field(default=1.0, ge=0)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    field_suggestions: bool | None = None
    # GET /metrics: with a token, only for `Authorization: Bearer <token>`; without one, open
    # in development and 404 in production.
    metrics_token: SecretStr | None = None
    # addMember looks accounts up by email: lookups of addresses without one, per user and
    # per client IP.
    member_lookup_misses: int = Field(default=20, ge=1)
    member_lookup_misses_per_ip: int = Field(default=100, ge=1)
    member_lookup_period_seconds: float = Field(default=3600.0, gt=0)
    compress_min_bytes: int = Field(default=1024, ge=0)
    # Markdown is rendered in worker processes (notes_bff/markdown.py): how many per server
    # process, how long an operation waits for a render (also the CPU-time bound of one
    # render), and the per-process cache of rendered notes, in bytes.
    markdown_processes: int = Field(default=1, ge=1)
    markdown_timeout_seconds: float = Field(default=2.0, gt=0)
    markdown_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    mongodb_timeout_ms: int = Field(default=5000, ge=100)
    # Read routing and write concern (docs/scaling.md). List reads (note pages, dashboard,
    # counts, notification lists) follow LIST_READ_PREFERENCE, at most MAX_STALENESS_SECONDS
    # behind and on members with one of READ_TAGS' tag sets (`dc:east,rack:1;dc:west`: sets
    # separated by `;`, tried in order); every other read is on the primary. LIST_READ_URI
    # sends list reads to another deployment (an analytics replica; the tests' stale copy).
    mongodb_list_read_preference: ReadPreferenceMode = ReadPreferenceMode.PRIMARY
    mongodb_max_staleness_seconds: int | None = Field(default=None, ge=MIN_MAX_STALENESS_SECONDS)
    mongodb_read_tags: Annotated[list[dict[str, str]], NoDecode] = Field(default_factory=list)
    mongodb_list_read_uri: str | None = None
    mongodb_write_concern: str = Field(default="majority", pattern=r"^(majority|[0-9]{1,2})$")
    mongodb_index_hints: IndexHints = IndexHints.AUTO
    # Argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    log_json: bool | None = None
    # Logs: the least severe level written; an operation slower than this logs a
    # `slow_operation` line (at warning) instead of its `operation` line.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    slow_operation_ms: float = Field(default=1000.0, gt=0)
    # Metrics: distinct operation names one process labels; later names are counted as
    # `other`, so clients cannot grow the series without bound.
    metrics_max_operations: int = Field(default=200, ge=1)
    # Traces (the `tracing` extra): exported by OTLP/HTTP to this base URL (or to the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT); off when neither is set.
    otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    # Shutdown: after SIGTERM, /readyz answers 503 for this long while the server still serves
    # (unset: 5 s in production, 0 in development); then requests get the graceful timeout to
    # finish. A gunicorn worker silent for worker_timeout_seconds is restarted; idle keep-alive
    # connections close after keepalive_seconds (keep it above the load balancer's).
    drain_seconds: int | None = Field(default=None, ge=0)
    graceful_timeout_seconds: int = Field(default=15, ge=1)
    worker_timeout_seconds: int = Field(default=60, ge=1)
    keepalive_seconds: int = Field(default=75, ge=1)
    # Full-text search (docs/search.md). The host's index lives in SEARCH_DIR (default
    # DATA_DIR/search); one worker per host writes it, all read it.
    search_enabled: bool = True
    search_dir: Path | None = None
    # How long a search waits for the index to apply the events already logged in the
    # viewer's workspaces (read your writes); 0 searches whatever the index holds.
    search_freshness_wait_seconds: float = Field(default=1.0, ge=0)
    # The indexer gathers the events of this long after a first one into one commit.
    search_batch_delay_seconds: float = Field(default=0.05, ge=0)
    search_reconcile_interval_seconds: float = Field(default=600.0, gt=0)
    # `filter.search` on note lists keeps the best this many matches.
    search_filter_limit: int = Field(default=2000, ge=1, le=10_000)
    search_writer_heap_mb: int = Field(default=64, ge=16)
    # Hybrid ranking with sentence embeddings (the `semantic` extra; docs/search.md).
    search_semantic: bool = False
    # Collaborative editing (notes_bff/collab, docs/collaboration.md): the largest websocket
    # message and document (encoded Yjs state, bytes), how long a ticket may wait to be used,
    # how often a live document is written back to the note, how often the compactor runs,
    # how long a merged update stays in the Redis log (a worker that fell further behind
    # reloads), and the automatic restore points (every so many seconds of editing; kept).
    collab_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    collab_max_document_bytes: int = Field(default=4 * 1024 * 1024, ge=4096)
    collab_ticket_ttl_seconds: int = Field(default=60, ge=5)
    collab_checkpoint_seconds: float = Field(default=2.0, gt=0)
    collab_compact_interval_seconds: float = Field(default=10.0, gt=0)
    collab_log_min_age_seconds: float = Field(default=60.0, ge=0)
    collab_snapshot_interval_seconds: float = Field(default=600.0, gt=0)
    collab_snapshots_kept: int = Field(default=50, ge=1)
    # Email (notes_bff/email, docs/operations.md#email). Without SMTP_HOST, `serve` starts an
    # embedded development SMTP server in development and nothing is sent in production
    # (messages wait in the outbox). Links in emails: the server's own (unsubscribe) start
    # with PUBLIC_BASE_URL, the Settings app's pages (reset password, confirm an email)
    # with APP_BASE_URL.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    email_from: str = "Notes <notes@localhost>"
    public_base_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^?#]+$")
    app_base_url: str = Field(default="http://127.0.0.1:3000", pattern=r"^https?://[^?#]+$")
    # At most one notification email per recipient and kind within this window (the ones
    # after the first are added to it while it waits).
    email_coalesce_seconds: int = Field(default=600, ge=1)
    # Sending: attempts before a message is dead-lettered, the first retry delay (doubling
    # each attempt, capped at an hour), and how often the outbox is polled.
    email_max_attempts: int = Field(default=8, ge=1)
    email_retry_base_seconds: float = Field(default=30.0, gt=0)
    email_poll_seconds: float = Field(default=2.0, gt=0)
    # Daily digests: the scheduler's round, and the hour of each user's day (in their time
    # zone, UTC when they set none) at which their digest goes.
    digest_interval_seconds: float = Field(default=300.0, gt=0)
    digest_hour: int = Field(default=8, ge=0, le=23)
    # Links in account emails: lifetime of a password-reset and an email-change link, and
    # password-reset requests per address and per client IP in a period.
    password_reset_ttl_seconds: int = Field(default=3600, ge=60)
    email_change_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    password_reset_requests: int = Field(default=3, ge=1)
    password_reset_requests_per_ip: int = Field(default=20, ge=1)
    password_reset_period_seconds: float = Field(default=3600.0, gt=0)
    # Privacy rights (docs/privacy.md): how long an exportMyData archive and its download
    # link live; how long deleteMyAccount waits before erasing (cancelAccountDeletion until
    # then); how often the erasure job looks for accounts whose wait is over.
    data_export_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    account_deletion_grace_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    account_erasure_interval_seconds: float = Field(default=300.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("redis_cluster_nodes", "redis_sentinels", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value

    @field_validator("redis_cluster_nodes", "redis_sentinels")
    @classmethod
    def _host_and_port(cls, value: list[str]) -> list[str]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port")
        return value

    @field_validator("mongodb_read_tags", mode="before")
    @classmethod
    def _tag_sets(cls, value: object) -> object:
        if isinstance(value, str):
            return [_tag_set(part) for part in value.split(";") if part.strip()]
        return value

    @field_validator("graphiql_assets_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @field_validator("email_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("NOTES_BFF_EMAIL_FROM must be an address, like Notes <n@example.com>")
        return value

    @field_validator("public_base_url", "app_base_url")
    @classmethod
    def _no_trailing_slash_base(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"NOTES_BFF_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _strong_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_METRICS_TOKEN_CHARS:
            raise ValueError(
                f"NOTES_BFF_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_CHARS} characters"
            )
        return value

    @model_validator(mode="after")
    def _one_redis_topology(self) -> Settings:
        chosen = [
            name
            for name, value in (
                ("NOTES_BFF_REDIS_URL", self.redis_url),
                ("NOTES_BFF_REDIS_CLUSTER_NODES", self.redis_cluster_nodes),
                ("NOTES_BFF_REDIS_SENTINELS", self.redis_sentinels),
            )
            if value
        ]
        if len(chosen) > 1:
            raise ValueError(f"set only one Redis topology, not {' and '.join(chosen)}")
        if bool(self.redis_sentinels) != bool(self.redis_sentinel_master):
            raise ValueError(
                "NOTES_BFF_REDIS_SENTINELS and NOTES_BFF_REDIS_SENTINEL_MASTER go together"
            )
        return self

    @model_validator(mode="after")
    def _secondaries_for_list_reads(self) -> Settings:
        routed = self.mongodb_max_staleness_seconds is not None or self.mongodb_read_tags
        if routed and self.mongodb_list_read_preference is ReadPreferenceMode.PRIMARY:
            raise ValueError(
                "NOTES_BFF_MONGODB_MAX_STALENESS_SECONDS and _READ_TAGS choose secondaries: "
                "set NOTES_BFF_MONGODB_LIST_READ_PREFERENCE to a mode other than primary"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_real_services(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            missing = [
                name
                for name, value in (
                    ("NOTES_BFF_MONGODB_URI", self.mongodb_uri),
                    (
                        "NOTES_BFF_REDIS_URL (or _REDIS_CLUSTER_NODES or _REDIS_SENTINELS)",
                        self.redis_configured,
                    ),
                    ("NOTES_BFF_JWT_SECRET", self.jwt_secret),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)}")
        return self

    @property
    def redis_configured(self) -> bool:
        """Whether a Redis topology is configured (else the CLI starts an embedded server)."""
        return bool(self.redis_url or self.redis_cluster_nodes or self.redis_sentinels)

    @property
    def list_reads_routed(self) -> bool:
        """Whether list reads may leave the primary (a secondary read preference, or a
        list-read deployment)."""
        return self.mongodb_list_read_uri is not None or (
            self.mongodb_list_read_preference is not ReadPreferenceMode.PRIMARY
        )

    @property
    def is_production(self) -> bool:
        """True when ``NOTES_BFF_ENV=production``."""
        return self.env is Environment.PRODUCTION

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL: on in development, off in production unless asked for."""
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def suggestions_enabled(self) -> bool:
        """ "Did you mean …?" in error messages: on in development, off in production."""
        if self.field_suggestions is not None:
            return self.field_suggestions
        return not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        """Introspection: on in development, off in production unless asked for."""
        return self.introspection if self.introspection is not None else not self.is_production

    def jwt_key(self) -> str:
        """The HS256 key: the configured one, or a development key kept in ``data_dir``."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()


def _tag_set(text: str) -> dict[str, str]:
    """``dc:east,rack:1`` as ``{"dc": "east", "rack": "1"}``."""
    tags: dict[str, str] = {}
    for pair in text.split(","):
        name, sep, value = pair.strip().partition(":")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{pair.strip()!r} is not name:value")
        tags[name.strip()] = value.strip()
    return tags
