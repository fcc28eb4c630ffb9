"""The closed loop against a real server (uvicorn, SQLite files on disk): feedback labels joined
exactly, automatic rollouts decided by the server's own controller (abort on errors, abort on
latency, promote an equal candidate), decisions audited and delivered to a real webhook
receiver, replay of the logged traffic."""
import json
import math
import re
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_helpers import Server, auth, data, make_home, v2_body
from webhook_receiver import Receiver

from workbench.models import LogisticRegression, MLPClassifier
from workbench.monitoring import Monitor
from workbench.loadgen.replay import replay
from workbench.monitoring.sampling import set_input_fraction
from workbench.monitoring.webhooks import verify_signature
from workbench.registry import Registry
from workbench.rollout import RolloutController, RolloutPolicy
from workbench.rollout.state import load_state

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SECRET = "test-hook-secret"
POLICY = RolloutPolicy(steps=(10, 50, 100), min_samples=40, min_test_samples=20, alpha=0.05)
BURST = 50
#: stated bound (docs/CONTRACTS.md): requests sent before a broken or slow candidate is rolled back
ROLLBACK_WITHIN = 1000


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """iris v1 (production), v2 (opposite answers), v3 (takes 3 features: every request of 4
    fails), v4 (= v1), v5 (a wide MLP: slower); every input logged; a webhook receiver."""
    home = tmp_path_factory.mktemp("loop-home")
    keys = make_home(home)
    X, y = data()
    with Registry(home) as reg:
        reg.register("iris", LogisticRegression().fit(X[:, :3], y), reference=X[:, :3])
        reg.register("iris", LogisticRegression().fit(X, y), reference=X)
        reg.register("iris", MLPClassifier((2000, 2000), epochs=1, dtype="float64",
                                           random_state=0).fit(X, y))
    set_input_fraction(home, "iris", 1.0)
    with Receiver() as receiver:
        (home / "alerts.json").write_text(json.dumps({
            "rules": [{"name": "accuracy low", "metric": "accuracy", "threshold": 0.5}],
            "webhooks": [{"url": receiver.url, "secret": SECRET, "backoff_s": 0.05}]}))
        with Server(home) as server:
            yield home, server, keys, receiver


def infer(server, key, X, rid, http=httpx):
    return http.post(f"{server.url}/v2/models/iris/infer", json=v2_body(X, id=rid),
                     headers=auth(key), timeout=10)


def test_feedback_late_and_out_of_order_gives_the_exact_accuracy(service):
    home, server, keys, _ = service
    rng = np.random.default_rng(0)
    X, _ = data(200, seed=5)
    served, start = {}, time.time()
    for i in range(40):
        rows = X[rng.integers(0, len(X), 1 + i % 3)]
        r = infer(server, keys["predictor"], rows, f"q-{i}")
        assert r.status_code == 200 and r.json()["model_version"] == "1"
        served[f"q-{i}"] = r.json()["outputs"][0]["data"]
    truth = {rid: [int(v) for v in rng.integers(0, 2, len(labels))] for rid, labels in served.items()}
    ids = list(truth)
    rng.shuffle(ids)
    def post(body):
        return httpx.post(f"{server.url}/v2/models/iris/feedback", json=body,
                          headers=auth(keys["predictor"]), timeout=10)
    # first: wrong labels for a third of the requests (to be replaced), and two unknown ids
    first = [{"id": rid, "labels": [1 - v for v in truth[rid]]} for rid in ids[:13]]
    r = post({"feedback": first + [{"id": "nope", "labels": [1]}, {"id": "q-x", "labels": [0]}]})
    assert r.status_code == 200 and r.json()["unknown"] == ["nope", "q-x"]
    assert r.json()["matched"] == sum(len(truth[rid]) for rid in ids[:13])
    for chunk in (ids[20:], ids[:20]):          # out of order; the first 13 are replaced
        r = post({"feedback": [{"id": rid, "labels": truth[rid]} for rid in chunk]})
        assert r.status_code == 200 and r.json() == {
            "matched": sum(len(truth[rid]) for rid in chunk), "unknown": []}
    # a partial label by row index replaces one row only (same value: nothing changes)
    r = post({"feedback": [{"id": "q-5", "rows": [len(truth["q-5"]) - 1],
                            "labels": [truth["q-5"][-1]]}]})
    assert r.json() == {"matched": 1, "unknown": []}
    hits = sum(int(p == t) for rid in truth for p, t in zip(served[rid], truth[rid]))
    n_rows = sum(len(v) for v in truth.values())
    q = quality(home, since=start).get(1)
    assert q.labelled_rows == n_rows == q.served_rows and q.labelled_fraction == 1.0
    assert q.accuracy == hits / n_rows                   # exactly the hand-computed join
    assert q.accuracy_ci[0] <= q.accuracy <= q.accuracy_ci[1]
    assert 0 <= q.macro_f1 <= 1
    # the accuracy alert (threshold 0.5) reads the same figure
    mon = Monitor(home)
    try:
        assert mon.quality_values("iris", window=600, now=time.time())["accuracy"] == hits / n_rows
    finally:
        mon.close()


