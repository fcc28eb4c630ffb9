"""The simulator plays the people who learn the truth later: labels posted late, out of order."""
import numpy as np
import pytest

from serving_helpers import Server, data, make_home
from workbench.loadgen import TrafficSimulator, simulate
from workbench.monitoring import Monitor, wait_until_written
from workbench.registry import Registry

pytestmark = pytest.mark.slow


def test_labels_arrive_late_and_give_each_versions_true_accuracy(tmp_path):
    keys = make_home(tmp_path)
    X, y = data()          # iris v1 is right on every row of X, v2 wrong on every row
    with Registry(tmp_path) as reg:
        reg.set_split("iris", "production", {1: 0.5, 2: 0.5})
    with Server(tmp_path) as server:
        result = simulate(server.url, "iris", X, labels=y, key=keys["predictor"], rps=40,
                          duration=3, label_delay=(0.2, 1.5), bad_fraction=0.1, batch_rows=2,
                          random_state=1)
    good = result.by_kind.get("good", 0)
    assert result.statuses.get(200) == good and good > 20
    # every answered good request's two rows got their label, and the service matched them all
    assert result.labels_sent == result.labels_matched == 2 * good
    assert f"labels sent {2 * good}, matched {2 * good}" in str(result)
    wait_until_written(tmp_path)
    monitor = Monitor(tmp_path)
    try:
        report = monitor.quality("iris")
    finally:
        monitor.close()
    v1, v2 = report.get(1), report.get(2)
    assert v1.labelled_rows + v2.labelled_rows == 2 * good
    assert v1.labelled_rows > 0 and v2.labelled_rows > 0
    assert (v1.accuracy, v2.accuracy) == (1.0, 0.0)


def test_labels_must_fit_the_rows():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="one entry per row of X"):
        TrafficSimulator("http://127.0.0.1:9", "m", X, labels=[0, 1])
    with pytest.raises(ValueError, match="label_delay"):
        TrafficSimulator("http://127.0.0.1:9", "m", X, labels=[0] * 5, label_delay=(3, 1))
