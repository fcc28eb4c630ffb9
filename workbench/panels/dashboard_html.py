"""HTML pieces of the monitoring dashboard: KPI tiles, the versions table, alerts, history.

Plain functions of the monitoring dataclasses, returning HTML strings, so they are easy to test
and an ``HTML`` widget can swap them in one update.
"""
from __future__ import annotations

import time
from html import escape

from .targets import TONE_WORDS
from .words import ADVICE, actor_label, alert_sentence

TONES = {"good": "#1a7f37", "warn": "#b08800", "bad": "#cf222e", "neutral": "#24292f"}
_NOTE = "font-size:11px;color:#57606a;max-width:620px"
_TILE = ("border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;margin:4px;"
         "background:#f6f8fa;font-family:sans-serif")


def kpi_tile(tile) -> str:
    """One tile: a small label, a big number with a short note, then what it means and its
    target, one line each; coloured by the tile's tone (word and colour, not colour alone)."""
    return (f"<div class='wb-tile wb-tone-{tile.tone}' style='{_TILE};border-top:4px solid "
            f"{TONES[tile.tone]}' title='{escape(TONE_WORDS[tile.tone])}'>"
            f"<div class='wb-kpi-label' style='font-size:12px;color:#57606a'>{escape(tile.label)}</div>"
            f"<div class='wb-kpi-value' style='font-size:24px;font-weight:600;color:{TONES[tile.tone]}'>"
            f"{escape(tile.value)}</div>"
            f"<div class='wb-kpi-note' style='font-size:11px;color:#57606a'>{escape(tile.note)}</div>"
            f"<div class='wb-kpi-caption' style='font-size:11px;margin-top:4px'>{escape(tile.caption)}</div>"
            f"<div class='wb-kpi-target' style='font-size:11px;color:#57606a'>{escape(tile.target)}"
            f" · <span class='wb-kpi-verdict'>{escape(TONE_WORDS[tile.tone])}</span></div></div>")


def bar(fraction: float, color: str, width: int = 120) -> str:
    px = int(round(max(0.0, min(1.0, fraction)) * width))
    return (f"<div style='width:{width}px;background:#eaeef2;height:10px;display:inline-block'>"
            f"<div style='width:{px}px;background:{color};height:10px'></div></div>")


def alerts_html(statuses) -> str:
    """Firing alerts, each in plain words with what to do."""
    firing = [s for s in statuses if s.firing]
    if not firing:
        return "<div class='wb-alerts-none' style='color:#1a7f37;font-family:sans-serif'>✓ no alert firing</div>"
    items = "".join(
        f"<li class='wb-alert'><b>{escape(s.rule.name)}</b>: "
        f"<span class='wb-alert-text'>{escape(alert_sentence(s.rule.metric, s.value, s.rule.threshold))}</span>"
        f" (since {time.strftime('%H:%M:%S', time.localtime(s.since))})."
        f"<div class='wb-alert-todo'><b>What to do:</b> {escape(ADVICE.get(s.rule.metric, ''))}</div></li>"
        for s in firing)
    return (f"<div style='border-left:4px solid #cf222e;padding:4px 8px;font-family:sans-serif'>"
            f"<b style='color:#cf222e'>{len(firing)} alert(s) firing</b><ul>{items}</ul></div>")


def versions_html(health) -> str:
    """Versions side by side: role in a canary or shadow, configured and measured traffic
    share, requests, latency, error rate, agreement with the answering version and the most
    frequent predictions."""
    comparison = getattr(health, "comparison", None)
    if comparison is None or not comparison.versions:
        return ("<div style='font-family:sans-serif'><h4>Versions serving</h4>"
                "<i>no traffic in this window</i></div>")
    aliases = {}
    for alias, version in health.aliases.items():
        aliases.setdefault(version, []).append(alias)
    rows = []
    for v in comparison.versions:
        label = escape(", ".join(aliases.get(v.version, [])))
        weight = "-" if v.weight is None else f"{v.weight:.0%}"
        share = ("copy" if v.role == "shadow"
                 else f"{bar(v.share, '#1f77b4', 80)} {v.share:.0%}")
        agree = "-" if v.agreement is None else f"{v.agreement:.1%}"
        top = ", ".join(f"{escape(str(k))}: {n}" for k, n in list(v.predictions.items())[:3])
        rows.append(f"<tr class='wb-version-{v.role}'><td>v{v.version} {label}</td>"
                    f"<td>{v.role}</td><td>{weight}</td><td>{share}</td><td>{v.requests}</td>"
                    f"<td>{_ms(v.p50_ms)}</td><td>{_ms(v.p99_ms)}</td>"
                    f"<td>{v.error_rate:.1%}</td><td>{agree}</td><td>{top or '-'}</td></tr>")
    title = "Versions side by side" if comparison.active else "Versions serving"
    return (f"<div style='font-family:sans-serif;margin-right:24px'><h4>{title}</h4>"
            "<table class='wb-versions-table'><tr><th>version</th><th>role</th><th>weight</th>"
            "<th>share</th><th>requests</th><th>p50 ms</th><th>p99 ms</th><th>errors</th>"
            "<th>agreement</th><th>predictions</th></tr>" + "".join(rows) + "</table>"
            f"<div class='wb-versions-note' style='{_NOTE}'>role: <i>primary</i> answers, a "
            "<i>canary</i> answers a share of requests on trial, a <i>shadow</i> gets a copy and its "
            "answers are only compared; weight: the share configured, share: the share measured; "
            "agreement: how often the version gave the same answer as the primary.</div></div>")


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def history_html(events) -> str:
    """The newest audit events first: when, who, what."""
    if not events:
        return "<i>no history yet</i>"
    def what(e):
        if e.alias:
            was = f" (was v{e.previous})" if e.previous is not None else ""
            return f"{e.action}: {e.alias} → v{e.version}{was}"
        return f"{e.action} v{e.version}" if e.version is not None else e.action

    rows = "".join(f"<tr><td>{escape(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e.at)))}</td>"
                   f"<td class='wb-history-actor'>{escape(actor_label(e.author))}</td><td>{escape(what(e))}</td></tr>"
                   for e in reversed(list(events)))
    return ("<table style='font-family:sans-serif;font-size:12px'><tr><th>when</th><th>who</th>"
            f"<th>what</th></tr>{rows}</table>")
