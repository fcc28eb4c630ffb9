"""The dashboard's sentences: alerts in plain words with what to do, drift advice, who acted.

>>> alert_sentence("drift_share", 0.312, 0.25)
'31 % of input features drifted — the rule fires above 25 %'
>>> alert_sentence("error_rate", 0.052, 0.05)
'5.2 % of requests were refused or failed — the rule fires above 5 %'
>>> actor_label("rollout-controller")
'rollout controller (automatic)'
"""
from __future__ import annotations

import math

#: what a firing alert of each metric means, as "{value}" and "{limit}" in plain words
_SENTENCES = {
    "p99_latency_ms": "the slowest 1 % of requests take {value} or more — the rule fires above {limit}",
    "error_rate": "{value} of requests were refused or failed — the rule fires above {limit}",
    "drift_share": "{value} of input features drifted — the rule fires above {limit}",
    "seconds_since_request": "no request for {value} — the rule fires after {limit}",
    "accuracy": "live accuracy is {value} — the rule fires below {limit}",
    "rmse": "live RMSE is {value} — the rule fires above {limit}",
    "label_coverage": "only {value} of answers have a label — the rule fires below {limit}",
}

#: what to do when an alert of each metric fires
ADVICE = {
    "p99_latency_ms": "check how busy the service is (requests / s); add workers or replicas, or "
                      "roll back if a new version is slower.",
    "error_rate": "look at the statuses on the errors tile: 4xx means clients send bad requests "
                  "(find them in the usage table and tell them); 5xx means the service fails "
                  "(read its log; roll back if a new version caused it).",
    "drift_share": "the inputs no longer look like the training data. Ask the team that sends "
                   "the data what changed (units, source, form); if the world really changed, "
                   "collect labels and retrain; meanwhile watch live accuracy.",
    "seconds_since_request": "check that the service runs and that clients can reach it "
                             "(network, keys).",
    "accuracy": "compare the versions under Live quality; roll back if a new version is worse, "
                "else retrain on recent labelled data.",
    "rmse": "compare the versions under Live quality; roll back if a new version is worse, else "
            "retrain on recent labelled data.",
    "label_coverage": "labels stopped arriving: check the job that posts them back.",
}

#: what to do, by the drift tile's colour
DRIFT_ADVICE = {
    "good": "nothing to do: the inputs look like the training data.",
    "warn": "some inputs moved: tell the team that sends the data, and keep an eye on live "
            "accuracy; no action on the model yet.",
    "bad": ADVICE["drift_share"],
    "neutral": "nothing to judge yet: drift needs the version's training data and sampled inputs.",
}


def _amount(metric: str, value: float, digits: int = 0) -> str:
    if metric in ("error_rate", "drift_share", "accuracy", "label_coverage"):
        return f"{100 * value:.{digits}f} %"
    if metric == "p99_latency_ms":
        return f"{value:.0f} ms"
    if metric == "seconds_since_request":
        return f"{value:.0f} s"
    return f"{value:.3g}"


def alert_sentence(metric: str, value, limit: float) -> str:
    """A firing alert as a sentence: what the figure is and where the rule fires."""
    limit_text = _amount(metric, limit)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        shown = "–"
    else:  # never "5 % … fires above 5 %": one more digit when rounding hides the difference
        shown = _amount(metric, value)
        if shown == limit_text and value != limit:
            shown = _amount(metric, value, 1)
    template = _SENTENCES.get(metric, metric + " is {value} — the rule's limit is {limit}")
    return template.format(value=shown, limit=limit_text)


def actor_label(author: str) -> str:
    """Who acted, for a reader: the key behind an API call, the rollout controller, the service,
    or a person on this machine (a bare login name such as 'root' says so)."""
    author = str(author or "")
    if author == "rollout-controller":
        return "rollout controller (automatic)"
    if author == "workbench-serving":
        return "the service itself"
    if author.endswith(" (api)"):
        return f"key '{author[:-6]}' through the API"
    if "(key " in author:
        return author
    return f"{author or 'unknown'} (local user: Python or CLI)"
