"""The side-by-side benchmark's report: medians over rounds as Markdown tables, and a chart."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

FIGURES = ("rps", "p50_ms", "p95_ms", "cpu_ms", "db_cpu_ms", "mongo_commands", "redis_commands")
HEADER = (
    "| workload | request | workers | server | req/s | p50 ms | p95 ms | server CPU ms/req "
    "| SecantusDB CPU ms/req | MongoDB commands/req | Redis commands/req |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)
MODES = {"text": "full text", "apq": "APQ hash"}
SERVERS = "PCNAL"
METHOD = """\
One embedded SecantusDB and valkey, seeded once (`notes-bff seed`: 8 users, 4 workspaces);
every server runs against them with the same `NOTES_BFF_*` settings and the same access
token, started by the harness one after another (1 and 2 workers: gunicorn with aiohttp's
uvloop workers for 2, as `notes-bff serve --workers 2`), the order rotated every round. The
load generator (8 concurrent clients) shares the 2 cores with the server and the databases,
so req/s and latency are bounded by SecantusDB and noisy; CPU per request is the figure to
carry to a deployment.

- **P**: `notes-bff serve` with its response cache off (`NOTES_BFF_RESPONSE_CACHE=false`):
  rate limits in Redis, rendering processes, metrics; what the GraphQL stack itself costs.
- **C**: `notes-bff serve` as shipped, the response cache on (docs/response-cache.md): after
  the first request of a kind, answers come from the worker's memory, checked against Redis
  (the 90/10 mix's writes invalidate what they change).
- **N**: `bench/contenders/naive.py`, Strawberry code-first types and its stock aiohttp view;
  every resolver queries MongoDB for its own field; no persisted queries (APQ rows: n/a).
- **A**: `bench/contenders/ariadne_batched.py`, Ariadne from `schema.graphql`, users and
  workspaces through aiodataloader; APQ kept cheap: a registered hash maps to its parsed
  document, not validated again (notes-bff also skips parsing and validation on a hit).
- **L**: `bench/contenders/limit.py`, one hand-written function per operation, found by the
  document's text or hash (no GraphQL), the fewest queries (concurrent where independent,
  projected to the fields returned), orjson.

