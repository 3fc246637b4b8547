"""``notes-bff persisted-queries push|list|remove``: trusted documents in MongoDB and Redis."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from redis.asyncio import Redis

from notes_bff.models import PersistedDocument
from notes_bff.persisted.manifest import ManifestError, read_manifest
from notes_bff.persisted.store import TRUSTED_PREFIX
from notes_bff.schema import build_schema


async def push(redis: Redis, path: Path, content: bytes) -> int:
    """Register a manifest's operations (all or none); 0 on success, 1 when refused."""
    try:
        operations = read_manifest(orjson.loads(content), build_schema()._schema)
    except orjson.JSONDecodeError as exc:
        print(f"notes-bff: {path} is not JSON: {exc}", file=sys.stderr)
        return 1
    except ManifestError as exc:
        print(f"notes-bff: {path} refused, nothing registered:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    for op in operations:
        await PersistedDocument(
            id=op.digest, body=op.body, name=op.name, operation_type=op.operation_type
        ).save()
    async with redis.pipeline(transaction=False) as pipe:
        for op in operations:
            pipe.set(TRUSTED_PREFIX + op.digest, op.body)
        await pipe.execute()
    print(f"registered {len(operations)} operations from {path}", file=sys.stderr)
    return 0


async def list_documents(redis: Redis) -> int:
    """Print ``hash  type  name`` for every registered operation."""
    for doc in await PersistedDocument.find_all().sort("+name").to_list():
        print(f"{doc.id}  {doc.operation_type or '-'}  {doc.name or '-'}")
    return 0


async def remove(redis: Redis, hashes: list[str]) -> int:
    """Unregister operations; 1 when one of the hashes was not registered."""
    missing = 0
    for digest in hashes:
        result = await PersistedDocument.get_pymongo_collection().delete_one({"_id": digest})
        await redis.delete(TRUSTED_PREFIX + digest)
        if result.deleted_count == 0:
            print(f"notes-bff: {digest} was not registered", file=sys.stderr)
            missing += 1
    print(f"removed {len(hashes) - missing} operations", file=sys.stderr)
    return 1 if missing else 0
