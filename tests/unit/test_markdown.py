"""Markdown rendering: the output, and the renderer's processes, time bound and cache."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notes_bff.markdown import Rendered, Renderer, render, unrendered
from tests.loop_lag import LoopLag

# (Markdown, HTML, excerpt(30)) as the renderer answered before it moved to worker processes.
SAMPLES = [
    (
        "# Plan\n\n## Goals\n\n> quoted *text*\n\n1. one\n2. **two**\n\n- a\n- b\n\n---\n\n"
        "    code\n\n```python\nprint('x')\n```",
        "<h1>Plan</h1>\n<h2>Goals</h2>\n<blockquote>\n<p>quoted <em>text</em></p>\n</blockquote>\n"
        "<ol>\n<li>one</li>\n<li><strong>two</strong></li>\n</ol>\n<ul>\n<li>a</li>\n<li>b</li>\n"
        '</ul>\n<hr>\n<pre><code>code\n</code></pre>\n<pre><code class="language-python">'
        "print('x')\n</code></pre>\n",
        "Plan Goals quoted text one…",
    ),
    (
        'Some *em*, **strong**, ~~gone~~, `code`, a [link](https://example.com "t") and '
        "![img](https://example.com/i.png).\nline two",
        "<p>Some <em>em</em>, <strong>strong</strong>, <s>gone</s>, <code>code</code>, a "
        '<a href="https://example.com" title="t" rel="noopener noreferrer nofollow">link</a> '
        'and <img src="https://example.com/i.png" alt="img">.\nline two</p>\n',
        "Some em, strong, gone, code,…",
    ),
    (
        "| a | b |\n|---|:-:|\n| 1 | 2 |",
        '<table>\n<thead>\n<tr>\n<th>a</th>\n<th style="text-align:center">b</th>\n</tr>\n'
        '</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td style="text-align:center">2</td>\n</tr>\n'
        "</tbody>\n</table>\n",
        "a b 1 2",
    ),
    (
        "<script>alert(1)</script> [x](javascript:alert(1)) ![y](data:image/png;base64,AA) "
        "<img src=x onerror=alert(1)> [m](mailto:a@b.c)",
        '<p>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1)) <img alt="y"> '
        "&lt;img src=x onerror=alert(1)&gt; "
        '<a href="mailto:a@b.c" rel="noopener noreferrer nofollow">m</a></p>\n',
        "<script>alert(1)</script>…",
    ),
    ("&amp; &lt;b&gt; &copy; été", "<p>&amp; &lt;b&gt; © été</p>\n", "& <b> © été"),
]
# About a second of CPU per 100,000 characters, linear in the length (bench/cpu_bound.py).
PATHOLOGICAL = "![" * 50_000


@pytest.fixture(scope="module")
async def renderer() -> Renderer:
    renderer = Renderer(processes=1, timeout=10.0, cache_bytes=32 * 1024 * 1024)
    await renderer.render("warm up: the first render starts the process")
    return renderer


@pytest.mark.parametrize(("markdown", "html", "excerpt"), SAMPLES)
async def test_renders_and_sanitizes_as_before(
    renderer: Renderer, markdown: str, html: str, excerpt: str
) -> None:
    rendered = await renderer.render(markdown)
    assert rendered == render(markdown)
    assert rendered.html == html
    assert rendered.excerpt(30) == excerpt


def test_excerpt_cuts_at_a_word_and_keeps_short_text() -> None:
    rendered = Rendered("", "one two three four five")
    assert rendered.excerpt(12) == "one two…"
    assert rendered.excerpt(5) == "one…"
    assert rendered.excerpt(2) == "o…"
    assert rendered.excerpt(23) == "one two three four five"


def test_unrendered_is_the_escaped_source() -> None:
    fallback = unrendered("<img src=x onerror=alert(1)> & *a*\n\n  b")
    assert fallback.html == "<pre>&lt;img src=x onerror=alert(1)&gt; &amp; *a*\n\n  b</pre>"
    assert fallback.text == "<img src=x onerror=alert(1)> & *a* b"


async def test_pathological_markdown_renders_off_the_loop(renderer: Renderer) -> None:
    content = PATHOLOGICAL[:50_000] + " off the loop"
    async with LoopLag() as lag:
        rendered = await renderer.render(content)
    assert rendered == Rendered(f"<p>{content}</p>\n", content)
    # Half a second of rendering; the loop went on ticking every few milliseconds.
    assert lag.ticks >= 20, lag.ticks


async def test_same_content_renders_once(renderer: Renderer) -> None:
    first, second = "**one** of a list", "*another* of a list"
    renders, hits = renderer.renders, renderer.hits
    answers = await asyncio.gather(*(renderer.render(c) for c in [first] * 10 + [second] * 3))
    assert renderer.renders == renders + 2
    assert answers == [render(first)] * 10 + [render(second)] * 3
    await asyncio.gather(*(renderer.render(c) for c in [first] * 10 + [second] * 3))
    assert renderer.renders == renders + 2
    assert renderer.hits == hits + 13


async def test_short_content_goes_before_long_content(renderer: Renderer) -> None:
    finished: list[str] = []

    async def render_named(name: str, content: str) -> None:
        await renderer.render(content)
        finished.append(name)

    await asyncio.gather(
        render_named("long 1", PATHOLOGICAL[:5_000] + " 1"),
        render_named("long 2", PATHOLOGICAL[:5_000] + " 2"),
        render_named("long 3", PATHOLOGICAL[:5_000] + " 3"),
        render_named("short", "a *short* note"),
    )
    # "long 1" was already rendering when the others came; "short" went next.
    assert finished == ["long 1", "short", "long 2", "long 3"]


async def test_over_time_answers_the_source_and_drops_queued_work() -> None:
    renderer = Renderer(processes=1, timeout=0.3, cache_bytes=32 * 1024 * 1024)
    await renderer.render("warm up")
    contents = [PATHOLOGICAL + f" {i}" for i in range(4)]
    renders = renderer.renders
    answers = await asyncio.gather(*(renderer.render(c) for c in contents))
    assert answers == [unrendered(c) for c in contents]
    # The first render is stopped after 0.3 s of CPU and remembered as over time; the
    # others, queued behind it, were never started.
    for _ in range(30):
        hits = renderer.hits
        again = await renderer.render(contents[0])
        if renderer.hits > hits:
            break
    assert renderer.hits == hits + 1
    assert again == unrendered(contents[0])
    assert renderer.renders == renders + 1


async def test_cache_is_bounded_in_bytes() -> None:
    renderer = Renderer(processes=1, timeout=10.0, cache_bytes=2000)
    small, large = "*small*", "large " * 1000
    for _ in range(2):
        assert (await renderer.render(small)).html == "<p><em>small</em></p>\n"
        assert (await renderer.render(large)).text == large.strip()
    assert renderer.renders == 3  # the large note does not fit: rendered each time
    assert renderer.hits == 1


async def test_a_killed_render_process_is_replaced() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    renderer = Renderer(processes=1, timeout=10.0, cache_bytes=1024 * 1024)
    await renderer.render("warm up")
    (process,) = [p for p in multiprocessing.active_children() if p.pid not in before]
    rendering = asyncio.create_task(renderer.render(PATHOLOGICAL))
    await asyncio.sleep(0.2)
    process.kill()  # as the OOM killer would
    assert await rendering == unrendered(PATHOLOGICAL)
    assert (await renderer.render("*again*")).html == "<p><em>again</em></p>\n"
    assert renderer.renders == 3


def test_render_processes_exit_with_the_server() -> None:
    """A server killed with SIGKILL leaves no render process behind."""
    script = (
        "import asyncio, multiprocessing, os, signal, sys\n"
        "from notes_bff.markdown import Renderer\n"
        "asyncio.run(Renderer(1, 5.0, 1000).render('x'))\n"
        "print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    server = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert server.returncode == -signal.SIGKILL, server.stderr
    children = [int(pid) for pid in server.stdout.split()]
    assert children
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