def quality(home, since):
    mon = Monitor(home)
    try:
        return mon.quality("iris", window=time.time() - since + 1)
    finally:
        mon.close()


@pytest.mark.parametrize("body, status, needle", [
    ({"feedback": [{"id": "q-1", "labels": [1, 0, 1, 0, 1]}]}, 422, "label(s)"),
    ({"feedback": [{"id": "q-1", "labels": [None]}]}, 422, "number or a string"),
    ({"feedback": [{"id": "q-1", "labels": [float("inf")]}]}, 422, None),
    ({"feedback": [{"id": "q-1", "rows": [7], "labels": [1]}]}, 422, "row 7"),
    ({"feedback": [{"id": "q-1", "rows": [0, 0], "labels": [1, 1]}]}, 422, "twice"),
    ({"feedback": [{"id": 3, "labels": [1]}]}, 422, "id"),
    ({"feedback": [{"id": "q-1", "labels": []}]}, 422, "non-empty"),
    ({"feedback": [{"id": "q-1", "labels": [1], "extra": 1}]}, 422, "unknown field"),
    ({"labels": [1]}, 422, "feedback"),
    ([1, 2], 422, "feedback"),
])
def test_bad_feedback_is_refused_and_nothing_is_stored(service, body, status, needle):
    home, server, keys, _ = service
    before = quality(home, since=0).get(1).labelled_rows
    content = json.dumps(body, allow_nan=True)
    r = httpx.post(f"{server.url}/v2/models/iris/feedback", content=content,
                   headers=auth(keys["predictor"]) | {"content-type": "application/json"})
    assert r.status_code in ((status, 400) if needle is None else (status,)), r.text
    assert "error" in r.json() and (needle is None or needle in r.json()["error"])
    assert quality(home, since=0).get(1).labelled_rows == before


def test_feedback_needs_a_predictor_key_and_a_known_model(service):
    _, server, keys, _ = service
    body = {"feedback": [{"id": "q-1", "labels": [1]}]}
    url = f"{server.url}/v2/models/iris/feedback"
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers=auth(keys["viewer"])).status_code == 403
    r = httpx.post(f"{server.url}/v2/models/nosuch/feedback", json=body,
                   headers=auth(keys["predictor"]))
    assert r.status_code == 404 and "error" in r.json()


def test_feedback_cli_posts_a_csv(service, tmp_path):
    _, server, keys, _ = service
    r = infer(server, keys["predictor"], data(2, seed=9)[0], "csv-1")
    labels = r.json()["outputs"][0]["data"]
    path = tmp_path / "labels.csv"
    path.write_text("id,row,label\n" + "".join(f"csv-1,{i},{v}\n" for i, v in
                                               enumerate(labels)) + "ghost,0,1\n")
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "feedback", "iris", "--file",
                          str(path), "--url", server.url, "--key", keys["predictor"]],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"matched": 2, "unknown": ["ghost"]}


def test_replay_agrees_with_the_serving_version_and_matches_an_offline_comparison(service):
    home, server, keys, _ = service
    X, _ = data(60, seed=21)
    start = time.time()
    for i in range(0, 60, 3):
        assert infer(server, keys["predictor"], X[i:i + 3], f"rp-{i}").status_code == 200
    httpx.post(f"{server.url}/v2/models/iris/feedback", json={"feedback": []},
               headers=auth(keys["predictor"]))      # flushes the log writer
    same = replay(home, "iris", 1, since=start)
    assert same.requests == 20 and same.rows == 60 and same.agreement == 1.0
    assert same.served_by == {1: 20}
    other = replay(home, "iris", 2, since=start)
    with Registry(home) as reg:
        offline = np.mean(reg.load("iris", version=1).predict(X) == reg.load("iris", version=2).predict(X))
    assert other.agreement == pytest.approx(offline)
    assert other.differences["disagreeing_rows"] == round((1 - offline) * 60)
    via_http = replay(home, "iris", 2, since=start, until=time.time(), url=server.url,
                      key=keys["predictor"])
    assert via_http.agreement == other.agreement and via_http.target == server.url


def drive(home, server, key, model="iris", max_requests=4000):
    """Send bursts of traffic; after each, wait until the server's controller has looked at
    what the burst logged. Return (final state, requests sent)."""
    sent, http = 0, httpx.Client()
    rng = np.random.default_rng(1)
    X, _ = data(200, seed=3)
    try:
        while sent < max_requests:
            for _ in range(BURST):
                infer(server, key, X[rng.integers(0, len(X), 1)], f"ro-{sent}", http)
                sent += 1
            burst_end = time.time()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                state = load_state(home, model)
                if not state.running or state.updated > burst_end + 0.3:
                    break
                time.sleep(0.05)
            if not state.running:
                return state, sent
        return load_state(home, model), sent
    finally:
        http.close()


