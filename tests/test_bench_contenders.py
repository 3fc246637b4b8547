"""The side-by-side benchmark's contenders (bench/contenders) answer as notes-bff does."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

from bench.compare import SERVERS, check, environment, seed, serving, start_all
from bench.workloads import WORKLOADS
from notes_bff.embedded import EmbeddedProcess

# Its own Redis database: no key of the in-process suite or of tests/serve.py is shared.
REDIS_DB = 2


async def test_every_contender_answers_the_workspace_page_as_notes_bff(
    servers: dict[str, EmbeddedProcess], tmp_path: Path
) -> None:
    redis_url = servers["redis"].url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    db_name = f"contenders_{uuid.uuid4().hex[:8]}"
    env = environment(servers["mongodb"].url, redis_url, tmp_path, db_name)
    env |= {"NOTES_BFF_ARGON2_TIME_COST": "1", "NOTES_BFF_ARGON2_MEMORY_KIB": "1024"}
    seed(env, "--users", "4", "--workspaces", "2", "--notes", "40")
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serving(name, 1, env))[1] for name in SERVERS}
        token, target = await start_all(urls)
        page = WORKLOADS["workspace page, 20 notes"]
        assert await check(urls, token, target, [page]) == []
