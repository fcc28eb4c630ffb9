"""What each tile of the dashboard says: a figure, one plain line of what it means, its target,
and a colour against :class:`~.targets.Targets`.

Plain functions of the monitoring dataclasses, so the colour rules are easy to test and the
tiles and the tables below them read the same facts (the drift tile counts exactly the rows the
drift table marks *drifted* and *shifting*, by :func:`feature_verdict`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .targets import Targets

#: what an HTTP status means to a reader who is not an engineer
STATUS_WORDS = {400: "malformed", 401: "no valid key", 403: "not allowed", 404: "unknown model",
                405: "wrong method", 409: "conflict", 413: "too large", 415: "not JSON",
                422: "invalid input", 429: "too many", 500: "service failure", 503: "not ready",
                504: "too slow"}
#: order of the drift verdicts, worst first
VERDICTS = ("drifted", "shifting", "within noise", "stable")


@dataclass(frozen=True)
class Tile:
    """One tile: ``label``, big ``value``, a short ``note`` on it, the ``caption`` (what it
    means, one line), the ``target`` (one line) and the ``tone`` ('good', 'warn', 'bad',
    'neutral')."""

    label: str
    value: str
    note: str
    caption: str
    target: str
    tone: str


def feature_verdict(f) -> str:
    """The drift rule, one feature: *drifted* when its PSI is in the major band and the KS test
    is significant after the Bonferroni correction; *shifting* when the KS test is significant
    and PSI is moderate; *within noise* when PSI is moderate or major but KS says chance could
    explain it; *stable* otherwise."""
    if f.band == "major" and f.significant:
        return "drifted"
    if f.band == "moderate" and f.significant:
        return "shifting"
    return "within noise" if f.band != "stable" else "stable"


def drift_counts(report) -> dict:
    """How many features have each verdict (every verdict is a key)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for f in (report.features if report is not None else ()):
        counts[feature_verdict(f)] += 1
    return counts


def drift_tone(report, targets: Targets) -> str:
    """Red above the alert share of drifted features; amber with any drifted or shifting
    feature; green with none; neutral without a reference or sampled inputs."""
    if report is None or not report.n_live_rows or not report.features:
        return "neutral"
    counts = drift_counts(report)
    tone = targets.tone("drift", counts["drifted"] / len(report.features))
    return "warn" if tone == "good" and counts["shifting"] else tone


def errors_note(errors_by_status: dict) -> str:
    """'400 malformed: 5 · 422 invalid input: 11', or 'none'."""
    return " · ".join(f"{s} {STATUS_WORDS.get(int(s), 'other')}: {n}"
                      for s, n in sorted(errors_by_status.items(), key=lambda kv: int(kv[0]))) or "none"


def pct(value: float, digits: int = 1) -> str:
    """0.052 -> '5.2 %' (``digits`` decimals)."""
    return f"{100 * value:.{digits}f} %"


def _fmt(value, digits, unit=""):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}{unit}"


def build_tiles(health, targets: Targets, quality=None, *, pending: bool = False) -> dict:
    """Every tile of one model's health, keyed ``version, rps, requests, p50, p99, errors, drift,
    quality``. ``quality`` is the live version's :class:`VersionQuality` (None: no answer of it
    logged); ``pending`` paints the drift and quality tiles as "computing" (the quick first
    paint, which reads neither)."""
    t = targets
    live = health.live_version
    others = " · ".join(f"{a} v{v}" for a, v in sorted(health.aliases.items()) if a != "production")
    alias = "production" if "production" in health.aliases else "latest version"
    tiles = {
        "version": Tile("live version", f"v{live}" if live else "–", others or alias,
                        "the model version that answers production requests",
                        f"expected: the version the {alias} alias names", "neutral"),
        "rps": _rate_tile(health, t),
        "requests": Tile("requests", str(health.requests), "answered or refused",
                         "all requests in the chosen window", "expected: above 0 (clients are served)",
                         "good" if health.requests else "warn"),
        "p50": Tile("p50 latency", _fmt(health.p50_ms, 1, " ms"), "median",
                    "half of the requests are answered faster than this",
                    f"target ≤ {t.p50_ms:g} ms", t.tone("p50", health.p50_ms if health.requests else None)),
        "p99": Tile("p99 latency", _fmt(health.p99_ms, 1, " ms"), "slowest 1 %",
                    "99 in 100 requests are faster: the slow tail users notice",
                    f"target ≤ {t.p99_ms:g} ms · alert above {t.p99_ms_alert:g} ms",
                    t.tone("p99", health.p99_ms if health.requests else None)),
        "errors": Tile("errors", pct(health.error_rate) if health.requests else "–",
                       errors_note(health.errors_by_status),
                       "share of requests refused or failed (by HTTP status)",
                       f"target ≤ {pct(t.error_rate, 0)} · alert above {pct(t.error_rate_alert, 0)}",
                       t.tone("errors", health.error_rate if health.requests else None)),
        "drift": _drift_tile(health.drift, t, pending),
        "quality": _quality_tile(quality, t, pending),
    }
    return tiles


def _rate_tile(health, t: Targets) -> Tile:
    tone = "neutral" if not health.requests else ("good" if health.recent_requests_per_s > 0 else "warn")
    return Tile("requests / s", _fmt(health.recent_requests_per_s, 2), "last minute",
                "how busy the service is right now",
                f"expected: above 0 while clients are active (alert after {t.quiet_s:g} s quiet)", tone)


def _drift_tile(report, t: Targets, pending: bool) -> Tile:
    caption = "input features whose values moved away from the training data"
    target = f"target: none drifted · alert above {pct(t.drift_share_alert, 0)} of features"
    if pending:
        return Tile("data drift", "…", "computing", caption, target, "neutral")
    if report is None:
        return Tile("data drift", "no reference", "registered without training data", caption,
                    target, "neutral")
    if not report.n_live_rows:
        return Tile("data drift", "no data", "no sampled inputs yet", caption, target, "neutral")
    counts = drift_counts(report)
    n = len(report.features)
    note = f"{pct(counts['drifted'] / n if n else 0.0, 0)} drifted"
    if counts["shifting"]:
        note += f" · {counts['shifting']} shifting"
    return Tile("data drift", f"{counts['drifted']} of {n}", note, caption, target, drift_tone(report, t))


def _quality_tile(q, t: Targets, pending: bool) -> Tile:
    caption = "share of answers that were right, from labels sent back later"
    target = f"target ≥ {pct(t.accuracy, 0)} · alert below {pct(t.accuracy_alert, 0)}"
    if pending:
        return Tile("live accuracy", "…", "computing", caption, target, "neutral")
    if q is None:
        return Tile("live accuracy", "–", "no answers logged yet", caption, target, "neutral")
    if q.task != "classification":
        return Tile("live RMSE", _fmt(q.rmse, 3), f"{q.labelled_rows} labelled answers",
                    "typical size of the error, from labels sent back later",
                    "target: lower than at training time (no threshold set)", "neutral")
    if not q.labelled_rows:
        return Tile("live accuracy", "–", "no labels yet", caption, target, "neutral")
    return Tile("live accuracy", pct(q.accuracy), f"{q.labelled_rows} labelled answers", caption,
                target, t.tone("accuracy", q.accuracy))