def rollout_events(home, started_at):
    with Registry(home) as reg:
        return [e for e in reg.history("iris") if e.action.startswith("rollout")
                and e.at >= started_at]


def check_rolled_back(home, state, sent, needle):
    assert state.state == "aborted", state.describe()
    assert needle in state.last_decision["reason"]
    assert sent <= ROLLBACK_WITHIN
    with Registry(home) as reg:
        route = reg.route("iris", "production")
    assert route.version == 1 and not route.is_split
    events = rollout_events(home, state.started)
    assert events[0].action == "rollout started" and events[-1].action == "rollout aborted"
    evidence = events[-1].detail["evidence"]
    assert evidence["samples"]["candidate"] >= POLICY.min_test_samples
    return evidence


def test_candidate_that_fails_is_aborted_and_production_rolls_back(service):
    home, server, keys, receiver = service
    with RolloutController(home) as ctl:
        ctl.start("iris", to=3, policy=POLICY)
    state, sent = drive(home, server, keys["predictor"])
    evidence = check_rolled_back(home, state, sent, "error rate")
    test = evidence["error rate"]
    assert test["effect"] > 0.5 and test["ci_low"] > 0 and test["p_value"] < POLICY.alpha
    # the decision was delivered, signed, to the webhook receiver
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            e.get("outcome") == "aborted" for e in receiver.events("rollout")):
        time.sleep(0.05)
    hook = next(r for r in receiver.received if r["json"].get("outcome") == "aborted")
    assert verify_signature(SECRET, hook["body"], hook["headers"]["x-workbench-timestamp"],
                            hook["headers"]["x-workbench-signature"])
    assert hook["json"]["evidence"]["error rate"]["effect"] == test["effect"]


def test_slower_candidate_is_aborted_and_production_rolls_back(service):
    home, server, keys, _ = service
    with RolloutController(home) as ctl:
        ctl.start("iris", to=5, policy=POLICY)
    state, sent = drive(home, server, keys["predictor"])
    evidence = check_rolled_back(home, state, sent, "latency")
    assert evidence["latency"]["effect"] > math.log1p(POLICY.max_slowdown)
    # the decision rests on the mean log-latency (above); a p99 from a few hundred requests on a
    # shared machine can land either way, so it is only checked to be recorded for both arms
    assert evidence["p99_ms"]["candidate"] > 0 and evidence["p99_ms"]["baseline"] > 0


def test_equal_candidate_is_promoted_to_100_percent(service):
    home, server, keys, _ = service
    with RolloutController(home) as ctl:
        ctl.start("iris", to=4, policy=POLICY)
        assert ctl.status("iris").weight == 10
    state, _ = drive(home, server, keys["predictor"])
    assert state.state == "promoted" and state.weight == 100, state.describe()
    with Registry(home) as reg:
        route = reg.route("iris", "production")
        assert route.version == 4 and not route.is_split
        reg.set_alias("iris", "production", 1)
    actions = [e.action for e in rollout_events(home, state.started)]
    assert actions == ["rollout started", "rollout advanced", "rollout promoted"]
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "rollout", "status", "iris",
                          "--home", str(home)], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["state"] == "promoted"


def test_two_workers_one_controller_acts(tmp_path):
    """Both uvicorn workers run the controller loop; the lease lets exactly one act: every
    decision is audited once and the rollout ends promoted."""
    keys = make_home(tmp_path)
    X, y = data()
    with Registry(tmp_path) as reg:
        reg.register("iris", LogisticRegression().fit(X, y))           # v3 = v1
    with Server(tmp_path, "--workers", "2") as server:
        with RolloutController(tmp_path) as ctl:
            ctl.start("iris", to=3, policy=POLICY)
        state, _ = drive(tmp_path, server, keys["predictor"])
    assert state.state == "promoted", state.describe()
    actions = [e.action for e in rollout_events(tmp_path, state.started)]
    assert actions == ["rollout started", "rollout advanced", "rollout promoted"]
    acted = re.findall(r"workbench\.rollout \[(\d+)\] rollout iris", server.logs())
    assert len(acted) == 2 and len(set(acted)) == 1         # one worker made both decisions
    assert len(set(re.findall(r"\[(\d+)\]", server.logs()))) >= 2   # and two workers ran


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["feedback", "id", "labels", "rows"]), inner, max_size=3),
    max_leaves=12))
def test_feedback_route_fuzz_never_answers_5xx(service, body):
    _, server, keys, _ = service
    r = httpx.post(f"{server.url}/v2/models/iris/feedback", headers=auth(keys["predictor"]) |
                   {"content-type": "application/json"}, content=json.dumps(body), timeout=10)
    assert r.status_code in (200, 400, 422), r.text
    assert r.status_code == 200 or "error" in r.json()
