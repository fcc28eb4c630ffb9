"""The usage section of the monitoring dashboard: requests, rows, errors and compute time per
consumer (API key or token subject) over the dashboard's window, as an HTML table."""
from __future__ import annotations

from html import escape

from ..monitoring.usage import UsageRow


def usage_html(rows: list[UsageRow]) -> str:
    """An HTML table of usage rows, busiest consumer first, with a total line."""
    if not rows:
        return "<div class='wb-usage'><i>no requests in this window</i></div>"
    rows = sorted(rows, key=lambda r: (-r.requests, r.key_id))
    body = "".join(
        f"<tr><td>{escape(r.key_name)}</td><td><code>{escape(r.key_id)}</code></td>"
        f"<td>{escape(r.model)}</td><td style='text-align:right'>{r.requests}</td>"
        f"<td style='text-align:right'>{r.rows}</td><td style='text-align:right'>{r.errors}</td>"
        f"<td style='text-align:right'>{r.compute_ms:.1f}</td></tr>" for r in rows)
    totals = [sum(getattr(r, f) for r in rows) for f in ("requests", "rows", "errors", "compute_ms")]
    return ("<div class='wb-usage'><table><thead><tr><th>consumer</th><th>key id</th>"
            "<th>model</th><th>requests</th><th>rows</th><th>errors</th><th>compute ms</th>"
            f"</tr></thead><tbody>{body}<tr class='wb-usage-total'><td colspan='3'><b>total</b>"
            f"</td><td style='text-align:right'>{totals[0]}</td><td style='text-align:right'>"
            f"{totals[1]}</td><td style='text-align:right'>{totals[2]}</td>"
            f"<td style='text-align:right'>{totals[3]:.1f}</td></tr></tbody></table></div>")
