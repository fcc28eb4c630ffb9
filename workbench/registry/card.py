"""HTML for notebooks: the model card of a :class:`ModelVersion` and a :class:`Comparison`.

Rendering only: every value is escaped, nothing is computed here.
"""
from __future__ import annotations

from html import escape

from .records import format_time

_STYLE = ("font-family: sans-serif; font-size: 13px; border: 1px solid #ccc; border-radius: 6px; "
          "padding: 8px 12px; max-width: 640px")
_TH = "text-align: left; padding: 2px 10px 2px 0; color: #555; font-weight: normal"
_TD = "text-align: left; padding: 2px 10px 2px 0"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(pairs, empty="none") -> str:
    if not pairs:
        return f"<i>{escape(empty)}</i>"
    rows = "".join(f"<tr><th style='{_TH}'>{escape(str(k))}</th>"
                   f"<td style='{_TD}'>{escape(_fmt(v))}</td></tr>" for k, v in pairs)
    return f"<table>{rows}</table>"


def _signature_pairs(sig) -> list:
    if not sig:
        return []
    pairs = [("task", sig.get("task")), ("inputs", f"{sig.get('n_features')} features, "
                                                  f"{sig.get('dtype')}")]
    names = sig.get("feature_names")
    if names:
        shown = ", ".join(map(str, names[:8])) + (" ..." if len(names) > 8 else "")
        pairs.append(("feature names", shown))
    if sig.get("classes") is not None:
        pairs.append(("classes", ", ".join(map(str, sig["classes"]))))
    else:
        pairs.append(("outputs", sig.get("n_outputs")))
    return pairs


def render_card(mv) -> str:
    """Return the model card of ``mv`` (a :class:`ModelVersion`) as an HTML string."""
    badges = "".join(
        f"<span style='background:#2b7a2b;color:white;border-radius:4px;padding:1px 6px;"
        f"margin-left:6px'>{escape(a)}</span>" for a in mv.aliases)
    if mv.archived:
        badges += ("<span style='background:#888;color:white;border-radius:4px;padding:1px 6px;"
                   "margin-left:6px'>archived</span>")
    lineage = [("parent", f"{mv.parent[0]} v{mv.parent[1]}" if mv.parent else "none")]
    if mv.origin:
        lineage.append(("imported from", f"{mv.origin.get('name')} v{mv.origin.get('version')} "
                                         f"by {mv.origin.get('author')} ({mv.origin.get('archive')})"))
    about = [("registered", f"{format_time(mv.created_at)} by {mv.author}"),
             ("class", mv.model_class), ("weights", f"{mv.size_bytes:,} bytes, "
                                                   f"sha256 {mv.sha256[:16]}..."),
             ("drift reference", "stored" if mv.reference_sha256 else "none")]
    sections = [("Metrics", _table(list(mv.metrics.items()))),
                ("Parameters", _table(list(mv.params.items()))),
                ("Signature", _table(_signature_pairs(mv.signature), "unknown")),
                ("Lineage", _table(lineage)),
                ("Tags", _table(list(mv.tags.items()))),
                ("About", _table(about))]
    body = "".join(f"<div style='margin-top:6px'><b>{title}</b>{html}</div>"
                   for title, html in sections)
    desc = f"<div style='color:#444'>{escape(mv.description)}</div>" if mv.description else ""
    return (f"<div class='workbench-model-card' style='{_STYLE}'>"
            f"<div style='font-size:15px'><b>{escape(mv.name)}</b> v{mv.version}{badges}</div>"
            f"{desc}{body}</div>")


def render_comparison(cmp) -> str:
    """Return a :class:`Comparison` as an HTML table (metrics side by side, changed params)."""
    head = (f"<tr><th style='{_TH}'></th><th style='{_TH}'>v{cmp.v1}</th>"
            f"<th style='{_TH}'>v{cmp.v2}</th><th style='{_TH}'>change</th></tr>")
    rows = []
    for key, (a, b) in cmp.metrics.items():
        delta = cmp.delta(key)
        rows.append(f"<tr><td style='{_TD}'>{escape(key)}</td><td style='{_TD}'>"
                    f"{escape(_fmt(a) if a is not None else '-')}</td><td style='{_TD}'>"
                    f"{escape(_fmt(b) if b is not None else '-')}</td><td style='{_TD}'>"
                    f"{'' if delta is None else f'{delta:+.4g}'}</td></tr>")
    for key, (a, b) in cmp.params.items():
        rows.append(f"<tr><td style='{_TD}'><i>{escape(key)}</i></td><td style='{_TD}'>"
                    f"{escape(_fmt(a))}</td><td style='{_TD}'>{escape(_fmt(b))}</td><td></td></tr>")
    sig = "" if cmp.same_signature else "<div><b>the signatures differ</b></div>"
    return (f"<div class='workbench-comparison' style='{_STYLE}'><b>{escape(cmp.name)}</b>: "
            f"v{cmp.v1} vs v{cmp.v2}<table>{head}{''.join(rows)}</table>{sig}</div>")
