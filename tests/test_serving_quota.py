"""Quotas: the token bucket and daily row budget of :mod:`workbench.serving.quota` (with a fake
clock), and against a real two-worker server: 16 concurrent clients on one key limited to 20
requests/s for 10 s get ``20 × 10 + burst`` answers (± 10 %), the rest 429 with Retry-After,
while other keys are unaffected. The burst (2 s of requests) lets the bucket ride out a stall of
the server on a busy shared machine without losing tokens it would have refilled."""
import threading
import time

import httpx
import pytest
from serving_helpers import Server, auth, data, make_home, v2_body

from workbench.serving.key_options import (
    check_limits,
    parse_duration,
    parse_expiry,
    parse_rate,
)
from workbench.serving.keys import KeyStore
from workbench.serving.quota import QuotaExceeded, QuotaStore

BODY = v2_body(data(1)[0])


def test_token_bucket_admits_burst_then_rate(tmp_path, store_backend):
    quotas = QuotaStore(tmp_path)
    admitted = 0
    for i in range(300):                       # 100 s of requests every 1/3 s at 1 request/s
        try:
            quotas.take("k", rate=1.0, burst=5, now=i / 3)
            admitted += 1
        except QuotaExceeded as exc:
            assert exc.retry_after >= 1
    assert admitted == 5 + 99                  # the burst, then one per second after the first
    quotas.close()


def test_bucket_state_is_shared_between_connections(tmp_path, store_backend):
    a, b = QuotaStore(tmp_path), QuotaStore(tmp_path)
    a.take("k", rate=0.001, burst=2, now=0.0)
    b.take("k", rate=0.001, burst=2, now=0.0)
    with pytest.raises(QuotaExceeded) as refused:
        a.take("k", rate=0.001, burst=2, now=0.0)
    assert refused.value.retry_after == 1000
    b.take("other", rate=0.001, burst=2, now=0.0)      # another key has its own bucket
    a.close(), b.close()


def test_daily_rows_renew_at_midnight_utc(tmp_path, store_backend):
    quotas = QuotaStore(tmp_path)
    noon = 20_000 * 86400 + 43200.0
    quotas.charge_rows("k", 60, daily_rows=100, now=noon)
    with pytest.raises(QuotaExceeded) as refused:
        quotas.charge_rows("k", 41, daily_rows=100, now=noon + 1)
    assert refused.value.retry_after == 43199
    quotas.charge_rows("k", 40, daily_rows=100, now=noon + 2)      # exactly the budget
    assert quotas.usage_today("k", now=noon + 3) == 100
    quotas.charge_rows("k", 100, daily_rows=100, now=noon + 43200)  # the next day
    assert quotas.usage_today("k", now=noon + 43201) == 100
    quotas.close()


@pytest.mark.parametrize("text, rate", [("50/s", 50.0), ("120/min", 2.0), ("3600/h", 1.0),
                                        ("20", 20.0), (0.5, 0.5)])
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("call, message", [
    (lambda: parse_rate("fast"), "starts with a number"),
    (lambda: parse_rate("5/fortnight"), "per s, min"),
    (lambda: parse_rate("-1/s"), "positive"),
    (lambda: parse_rate("nan"), "positive"),
    (lambda: check_limits(None, 5, None), "--burst needs --rate"),
    (lambda: check_limits("1/s", 0, None), "burst must be"),
    (lambda: check_limits(None, None, -3), "daily rows"),
    (lambda: parse_duration("soon"), "duration"),
    (lambda: parse_expiry("2027-01-31"), "time zone"),
    (lambda: parse_expiry("tomorrow"), "ISO 8601"),
    (lambda: parse_expiry("2027-01-31T00:00:00Z", "3d"), "not both"),
])
def test_bad_limits_and_times_are_refused_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_default_burst_is_one_second_of_requests():
    assert check_limits("50/s", None, None) == (50.0, 50, None)
    assert check_limits("10/min", None, 7) == (10 / 60, 1, 7)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    store = KeyStore(home)
    keys["limited"] = store.create("limited", "predictor", rate="20/s", burst=40)
    keys["other"] = store.create("other", "predictor", rate="20/s", burst=10)
    keys["rows"] = store.create("rows", "predictor", daily_rows=10)
    store.close()
    with Server(home, "--workers", "2") as server:
        yield server, keys


@pytest.mark.slow
def test_rate_limit_holds_across_two_workers(two_workers):
    server, keys = two_workers
    seconds, rate, burst = 10.0, 20, 40
    results, others, lock = [], [], threading.Lock()
    window = {}
    ready = threading.Barrier(17, action=lambda: window.update(end=time.monotonic() + seconds))

    def hammer():
        with httpx.Client(base_url=server.url, headers=auth(keys["limited"]), timeout=30) as c:
            # connect first (with an unlimited key), so the window measures the limit only
            c.post("/v2/models/iris/infer", json=BODY, headers=auth(keys["predictor"]))
            ready.wait(timeout=60)
            while time.monotonic() < window["end"]:
                r = c.post("/v2/models/iris/infer", json=BODY)
                with lock:
                    results.append((r.status_code, r.headers.get("retry-after"), r.json()))

    def unaffected():
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while time.monotonic() < window["end"]:
                for name in ("other", "predictor"):
                    r = c.post("/v2/models/iris/infer", json=BODY, headers=auth(keys[name]))
                    others.append((name, r.status_code))
                time.sleep(0.5)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for t in threads:
        t.start()
    ready.wait(timeout=60)
    threads.append(threading.Thread(target=unaffected))
    threads[-1].start()
    for t in threads:
        t.join(timeout=60)
    accepted = sum(1 for status, _, _ in results if status == 200)
    refused = [(r, body) for status, r, body in results if status == 429]
    expected = rate * seconds + burst
    print(f"{len(results)} requests, {accepted} accepted (expected {expected:g}), "
          f"{len(refused)} refused")
    assert {status for status, _, _ in results} <= {200, 429}
    assert len(results) > 2 * expected            # the clients did push beyond the limit
    assert abs(accepted - expected) <= 0.1 * expected
    assert len(refused) == len(results) - accepted
    for retry_after, body in refused:
        assert retry_after is not None and int(retry_after) >= 1
        assert "rate limit of 20 requests/s (burst 40)" in body["error"]
    assert others and all(status == 200 for _, status in others)


@pytest.mark.slow
def test_daily_row_quota_answers_429_until_midnight(two_workers):
    server, keys = two_workers
    three = v2_body(data(3)[0])
    answers = [httpx.post(f"{server.url}/v2/models/iris/infer", json=three, timeout=10,
                          headers=auth(keys["rows"])) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "daily quota of 10 rows" in answers[3].json()["error"]
    retry = int(answers[3].headers["retry-after"])
    assert 1 <= retry <= 86400
    one = v2_body(data(1)[0])                  # one row still fits the budget
    assert httpx.post(f"{server.url}/v2/models/iris/infer", json=one, timeout=10,
                      headers=auth(keys["rows"])).status_code == 200
