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
RATIO_HEADER = (
    "| workload | request | workers | server CPU P÷N | P÷A | P÷L | req/s P÷N | P÷A | P÷L "
    "| MongoDB commands P÷L |\n|---|---|---|---|---|---|---|---|---|---|"
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
) -> str:
    mine, theirs = table.get((*key, "P")), table.get((*key, other))
    if mine is None or theirs is None or not getattr(theirs, figure):
        return "n/a"
    return f"{getattr(mine, figure) / getattr(theirs, figure):.2f}"


def markdown(samples: list[Sample], command: str) -> str:
    """The report: how it was made, every median, then P's ratios to the others."""
    table = medians(samples)
    rounds = len(samples) // max(len(table), 1)
    rows = [
        f"| {w} | {m} | {k} | {s} | {x.rps:.1f} | {x.p50_ms:.0f} | {x.p95_ms:.0f} | {x.cpu_ms:.1f} "
        f"| {x.db_cpu_ms:.1f} | {x.mongo_commands:.1f} | {x.redis_commands:.1f} |"
        for (w, m, k, s), x in sorted(
            table.items(), key=lambda i: (i[0][2], i[0][0], i[0][1], "PNAL".index(i[0][3]))
        )
    ]
    ratios = []
    for key in sorted({k[:3] for k in table}, key=lambda k: (k[2], k[0], k[1])):
        cells = [_ratio(table, key, o, "cpu_ms") for o in "NAL"]
        cells += [_ratio(table, key, o, "rps") for o in "NAL"]
        cells.append(_ratio(table, key, "L", "mongo_commands"))
        ratios.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Side by side: notes-bff (P), naive Strawberry (N), Ariadne + dataloaders (A), "
            "hand-written limit (L)",
            "",
            f"Run of {when}, `PYTHONPATH=$PWD .venv/bin/{command}` ({rounds} rounds; medians).",
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


def chart(samples: list[Sample], path: Path) -> None:
    """Server CPU ms per request and req/s per workload and server, one row per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = medians(samples)
    workers = sorted({k[2] for k in table})
    cases = sorted({(k[0], k[1]) for k in table})
    servers = [s for s in "PNAL" if any(k[3] == s for k in table)]
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
            ax.set_xticklabels([f"{w}\n{m}" for w, m in cases], fontsize=7)
            ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write_report(samples: list[Sample], command: str, output: Path, chart_path: Path) -> None:
    """Write the Markdown report and the chart."""
    text = markdown(samples, command)
    output.write_text(f"# Side-by-side benchmark\n\n{text}\n![chart]({chart_path.name})\n")
    chart(samples, chart_path)
    print(text)
