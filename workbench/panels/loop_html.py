"""HTML of the closed loop for the panels: live quality per version (from posted labels) and
where an automatic rollout stands. Plain functions of the monitoring/rollout dataclasses."""
from __future__ import annotations

import math
import time
from html import escape

_CELL = "padding:2px 8px;text-align:right"
_BOX = "font-family:sans-serif;font-size:13px;margin:6px 0"
_NOTE = "font-size:11px;color:#57606a;max-width:620px"


def _num(value, digits=3, pct=False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f} %" if pct else f"{value:.{digits}g}"


def _ci(ci, pct=False) -> str:
    lo, hi = ci
    if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
        return ""
    return f" <span style='color:#57606a'>[{_num(lo, pct=pct)}, {_num(hi, pct=pct)}]</span>"


def quality_html(report) -> str:
    """Per version: labelled rows and fraction, accuracy / macro-F1 or RMSE / MAE with their
    95 % intervals, and prediction drift against the version's training outputs."""
    if report is None or not report.versions:
        return (f"<div class='wb-quality' style='{_BOX}'><h4>Live quality</h4>"
                "<i>no answers logged yet</i></div>")
    rows = []
    for q in report.versions:
        if q.task == "classification":
            main = (f"accuracy {_num(q.accuracy, pct=True)}{_ci(q.accuracy_ci, pct=True)} · "
                    f"macro-F1 {_num(q.macro_f1)}{_ci(q.macro_f1_ci)}")
        else:
            main = f"RMSE {_num(q.rmse)}{_ci(q.rmse_ci)} · MAE {_num(q.mae)}{_ci(q.mae_ci)}"
        if not q.labelled_rows:
            main = "<i>no labels yet</i>"
        drift = q.prediction_drift
        drift_text = ("–" if drift is None else
                      f"{'drifted' if drift.drifted else 'stable'} (p = {drift.p_value:.2g})")
        rows.append(
            f"<tr class='wb-quality-row' data-version='{q.version}'><td style='{_CELL}'>"
            f"v{q.version}</td><td style='{_CELL}' class='wb-quality-main'>{main}</td>"
            f"<td style='{_CELL}' class='wb-quality-labelled'>{q.labelled_rows} / {q.served_rows}"
            f" ({_num(q.labelled_fraction, pct=True)})</td><td style='{_CELL}'>"
            f"{escape(drift_text)}</td></tr>")
    return (f"<div class='wb-quality' style='{_BOX}'><h4>Live quality (from posted labels)</h4>"
            "<table><tr><th>version</th><th>quality, 95 % interval</th><th>labelled rows</th>"
            "<th>prediction drift</th></tr>" + "".join(rows) + "</table>"
            f"<div class='wb-quality-note' style='{_NOTE}'>From the true answers clients send back "
            "later: accuracy is the share of answers that were right; the bracket is where the true "
            "figure lies with 95 % confidence (narrow with many labels); prediction drift says "
            "whether the mix of answers moved away from the one at training time.</div></div>")


def rollout_html(state) -> str:
    """The model's running or last rollout: versions, step, state, last decision's reason and
    evidence of its tests."""
    if state is None:
        return (f"<div class='wb-rollout' style='{_BOX}'><h4>Rollout</h4>"
                "<i>no automatic rollout for this model</i></div>")
    colour = {"running": "#0969da", "promoted": "#1a7f37", "aborted": "#cf222e"}.get(
        state.state, "#57606a")
    steps = " → ".join(f"<b>{s:g} %</b>" if i == state.step and state.running else f"{s:g} %"
                       for i, s in enumerate(state.policy.steps))
    decision = state.last_decision or {}
    tests = []
    for name in ("error rate", "latency", "quality"):
        t = (decision.get("evidence") or {}).get(name)
        if t:
            tests.append(f"<li>{escape(name)}: effect {_num(t.get('effect'))}, interval "
                         f"[{_num(t.get('ci_low'))}, {_num(t.get('ci_high'))}], p "
                         f"{_num(t.get('p_value'), 2)}, samples {t.get('n_candidate')} / "
                         f"{t.get('n_baseline')}</li>")
    when = time.strftime("%H:%M:%S", time.localtime(state.updated))
    return (f"<div class='wb-rollout' style='{_BOX}'><h4>Rollout</h4>"
            f"<div><span class='wb-rollout-state' style='color:{colour};font-weight:600'>"
            f"{escape(state.state)}</span> — {escape(state.alias)}: v{state.baseline} → "
            f"v{state.candidate}, candidate at <span class='wb-rollout-weight'>"
            f"{state.weight:g} %</span> (steps {steps}; α = {state.policy.alpha:g})</div>"
            f"<div class='wb-rollout-reason'>{escape(decision.get('reason', ''))} "
            f"<span style='color:#57606a'>({when})</span></div>"
            + (f"<ul>{''.join(tests)}</ul>" if tests else "")
            + f"<div class='wb-rollout-note' style='{_NOTE}'>An automatic rollout sends a growing "
            "share of requests to the candidate, compares it with the current version at each step "
            "(errors, latency, accuracy; α is the chance of a false alarm it accepts) and promotes "
            "it, or aborts and returns all traffic when the candidate is worse.</div></div>")
