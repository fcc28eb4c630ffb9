"""HTML pieces of the monitoring dashboard: KPI tiles, tables with bars, alerts, history.

Plain functions of the monitoring dataclasses, returning HTML strings, so they are easy to test
and an ``HTML`` widget can swap them in one update.
"""
from __future__ import annotations

import time
from html import escape

from ..monitoring.drift import ALPHA, MAJOR, MODERATE

TONES = {"good": "#1a7f37", "warn": "#b08800", "bad": "#cf222e", "neutral": "#24292f"}
_TILE = ("border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;margin:4px;"
         "background:#f6f8fa;font-family:sans-serif")


def kpi_tile(label: str, value: str, note: str = "", tone: str = "neutral") -> str:
    """One tile: a small label, a big number, a note; coloured by ``tone``."""
    return (f"<div class='wb-tile wb-tone-{tone}' style='{_TILE}'>"
            f"<div class='wb-kpi-label' style='font-size:12px;color:#57606a'>{escape(label)}</div>"
            f"<div class='wb-kpi-value' style='font-size:24px;font-weight:600;color:{TONES[tone]}'>"
            f"{escape(value)}</div>"
            f"<div class='wb-kpi-note' style='font-size:11px;color:#57606a'>{escape(note)}</div></div>")


def _bar(fraction: float, color: str, width: int = 120) -> str:
    px = int(round(max(0.0, min(1.0, fraction)) * width))
    return (f"<div style='width:{width}px;background:#eaeef2;height:10px;display:inline-block'>"
            f"<div style='width:{px}px;background:{color};height:10px'></div></div>")


def alerts_html(statuses) -> str:
    firing = [s for s in statuses if s.firing]
    if not firing:
        return "<div class='wb-alerts-none' style='color:#1a7f37;font-family:sans-serif'>✓ no alert firing</div>"
    items = "".join(
        f"<li class='wb-alert'><b>{escape(s.rule.name)}</b> — now {s.value:.3g}, rule "
        f"{escape(s.rule.describe())}, firing since {time.strftime('%H:%M:%S', time.localtime(s.since))}</li>"
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
                 else f"{_bar(v.share, '#1f77b4', 80)} {v.share:.0%}")
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
            "<th>agreement</th><th>predictions</th></tr>" + "".join(rows) + "</table></div>")


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def drift_table_html(report, n: int = 10) -> str:
    """The features with the largest PSI, each with a bar and its band."""
    if report is None:
        return ("<div style='font-family:sans-serif'><h4>Feature drift</h4>"
                "<i>the live version was registered without reference data</i></div>")
    if not report.n_live_rows:
        return ("<div style='font-family:sans-serif'><h4>Feature drift</h4>"
                "<i>no sampled inputs in this window yet</i></div>")
    color = {"stable": "#1a7f37", "moderate": "#b08800", "major": "#cf222e"}
    scale = max(1.0, max(f.psi for f in report.features))
    def verdict(f):
        if f.drifted:
            return "<b style='color:#cf222e'>drifted</b>"
        return "" if f.band == "stable" else "<span style='color:#57606a'>not significant</span>" \
            if not f.significant else "<span style='color:#b08800'>shifting</span>"

    rows = "".join(
        f"<tr class='wb-drift-row'><td>{escape(f.feature)}</td><td>{_bar(f.psi / scale, color[f.band])}</td>"
        f"<td>{f.psi:.3f}</td><td style='color:{color[f.band]}'>{f.band}</td>"
        f"<td>{f.ks_statistic:.2f}</td><td>{f.ks_pvalue:.2g}</td><td>{verdict(f)}</td></tr>"
        for f in report.top(n))
    return (f"<div style='font-family:sans-serif'><h4>Feature drift against v{report.version}'s training data</h4>"
            f"<div>{report.n_live_rows} sampled rows; {report.drift_share:.0%} of features drifted: PSI band "
            f"major (≥ {MAJOR}; moderate from {MODERATE}) <i>and</i> a significant KS test "
            f"(p &lt; {ALPHA} / {len(report.features)} features)</div>"
            "<table><tr><th>feature</th><th>PSI</th><th></th><th>band</th><th>KS</th><th>p-value</th><th></th></tr>"
            f"{rows}</table></div>")


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
                   f"<td>{escape(str(e.author))}</td><td>{escape(what(e))}</td></tr>"
                   for e in reversed(list(events)))
    return f"<table style='font-family:sans-serif;font-size:12px'>{rows}</table>"
