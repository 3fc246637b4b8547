"""Every ``web.AppKey`` used on the application: typed app state."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from notes_bff.auth.consistency import ConsistencyTokens
from notes_bff.auth.passwords import Passwords
from notes_bff.auth.sessions import SessionService
from notes_bff.collab.service import Collaboration
from notes_bff.config import Settings
from notes_bff.metrics import Metrics
from notes_bff.persisted.store import DocumentStore
from notes_bff.ratelimit import RateLimiter, RateLimits
from notes_bff.realtime.hub import Realtime
from notes_bff.response_cache.store import ResponseCache

SETTINGS = web.AppKey("settings", Settings)
MONGO = web.AppKey("mongo", AsyncMongoClient)
MONGO_READY = web.AppKey("mongo_ready", asyncio.Event)
# Consistency tokens (set only while list reads may leave the primary).
CONSISTENCY = web.AppKey("consistency", ConsistencyTokens)
REDIS = web.AppKey("redis", Redis)
SESSIONS = web.AppKey("sessions", SessionService)
PASSWORDS = web.AppKey("passwords", Passwords)
METRICS = web.AppKey("metrics", Metrics)
DOCUMENTS = web.AppKey("documents", DocumentStore)
REALTIME = web.AppKey("realtime", Realtime)
COLLAB = web.AppKey("collab", Collaboration)
RESPONSE_CACHE = web.AppKey("response_cache", ResponseCache)
RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
# Bytes of Idempotency-Key records each caller may have the server keep.
IDEMPOTENCY_BUDGET = web.AppKey("idempotency_budget", RateLimiter)
REQUEST_ID = web.RequestKey("request_id", str)
# The type of the operation a GraphQL request ran (``query``, ``mutation``…), once known.
OPERATION_TYPE = web.RequestKey("operation_type", str)
