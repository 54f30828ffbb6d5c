"""The console's Overview: the delivery statistics of ``runtime.stats`` drawn server-side as SVG.

No chart library: each channel's last 24 hours is one SVG of stacked bars, one bar per minute (the
viewBox is 1,440 units wide), outcomes stacked in a fixed order and colour; providers' failure rates and
the queues are table rows with a bar each. Every picture has a ``<title>`` and a ``<desc>`` that says
what it shows in words, bars have their own titles (tooltips), and a table per hour gives the same
numbers for screen readers and for copying. The page polls itself with htmx (``every 5s``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from host.delivery.stats import OUTCOMES, DeliveryStats

__all__ = ["COLOURS", "ChannelChart", "Overview", "build_overview", "duration"]

#: outcome → fill, the same in every chart and legend
COLOURS = {"sent": "#067647", "retry": "#dc6803", "failed": "#b42318", "skipped": "#98a2b3"}
_HEIGHT = 100.0
_MINUTES = 24 * 60


@dataclass(frozen=True)
class Bar:
    """One outcome's part of one minute's stacked bar."""

    x: int
    y: float
    height: float
    colour: str
    title: str


@dataclass
class ChannelChart:
    """One channel's 24 hours."""

    channel: str
    bars: list[Bar] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    peak: int = 0
    peak_at: datetime | None = None

    @property
    def description(self) -> str:
        """The chart in words (its SVG ``<desc>``)."""
        parts = ", ".join(f"{self.totals.get(outcome, 0):,} {outcome}" for outcome in OUTCOMES)
        if not self.peak_at:
            return f"No attempt recorded in the last 24 hours ({parts})."
        return (
            f"In the last 24 hours: {parts}; the busiest minute, {self.peak_at:%H:%M} UTC, had {self.peak:,}."
        )


@dataclass
class Overview:
    """Everything the Overview page shows."""

    stats: DeliveryStats
    charts: list[ChannelChart]
    #: hour (UTC) → channel → outcome → count: the charts' table
    hours: list[tuple[datetime, dict[str, dict[str, int]]]]
    #: the hour marks under the charts: (x in viewBox units, label)
    ticks: list[tuple[float, str]]
    max_queued: int


def duration(seconds: float) -> str:
    """``3 min 12 s``, ``2 h 5 min``, ``40 s``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def build_overview(stats: DeliveryStats, channels: list[str]) -> Overview:
    """Lay the statistics out: bars per channel and minute, hourly totals, queue bar lengths."""
    start = stats.since
    by_minute: dict[str, dict[int, dict[str, int]]] = {name: defaultdict(dict) for name in channels}
    hourly: dict[datetime, dict[str, dict[str, int]]] = {}
    for point in stats.per_minute:
        slot = int((point.minute - start).total_seconds() // 60)
        if not 0 <= slot < _MINUTES:
            continue
        by_minute.setdefault(point.channel, defaultdict(dict))[slot][point.outcome] = point.count
        hour = point.minute.replace(minute=0)
        cell = hourly.setdefault(hour, {}).setdefault(point.channel, {})
        cell[point.outcome] = cell.get(point.outcome, 0) + point.count
    charts = []
    for name, minutes in by_minute.items():
        chart = ChannelChart(name)
        peak = max((sum(counts.values()) for counts in minutes.values()), default=0)
        for slot, counts in sorted(minutes.items()):
            total = sum(counts.values())
            if total > chart.peak:
                chart.peak, chart.peak_at = total, start + timedelta(minutes=slot)
            at = start + timedelta(minutes=slot)
            bottom = _HEIGHT
            for outcome in OUTCOMES:
                count = counts.get(outcome, 0)
                if not count:
                    continue
                chart.totals[outcome] = chart.totals.get(outcome, 0) + count
                height = _HEIGHT * count / peak
                bottom -= height
                title = f"{at:%H:%M} UTC: {count:,} {outcome}"
                chart.bars.append(Bar(slot, round(bottom, 3), round(height, 3), COLOURS[outcome], title))
        charts.append(chart)
    first_hour = (start + timedelta(minutes=59)).replace(minute=0, second=0, microsecond=0)
    ticks = [
        (
            (first_hour + timedelta(hours=h) - start).total_seconds() / 60,
            f"{first_hour + timedelta(hours=h):%H:%M}",
        )
        for h in range(0, 24, 3)
    ]
    return Overview(
        stats=stats,
        charts=charts,
        hours=sorted(hourly.items(), reverse=True),
        ticks=ticks,
        max_queued=max((queue.queued for queue in stats.queues), default=0),
    )
