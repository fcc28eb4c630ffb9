"""Many nodes on one PostgreSQL store: two server processes (as two nodes would run them) share
registry, keys and prediction log; alias moves and key revocations reach both within a second;
zero failed requests while the alias flips under load. Plus the store URL on the command line
and the warning for SQLite on a network file system."""
import threading
import time

import httpx
import numpy as np
import pytest
from serving_helpers import Server, auth, data, make_home, v2_body, wait_for

from workbench.cli import main as workbench_main
from workbench.monitoring import read_predictions
from workbench.registry import Registry
from workbench.serving.keys import KeyStore
from workbench.store import Store, redact, resolve_url
from workbench.store.netfs import (
    NetworkFileSystemWarning,
    filesystem_type,
    warn_if_network,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLIENTS, SECONDS, FLIPS = 8, 10.0, 10


@pytest.fixture
def shared(tmp_path, postgres_url, monkeypatch):
    """A home whose registry and keys live in PostgreSQL, served by two server processes."""
    monkeypatch.setenv("WORKBENCH_STORE", postgres_url)
    keys = make_home(tmp_path)
    monkeypatch.delenv("WORKBENCH_STORE")      # the servers get the URL from --store
    with Server(tmp_path, "--store", postgres_url) as one, \
            Server(tmp_path, "--store", postgres_url) as two:
        yield tmp_path, postgres_url, keys, (one, two)


def _version(server, key, body):
    answer = httpx.post(server.url + "/v2/models/iris/infer", json=body, headers=auth(key))
    return int(answer.json()["model_version"]) if answer.status_code == 200 else answer.status_code


def test_nothing_of_the_store_is_in_sqlite_files(shared):
    home, _, _, servers = shared
    assert not (home / "registry.db").exists() and not (home / "predictions.db").exists()
    assert all("store=postgresql://127.0.0.1" in s.logs() and "workbench@" not in s.logs()
               for s in servers)


def test_an_alias_move_and_a_revocation_reach_both_servers_within_a_second(shared):
    home, url, keys, servers = shared
    body = v2_body(data(2)[0])
    assert [_version(s, keys["predictor"], body) for s in servers] == [1, 1]
    for server in servers:      # v2 in memory already: what is timed is the move, not a load
        assert httpx.post(server.url + "/v2/models/iris/versions/2/infer", json=body,
                          headers=auth(keys["predictor"])).status_code == 200
    with Registry(home, store=url) as reg:
        reg.set_alias("iris", "production", 2)
    # within a second (the servers poll the store's generation every 0.2 s)
    assert wait_for(lambda: [_version(s, keys["predictor"], body) for s in servers] == [2, 2],
                    timeout=1.0, interval=0.02)
    store = KeyStore(home, store=url)
    store.revoke("predictor-key")
    store.close()
    assert wait_for(lambda: [_version(s, keys["predictor"], body) for s in servers] == [401, 401],
                    timeout=1.0, interval=0.02)


def test_no_failed_request_while_the_alias_flips_under_load_on_two_servers(shared):
    home, url, keys, servers = shared
    X, _ = data(3)
    body = v2_body(X)
    with Registry(home, store=url) as reg:
        expected = {v: np.asarray(reg.load("iris", version=v).predict(X)).tolist() for v in (1, 2)}
    stop = threading.Event()
    failures, seen, wrong = [], [], []

    def client(server):
        with httpx.Client(base_url=server.url, headers=auth(keys["predictor"]), timeout=30) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/v2/models/iris/infer", json=body)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                content = answer.json()
                version = int(content["model_version"])
                seen.append((server.port, version))
                if content["outputs"][0]["data"] != expected[version]:
                    wrong.append(content)

    threads = [threading.Thread(target=client, args=(servers[i % 2],)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    maintainer = httpx.Client(headers=auth(keys["maintainer"]), timeout=30)
    registry = Registry(home, store=url)
    try:
        for flip in range(FLIPS):
            time.sleep(SECONDS / (FLIPS + 1))
            target = 2 if flip % 2 == 0 else 1
            if flip % 2 == 0:          # from Python, a third process's view of the store
                registry.set_alias("iris", "production", target)
            else:                      # through one server or the other
                server = servers[(flip // 2) % 2]
                answer = maintainer.put(server.url + "/v2/models/iris/aliases/production",
                                        json={"version": target})
                assert answer.status_code == 200, answer.text
        time.sleep(SECONDS / (FLIPS + 1))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        maintainer.close()
        registry.close()
    assert failures == []
    assert wrong == []
    assert {v for _, v in seen} == {1, 2}
    assert {p for p, _ in seen} == {s.port for s in servers}
    final = 1 if (FLIPS - 1) % 2 else 2
    assert wait_for(lambda: [_version(s, keys["predictor"], body) for s in servers] == [final] * 2)
    # both servers log to the one store: every answered request is there
    assert wait_for(lambda: len(read_predictions(home, store=url, model="iris")) >= len(seen),
                    timeout=20)


def test_the_command_line_takes_a_store_url(tmp_path, postgres_url, capsys):
    with Registry(tmp_path, store=postgres_url) as reg:
        from registry_fakes import FakeModel

        reg.register("cli-model", FakeModel())
    assert workbench_main(["registry", "list", "--home", str(tmp_path), "--store",
                           postgres_url]) == 0
    assert "cli-model" in capsys.readouterr().out
    assert workbench_main(["keys", "create", "--role", "viewer", "--name", "app", "--home",
                           str(tmp_path), "--store", postgres_url]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert KeyStore(tmp_path, store=postgres_url).authenticate(key).role == "viewer"
    assert not (tmp_path / "registry.db").exists()
    assert workbench_main(["registry", "list", "--home", str(tmp_path), "--store",
                           "mysql://x@y/z"]) == 1
    assert "postgresql://" in capsys.readouterr().err


def test_store_urls_are_checked_and_redacted():
    assert resolve_url("postgres://u:secret@h:5/db") == "postgres://u:secret@h:5/db"
    assert redact("postgresql://u:secret@h:5/db") == "postgresql://h:5/db"
    assert "secret" not in repr(Store("/tmp", "postgresql://u:secret@h/db"))
    for bad in ("mysql://u@h/db", "h/db", "file:///x"):
        with pytest.raises(ValueError, match="postgresql://"):
            resolve_url(bad)


MOUNTS = """sysfs /sys sysfs rw 0 0
/dev/vda1 / ext4 rw,relatime 0 0
server:/export /mnt/shared nfs4 rw,relatime 0 0
//nas/models /mnt/smb cifs rw 0 0
me@host:/data /mnt/ssh fuse.sshfs rw 0 0
"""


@pytest.mark.parametrize("path, kind, network", [
    ("/home/me/wb/registry.db", "ext4", False),
    ("/mnt/shared/wb/registry.db", "nfs4", True),
    ("/mnt/shared", "nfs4", True),
    ("/mnt/sharedother/registry.db", "ext4", False),
    ("/mnt/smb/home/registry.db", "cifs", True),
    ("/mnt/ssh/x/predictions.db", "fuse.sshfs", True),
])
def test_sqlite_on_a_network_file_system_warns(path, kind, network, recwarn):
    assert filesystem_type(path, MOUNTS) == kind
    assert warn_if_network(path + "/registry.db", MOUNTS) is network
    warned = [w for w in recwarn if issubclass(w.category, NetworkFileSystemWarning)]
    assert bool(warned) is network
    if network:
        assert "PostgreSQL" in str(warned[0].message) and "--store" in str(warned[0].message)


def test_opening_a_sqlite_home_checks_its_file_system(tmp_path, monkeypatch):
    from workbench.store import netfs

    seen = []
    monkeypatch.setattr(netfs, "filesystem_type", lambda path, mounts=None: seen.append(path) or "nfs")
    with pytest.warns(NetworkFileSystemWarning, match="network file system"):
        Registry(tmp_path / "on-nfs").close()
    assert seen and str(seen[0]).startswith(str(tmp_path))


def test_a_killed_connection_is_opened_again(tmp_path, postgres_url):
    """A server restart or a killed session breaks the connection: the next call reconnects."""
    import psycopg
    from registry_fakes import FakeModel

    reg = Registry(tmp_path, store=postgres_url)
    reg.register("m", FakeModel(0))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = 'workbench'").fetchone()[0]
    assert killed >= 1
    assert reg.register("m", FakeModel(1)).version == 2
    assert reg.generation() >= 2 and [v.version for v in reg.versions("m")] == [1, 2]
    reg.close()


def test_rows_and_sums_read_back_as_python_numbers(tmp_path, postgres_url):
    with Store(tmp_path, postgres_url) as store:
        tables = store.predictions
        tables.add_rollups(status=[("m", 1, 10, 200, 3, 3, 1.5), ("m", 1, 10, 200, 2, 2, 0.5)])
        (row,) = tables.status_by_version("m", 0, 100)
        assert row == (1, 200, 5, 5) and all(type(v) is int for v in row)
        assert row[2] == 5 and tables.requests_between("m", 0, 100) == 5
        from workbench.store import COMPONENTS

        assert store.schema_versions() == {"predictions": len(COMPONENTS["predictions"][1])}


@pytest.mark.parametrize("environ, action", [({"CI": "true"}, "fail"), ({"CI": "1"}, "fail"),
                                             ({}, "skip"), ({"CI": "false"}, "skip")])
def test_missing_postgresql_fails_under_ci_and_skips_elsewhere(environ, action):
    from postgres_server import when_missing

    assert when_missing(environ) == action


def test_deploy_and_monitor_take_the_store_keyword(tmp_path, postgres_url):
    from workbench.monitoring import Monitor, wait_until_written
    from workbench.serving import deploy

    with Registry(tmp_path, store=postgres_url) as reg:
        from workbench.models import LogisticRegression

        X, y = data()
        reg.register("iris", LogisticRegression().fit(X, y))
    with deploy("iris", home=tmp_path, store=postgres_url, log_inputs=1.0) as ep:
        assert ep.predict(X[:5]).shape == (5,)
        import psutil

        argv = " ".join(psutil.Process(ep.pid).cmdline())
        assert "workbench.serving.server" in argv and "postgresql" not in argv  # not in argv
    assert wait_until_written(tmp_path, store=postgres_url) >= 1
    mon = Monitor(tmp_path, store=postgres_url)
    try:
        health = mon.health("iris", window=600)
        assert health.requests >= 1 and health.live_version == 1
    finally:
        mon.close()
    assert not (tmp_path / "registry.db").exists() and not (tmp_path / "predictions.db").exists()
