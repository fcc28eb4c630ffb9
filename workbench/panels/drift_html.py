"""The drift part of the dashboard: a one-paragraph summary with what to do (always shown), and
the per-feature PSI/KS table with the rule explained (folded into the details section).

Both colour a feature by the same rule as the drift tile (:func:`~.tiles.feature_verdict`): a
feature counts as *drifted* only when its PSI is in the major band **and** its KS test is
significant after the Bonferroni correction. The table shows every feature, worst first, so the
number of rows marked *drifted* is exactly the count on the tile.
"""
from __future__ import annotations

from html import escape

from ..monitoring.drift import ALPHA, MAJOR, MODERATE
from .dashboard_html import TONES, bar
from .tiles import VERDICTS, drift_counts, drift_tone, feature_verdict, pct
from .words import DRIFT_ADVICE

#: colour of each verdict: the tile's colours (red act, amber watch, grey noise, green stable)
VERDICT_COLOURS = {"drifted": TONES["bad"], "shifting": TONES["warn"], "within noise": "#8c959f",
                   "stable": TONES["good"]}
_BOX = "font-family:sans-serif;font-size:13px;max-width:900px"


def drift_rule_html(n_features: int) -> str:
    """The rule, in words, with the numbers it uses."""
    per = ALPHA / n_features if n_features else ALPHA
    return ("<div class='wb-drift-rule'><b>How a feature is judged.</b> "
            "PSI (population stability index) measures how far the live values' histogram moved "
            f"from the training data's: below {MODERATE} stable, {MODERATE}–{MAJOR} moderate, "
            f"{MAJOR} and above major. The KS (Kolmogorov–Smirnov) test asks whether the move "
            "could be chance; its p-value must be below "
            f"{ALPHA} / {n_features} features = {per:.2g} (Bonferroni correction: with many features "
            "some look unusual by chance). A feature is <b style='color:#cf222e'>drifted</b> when "
            "PSI is major <i>and</i> KS is significant; <b style='color:#b08800'>shifting</b> when "
            "PSI is moderate and KS significant; <span style='color:#8c959f'>within noise</span> "
            "when PSI is high but KS says chance explains it (few live rows, or a pixel that is "
            "almost always 0). The drift tile counts the drifted features.</div>")


def drift_summary_html(report, targets) -> str:
    """What the drift tile says, in a sentence, and what to do about it."""
    tone = drift_tone(report, targets)
    if report is None:
        what = "the live version was registered without reference data, so drift cannot be measured"
    elif not report.n_live_rows:
        what = "no sampled inputs in this window yet"
    else:
        counts, n = drift_counts(report), len(report.features)
        what = (f"{counts['drifted']} of {n} input features drifted "
                f"({pct(counts['drifted'] / n if n else 0.0, 0)}; the alert fires above "
                f"{pct(targets.drift_share_alert, 0)}), {counts['shifting']} shifting, "
                f"{counts['within noise']} within noise — from {report.n_live_rows} sampled rows "
                f"against v{report.version}'s training data")
    return (f"<div class='wb-drift-summary' style='{_BOX};border-left:4px solid {TONES[tone]};"
            f"padding:2px 8px'><h4 style='margin:4px 0'>Feature drift</h4><div>{escape(what)}.</div>"
            f"<div class='wb-drift-todo'><b>What to do:</b> {escape(DRIFT_ADVICE[tone])}</div>"
            "<div style='color:#57606a'>Per-feature PSI and KS figures and the rule: open "
            "<i>Details</i> below.</div></div>")


def drift_table_html(report) -> str:
    """Every feature, worst verdict first then largest PSI: a PSI bar coloured by the verdict,
    the PSI band, the KS statistic and p-value, and the verdict in words."""
    if report is None or not report.n_live_rows:
        return ("<div class='wb-drift-table' style='font-family:sans-serif'>"
                "<i>no drift figures yet (no reference data or no sampled inputs)</i></div>")
    scale = max(1.0, max(f.psi for f in report.features))
    order = {v: i for i, v in enumerate(VERDICTS)}
    features = sorted(report.features, key=lambda f: (order[feature_verdict(f)], -f.psi))
    rows = []
    for f in features:
        verdict = feature_verdict(f)
        colour = VERDICT_COLOURS[verdict]
        slug = verdict.replace(" ", "-")
        rows.append(
            f"<tr class='wb-drift-row wb-verdict-{slug}'><td>{escape(f.feature)}</td>"
            f"<td>{bar(f.psi / scale, colour)}</td><td>{f.psi:.3f}</td><td>{f.band}</td>"
            f"<td>{f.ks_statistic:.2f}</td><td>{f.ks_pvalue:.2g}</td>"
            f"<td class='wb-drift-verdict' style='color:{colour};font-weight:600'>{verdict}</td></tr>")
    return (f"<div class='wb-drift-table' style='{_BOX}'>{drift_rule_html(len(report.features))}"
            "<table><tr><th>feature</th><th>PSI</th><th></th><th>PSI band</th><th>KS</th>"
            "<th>p-value</th><th>verdict</th></tr>" + "".join(rows) + "</table></div>")
