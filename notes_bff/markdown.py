"""Markdown to sanitized HTML and plain text, rendered off the event loop.

markdown-it-py is pure Python and holds the GIL: 100,000 characters of ``![`` take over a
second to render, so rendering on the loop stalls every request of the worker (in a thread,
it still takes the GIL from the loop, and cannot be stopped). :class:`Renderer` renders in a
small pool of worker processes instead, shortest content first, each render stopped after
``NOTES_BFF_MARKDOWN_TIMEOUT_SECONDS`` of CPU time, and an operation waits at most that long
for it; a note not rendered in time is answered as its escaped source in ``<pre>``
(:func:`unrendered`). Results are cached by content hash in an LRU bounded in bytes, and
concurrent requests for one content share one render.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import html
import itertools
import multiprocessing
import os
import re
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import wait
from types import FrameType

import nh3
import structlog
from cachetools import LRUCache
from markdown_it import MarkdownIt

from notes_bff.config import Settings
from notes_bff.observability.scope import count_cache

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
_SPACES = re.compile(r"\s+")
log = structlog.get_logger("notes_bff.markdown")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A note's content as sanitized HTML, and as plain text with whitespace collapsed."""

    html: str
    text: str

    def excerpt(self, length: int) -> str:
        """The text, at most ``length`` characters (cut at a word when it can, ends with …)."""
        if len(self.text) <= length:
            return self.text
        cut = self.text[: length - 1]
        if " " in cut[length // 2 :]:
            cut = cut[: cut.rindex(" ")]
        return cut.rstrip() + "…"


def render_markdown(markdown: str) -> str:
    """Markdown rendered to HTML with only allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        _MD.render(markdown),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def render(markdown: str) -> Rendered:
    """The sanitized HTML of ``markdown`` and its plain text."""
    rendered = render_markdown(markdown)
    text = html.unescape(nh3.clean(rendered, tags=set()))
    return Rendered(rendered, _SPACES.sub(" ", text).strip())


def unrendered(markdown: str) -> Rendered:
    """The answer for content not rendered in time: its source, escaped, in ``<pre>``."""
    return Rendered(
        "<pre>" + html.escape(markdown, quote=False) + "</pre>",
        _SPACES.sub(" ", markdown).strip(),
    )


class _CpuTimeExceeded(BaseException):
    """Raised in a render process when a render has used up its CPU time (a BaseException,
    so no ``except Exception`` in a renderer can swallow it)."""


def _on_cpu_timer(signum: int, frame: FrameType | None) -> None:
    raise _CpuTimeExceeded


def _exit_with_parent(sentinel: int) -> None:
    wait([sentinel])
    os._exit(0)


def _start_render_process() -> None:
    """Initializer of a render process: a CPU-time alarm, Ctrl-C left to the server, and exit
    when the server exits, even by ``kill -9`` (it would otherwise wait for work forever)."""
    signal.signal(signal.SIGPROF, _on_cpu_timer)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()


def _render_bounded(markdown: str, cpu_seconds: float) -> Rendered | None:
    """In a render process: ``render(markdown)``, or None once it used ``cpu_seconds``."""
    try:
        signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
        rendered = render(markdown)
        signal.setitimer(signal.ITIMER_PROF, 0)
    except _CpuTimeExceeded:
        return None
    return rendered


def _size(rendered: Rendered) -> int:
    return sys.getsizeof(rendered.html) + sys.getsizeof(rendered.text)


@dataclass(eq=False)
class _Job:
    key: bytes
    markdown: str
    done: asyncio.Future[Rendered]
    waiters: int = 0
    started: bool = False


class Renderer:
    """Renders Markdown in worker processes, shortest first, cached by content hash.

    ``renders`` counts renders started and ``hits`` answers from the cache.
    """

    def __init__(self, processes: int, timeout: float, cache_bytes: int) -> None:
        self.processes = processes
        self.timeout = timeout
        self.renders = 0
        self.hits = 0
        self._cache: LRUCache[bytes, Rendered] = LRUCache(cache_bytes, getsizeof=_size)
        self._jobs: dict[bytes, _Job] = {}
        self._queue: list[tuple[int, int, _Job]] = []
        self._order = itertools.count()
        self._running = 0
        self._pool: ProcessPoolExecutor | None = None

    async def render(self, markdown: str) -> Rendered:
        """``markdown`` rendered, or :func:`unrendered` after ``timeout`` seconds."""
        key = hashlib.blake2b(markdown.encode(errors="surrogatepass"), digest_size=16).digest()
        cached = self._cache.get(key)
        count_cache("markdown", cached is not None)
        if cached is not None:
            self.hits += 1
            return cached
        job = self._jobs.get(key)
        if job is None:
            job = _Job(key, markdown, asyncio.get_running_loop().create_future())
            self._jobs[key] = job
            heapq.heappush(self._queue, (len(markdown), next(self._order), job))
        job.waiters += 1
        self._dispatch()
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(job.done)
        except TimeoutError:
            return unrendered(markdown)
        finally:
            job.waiters -= 1
            if not job.waiters and not job.started and self._jobs.get(key) is job:
                del self._jobs[key]  # nobody waits any more: its queue entry is skipped

    def _dispatch(self) -> None:
        while self._queue and self._running < self.processes:
            job = heapq.heappop(self._queue)[2]
            if self._jobs.get(job.key) is not job:
                continue
            job.started = True
            self._running += 1
            self.renders += 1
            pool = self._executor()
            try:
                submitted = pool.submit(_render_bounded, job.markdown, self.timeout)
            except Exception as exc:  # a broken pool, or no process could be started
                self._pool = None
                submitted = Future()
                submitted.set_exception(exc)
            asyncio.wrap_future(submitted).add_done_callback(partial(self._finished, job, pool))

    def _finished(
        self, job: _Job, pool: ProcessPoolExecutor, future: asyncio.Future[Rendered | None]
    ) -> None:
        self._running -= 1
        del self._jobs[job.key]
        error = future.exception()
        result = None if error else future.result()
        rendered = result or unrendered(job.markdown)
        if error is not None:
            log.warning("markdown render failed", chars=len(job.markdown), error=repr(error))
            if isinstance(error, BrokenProcessPool) and self._pool is pool:
                self._pool = None  # the next render starts new processes
        else:
            if result is None:
                # Cached as such, so such content costs that CPU time only once.
                log.warning("markdown render over its CPU time", chars=len(job.markdown))
            if _size(rendered) <= self._cache.maxsize:
                self._cache[job.key] = rendered
        job.done.set_result(rendered)
        self._dispatch()

    def _executor(self) -> ProcessPoolExecutor:
        # Spawned, not forked: the server has threads (pymongo's, the default executor's),
        # and a fork copies whatever locks they hold.
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_render_process,
            )
        return self._pool


_renderers: dict[tuple[int, float, int], Renderer] = {}


def renderer_for(settings: Settings) -> Renderer:
    """This process's renderer for ``settings``, created at first use.

    Its processes start with the first render and stop when this process exits.
    """
    config = (
        settings.markdown_processes,
        settings.markdown_timeout_seconds,
        settings.markdown_cache_bytes,
    )
    if config not in _renderers:
        _renderers[config] = Renderer(*config)
    return _renderers[config]
