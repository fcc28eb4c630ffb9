"""How a replay report reads: an empty window says why, not "agreement nan%"."""
import math

from workbench.loadgen.replay import ReplayReport


def test_an_empty_replay_says_there_was_nothing_to_replay_and_why():
    text = str(ReplayReport("digits", 2, "in-process", 0, 0, math.nan))
    assert "nan" not in text
    assert "nothing to replay of digits through v2" in text and "--log-inputs" in text


def test_a_replay_with_rows_reports_agreement_and_latencies():
    report = ReplayReport("digits", 2, "in-process", 3, 3, 2 / 3, {1: 3}, {"disagreeing_rows": 1},
                          1.0, 2.0, 0.5, 0.7)
    text = str(report)
    assert "agreement 66.67%" in text and "v2" in text and "1.00 → 0.50 ms" in text