All answer with the same JSON (checked before measuring); excerpts come from notes-bff's own
renderer, cached by content. Writes (`updateNote` title) in N, A and L check the role and
update the note; notes-bff also publishes the event, indexes the note for search and
notifies. Columns: server CPU of the server's process tree, SecantusDB's CPU (/proc), and
commands counted by the databases themselves (`top` on the benchmark's database, `INFO
commandstats`), per request.
"""
RATIO_HEADER = (
    "| workload | request | workers | server CPU P÷N | P÷A | P÷L | req/s P÷N | P÷A | P÷L "
    "| MongoDB commands P÷L | server CPU C÷L | req/s C÷L |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True)
class Sample:
    """One server's figures for one workload, mode and worker count in one round."""

    server: str
    workers: int
    workload: str
    mode: str
    rps: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float
    db_cpu_ms: float
    mongo_commands: float
    redis_commands: float

    @property
    def key(self) -> tuple[str, str, int, str]:
        """What medians are taken over: (workload, mode, workers, server)."""
        return self.workload, self.mode, self.workers, self.server

    def line(self) -> str:
        """A progress line."""
        figures = " ".join(f"{f}={getattr(self, f):.1f}" for f in FIGURES)
        return f"{self.server} x{self.workers} {self.workload} ({self.mode}): {figures}"


def medians(samples: list[Sample]) -> dict[tuple[str, str, int, str], Sample]:
    """Per key, a sample made of the median of each figure over rounds."""
    groups: dict[tuple[str, str, int, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.key].append(sample)
    names = [f.name for f in fields(Sample)]
    result = {}
    for key, group in groups.items():
        values = {n: statistics.median(getattr(s, n) for s in group) for n in FIGURES}
        first = dict(zip(names, astuple(group[0]), strict=True))
        result[key] = Sample(**(first | values))
    return result


def _ratio(
    table: dict[tuple[str, str, int, str], Sample],
    key: tuple[str, str, int],
    other: str,
    figure: str,
    mine_name: str = "P",
) -> str:
    mine, theirs = table.get((*key, mine_name)), table.get((*key, other))
    if mine is None or theirs is None or not getattr(theirs, figure):
        return "n/a"
    return f"{getattr(mine, figure) / getattr(theirs, figure):.2f}"


def markdown(samples: list[Sample], command: str) -> str:
    """The report: how it was made, every median, then P's ratios to the others."""
    table = medians(samples)
    rounds = len(samples) // max(len(table), 1)
    order = list(dict.fromkeys(s.workload for s in samples))

    def rank(key: tuple[str, str, int, str]) -> tuple[int, int, int, int]:
        return key[2], order.index(key[0]), list(MODES).index(key[1]), SERVERS.index(key[3])

    rows = [
        f"| {w} | {MODES[m]} | {k} | {s} | {x.rps:.1f} | {x.p50_ms:.0f} | {x.p95_ms:.0f} "
        f"| {x.cpu_ms:.1f} | {x.db_cpu_ms:.1f} | {x.mongo_commands:.1f} | {x.redis_commands:.1f} |"
        for (w, m, k, s), x in sorted(table.items(), key=lambda i: rank(i[0]))
    ]
    ratios = []
    for key in sorted({k[:3] for k in table}, key=lambda k: rank((*k, "P"))):
        cells = [_ratio(table, key, o, "cpu_ms") for o in "NAL"]
        cells += [_ratio(table, key, o, "rps") for o in "NAL"]
        cells.append(_ratio(table, key, "L", "mongo_commands"))
        cells += [_ratio(table, key, "L", f, "C") for f in ("cpu_ms", "rps")]
        ratios.append(f"| {key[0]} | {MODES[key[1]]} | {key[2]} | " + " | ".join(cells) + " |")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Side by side: notes-bff without (P) and with (C) its response cache, naive "
            "Strawberry (N), Ariadne + dataloaders (A), hand-written limit (L)",
            "",
            METHOD,
            f"Run of {when}: `{command}` ({rounds} rounds; medians).",
            "",
            HEADER,
            *rows,
            "",
            "Ratios of the medians (below 1: notes-bff spends less CPU or serves fewer requests):",
            "",
            RATIO_HEADER,
            *ratios,
            "",
        ]
    )


def _short(workload: str) -> str:
    """A chart label: ``page 20``, ``dashboard``, ``90/10 mix``."""
    for long, short in (("workspace page, ", "page "), (" notes", ""), (" home", "")):
        workload = workload.replace(long, short)
    return workload.replace("90 % read / 10 % write", "90/10 mix")


def chart(samples: list[Sample], path: Path) -> None:
    """Server CPU ms per request and req/s per workload and server, one row per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = medians(samples)
    workers = sorted({k[2] for k in table})
    order = list(dict.fromkeys(s.workload for s in samples))
    cases = sorted({(k[0], k[1]) for k in table}, key=lambda c: (order.index(c[0]), c[1] == "apq"))
    servers = [s for s in SERVERS if any(k[3] == s for k in table)]
    figure, axes = plt.subplots(len(workers), 2, figsize=(14, 4.5 * len(workers)), squeeze=False)
    width = 0.8 / len(servers)
    for row, count in enumerate(workers):
        for col, (figure_name, title) in enumerate(
            (("cpu_ms", "server CPU ms/request"), ("rps", "requests/s"))
        ):
            ax = axes[row][col]
            for i, server in enumerate(servers):
                values = [
                    getattr(table[(w, m, count, server)], figure_name)
                    if (w, m, count, server) in table
                    else 0
                    for w, m in cases
                ]
                ax.bar([x + i * width for x in range(len(cases))], values, width, label=server)
            ax.set_title(f"{title}, {count} worker{'s' if count > 1 else ''}")
            ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cases))])
            ax.set_xticklabels([f"{_short(w)}\n{MODES[m]}" for w, m in cases], fontsize=8)
            ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write_report(samples: list[Sample], command: str, output: Path, chart_path: Path) -> None:
    """Write the Markdown report and the chart."""
    text = markdown(samples, command)
    output.write_text(f"# Side-by-side benchmark\n\n{text}\n![chart]({chart_path.name})\n")
    chart(samples, chart_path)
    print(text)
