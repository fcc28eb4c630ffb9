"""Registry core: numbering, loading, aliases, rollback, history, archive, compare, reference."""
import numpy as np
import pytest
from registry_fakes import FakeModel, expected_coef

from workbench.registry import (AliasInUseError, ArchivedVersionError, AuditEvent, ModelVersion,
                                NothingToRollBackError, Registry, VersionNotFoundError,
                                histogram_counts)

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture
def reg(tmp_path):
    return Registry(tmp_path / "home", author="alice")


@pytest.mark.sqlite_only
def test_home_is_created_with_db_and_blobs(tmp_path):
    reg = Registry(tmp_path / "new" / "home")
    assert (tmp_path / "new" / "home" / "registry.db").is_file()
    assert (tmp_path / "new" / "home" / "blobs").is_dir()
    assert reg.models() == []
    assert "Registry(" in repr(reg)


def test_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "envhome"))
    assert Registry().home == (tmp_path / "envhome").resolve()


def test_versions_count_up_per_name(reg):
    assert [reg.register("a", FakeModel(i)).version for i in range(3)] == [1, 2, 3]
    assert reg.register("b", FakeModel(9)).version == 1
    assert reg.models() == ["a", "b"]
    assert [v.version for v in reg.versions("a")] == [1, 2, 3]


def test_register_records_metadata(reg):
    mv = reg.register("m", FakeModel(1), metrics={"acc": 0.9}, params={"lr": 0.1},
                      tags={"team": "x"}, description="first")
    assert isinstance(mv, ModelVersion)
    assert (mv.metrics, mv.params, mv.tags, mv.description) == ({"acc": 0.9}, {"lr": 0.1},
                                                                {"team": "x"}, "first")
    assert mv.author == "alice" and mv.model_class == "FakeModel"
    assert mv.signature["n_features"] == 4
    assert len(mv.sha256) == 64 and (reg.home / "blobs" / mv.sha256).is_file()
    assert reg.get_version("m", 1) == mv


def test_load_spec_round_trip_is_exact(reg):
    reg.register("m", FakeModel(5))
    spec, arrays = reg.load_spec("m")
    assert spec["class"] == "FakeModel" and spec["seed"] == 5
    np.testing.assert_array_equal(arrays["coef"], expected_coef(5))
    assert arrays["steps"].dtype == np.int64


def test_latest_and_resolve(reg):
    for i in range(3):
        reg.register("m", FakeModel(i))
    assert reg.resolve("m") == 3
    reg.set_alias("m", "production", 2)
    assert reg.resolve("m", alias="production") == 2
    assert reg.resolve("m", version=1) == 1
    assert reg.get_version("m", 2).aliases == ("production",)


def test_author_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "bob")
    reg = Registry(tmp_path)
    assert reg.register("m", FakeModel()).author == "bob"
    assert reg.history("m")[0].author == "bob"


def test_rollback_walks_back_several_steps(reg):
    for i in range(4):
        reg.register("m", FakeModel(i))
    for v in (1, 2, 3, 4):
        reg.set_alias("m", "production", v)
    assert reg.aliases("m") == {"production": 4}
    assert reg.rollback("m", "production") == 3
    assert reg.rollback("m", "production") == 2
    assert reg.aliases("m") == {"production": 2}
    reg.set_alias("m", "production", 4)      # a new change is undone first ...
    assert reg.rollback("m", "production") == 2
    assert reg.rollback("m", "production") == 1  # ... then the older history continues
    with pytest.raises(NothingToRollBackError, match="no earlier target"):
        reg.rollback("m", "production")
    assert reg.aliases("m") == {"production": 1}


def test_aliases_are_independent(reg):
    for i in range(3):
        reg.register("m", FakeModel(i))
    reg.set_alias("m", "staging", 3)
    reg.set_alias("m", "production", 1)
    reg.set_alias("m", "production", 2)
    assert reg.rollback("m", "production") == 1
    assert reg.aliases("m") == {"production": 1, "staging": 3}


def test_setting_the_same_target_is_not_a_change(reg):
    reg.register("m", FakeModel())
    reg.set_alias("m", "production", 1)
    gen = reg.generation()
    reg.set_alias("m", "production", 1)
    assert reg.generation() == gen
    with pytest.raises(NothingToRollBackError):
        reg.rollback("m", "production")


def test_history_is_an_audit_log(reg):
    reg.register("m", FakeModel(0))
    reg.register("m", FakeModel(1))
    reg.set_alias("m", "production", 1)
    reg.set_alias("m", "production", 2)
    reg.rollback("m", "production")
    reg.archive("m", 2)
    events = reg.history("m")
    assert all(isinstance(e, AuditEvent) for e in events)
    assert [e.action for e in events] == ["registered", "registered", "aliased", "aliased",
                                          "rolled back", "archived"]
    assert [(e.version, e.previous) for e in events[2:5]] == [(1, None), (2, 1), (1, 2)]
    assert all(e.author == "alice" and e.at > 0 for e in events)
    assert "rolled back" in str(events[4])
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_audit_log_is_append_only(reg):
    reg.register("m", FakeModel())
    from store_helpers import raw_errors, raw_execute

    with pytest.raises(raw_errors(), match="append-only"):
        raw_execute(reg.home, "DELETE FROM audit")
    with pytest.raises(raw_errors(), match="append-only"):
        raw_execute(reg.home, "UPDATE audit SET author = 'mallory'")
    assert [e.author for e in reg.history("m")] != ["mallory"]


def test_archive_hides_from_latest_but_never_reuses_numbers(reg):
    reg.register("m", FakeModel(0))
    reg.register("m", FakeModel(1))
    reg.set_alias("m", "production", 2)
    with pytest.raises(AliasInUseError, match="production"):
        reg.archive("m", 2)
    reg.set_alias("m", "production", 1)
    reg.archive("m", 2)
    assert reg.get_version("m", 2).archived
    assert reg.resolve("m") == 1                       # latest skips archived
    np.testing.assert_array_equal(reg.load_spec("m", 2)[1]["coef"], expected_coef(1))
    assert reg.register("m", FakeModel(2)).version == 3  # 2 is not reused
    with pytest.raises(ArchivedVersionError):
        reg.set_alias("m", "staging", 2)


def test_rollback_passes_over_archived_versions(reg):
    for seed in range(3):
        reg.register("m", FakeModel(seed))
    for version in (1, 2, 3):
        reg.set_alias("m", "production", version)
    reg.archive("m", 2)
    # production: 1 -> 2 -> 3; v2 archived since: rolling back goes to v1, not stuck on v2
    assert reg.rollback("m", "production") == 1 and reg.aliases("m") == {"production": 1}
    event = reg.history("m")[-1]
    assert event.action == "rolled back" and event.detail.get("skipped_archived") == [2]


def test_rollback_with_only_archived_earlier_targets_says_so(reg):
    reg.register("m", FakeModel(0))
    reg.register("m", FakeModel(1))
    reg.set_alias("m", "production", 1)
    reg.set_alias("m", "production", 2)
    reg.archive("m", 1)
    with pytest.raises(NothingToRollBackError, match=r"archived earlier targets passed over: \[1\]"):
        reg.rollback("m", "production")
    assert reg.aliases("m") == {"production": 2}


def test_all_archived_means_no_latest(reg):
    reg.register("m", FakeModel())
    reg.archive("m", 1)
    with pytest.raises(VersionNotFoundError, match="not archived"):
        reg.resolve("m")


def test_generation_grows_with_every_alias_change(reg):
    reg.register("m", FakeModel(0))
    reg.register("m", FakeModel(1))
    seen = [reg.generation()]
    reg.set_alias("m", "production", 1)
    seen.append(reg.generation())
    reg.set_alias("m", "production", 2)
    seen.append(reg.generation())
    reg.rollback("m", "production")
    seen.append(reg.generation())
    assert seen == sorted(set(seen))
    assert Registry(reg.home).generation() == seen[-1]   # visible to other connections


def test_compare(reg):
    reg.register("m", FakeModel(0), metrics={"acc": 0.8, "loss": 0.5}, params={"lr": 0.1, "n": 1})
    reg.register("m", FakeModel(1), metrics={"acc": 0.9, "f1": 0.7}, params={"lr": 0.2, "n": 1})
    cmp = reg.compare("m", 1, 2)
    assert cmp.metrics == {"acc": (0.8, 0.9), "loss": (0.5, None), "f1": (None, 0.7)}
    assert cmp.delta("acc") == pytest.approx(0.1) and cmp.delta("loss") is None
    assert cmp.params == {"lr": (0.1, 0.2)}
    assert cmp.same_signature
    assert "v1" in cmp._repr_html_() and "acc" in cmp._repr_html_()


def test_parent_is_lineage(reg):
    first = reg.register("base", FakeModel(0))
    child = reg.register("tuned", FakeModel(1), parent=first)
    assert child.parent == ("base", 1)
    assert reg.register("tuned", FakeModel(2), parent=("tuned", 1)).parent == ("tuned", 1)


def test_model_card_html(reg):
    reg.register("m", FakeModel(0), metrics={"accuracy": 0.97}, params={"lr": 0.01},
                 description="a <b>bold</b> claim")
    reg.set_alias("m", "production", 1)
    html = reg.get_version("m", 1)._repr_html_()
    for text in ("accuracy", "0.97", "lr", "production", "alice", "regression", "FakeModel"):
        assert text in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;" in html      # escaped
    assert "m v1" in repr(reg.get_version("m", 1))


def test_reference_statistics(reg):
    X = np.random.default_rng(0).normal(size=(2500, 4))
    reg.register("m", FakeModel(), reference=X)
    ref = reg.reference("m", 1)
    assert ref["feature_names"] == ["x0", "x1", "x2", "x3"]
    assert ref["edges"].shape == (4, 11) and ref["counts"].shape == (4, 10)
    assert np.all(np.diff(ref["edges"], axis=1) >= 0)
    np.testing.assert_array_equal(ref["counts"].sum(axis=1), [2500] * 4)
    np.testing.assert_array_equal(ref["counts"], histogram_counts(X, ref["edges"]))
    np.testing.assert_allclose(ref["quantiles"][4], np.median(X, axis=0))
    assert ref["sample"].shape == (1000, 4)
    rows = {tuple(r) for r in X}
    assert all(tuple(r) in rows for r in ref["sample"])          # real rows, no duplicates
    assert len({tuple(r) for r in ref["sample"]}) == 1000
    again = Registry(reg.home).register("m", FakeModel(), reference=X)
    np.testing.assert_array_equal(reg.reference("m", again.version)["sample"], ref["sample"])
    assert reg.get_version("m", 1).reference_sha256 == again.reference_sha256


def test_reference_small_data_keeps_all_rows_and_none_without(reg):
    X = np.arange(12.0).reshape(3, 4)
    reg.register("m", FakeModel(), reference=X)
    np.testing.assert_array_equal(reg.reference("m", 1)["sample"], X)
    reg.register("m", FakeModel())
    assert reg.reference("m", 2) is None


def test_histogram_counts_clamps_outside_values():
    edges = np.array([[0.0, 1.0, 2.0, 3.0]])
    counts = histogram_counts(np.array([[-5.0], [0.5], [1.0], [2.9], [99.0]]), edges)
    np.testing.assert_array_equal(counts, [[3, 0, 2]])  # bins closed on the right: 1.0 in the first


def test_histogram_counts_keep_discrete_values_apart():
    # a 0/1 feature that is 0 in 90 % of rows: every inner decile edge is 0
    edges = np.array([[0.0] * 10 + [1.0]])
    counts = histogram_counts(np.array([[0.0]] * 9 + [[1.0]]), edges)
    assert counts[0, 0] == 9 and counts[0, -1] == 1 and counts.sum() == 10


def _family_model(kind):
    from workbench.data import load_dataset
    from workbench.models import LogisticRegression, RandomForestClassifier
    from workbench.onnx import export_onnx

    data = load_dataset("iris")
    if kind == "forest":
        return RandomForestClassifier(n_estimators=4, random_state=0).fit(data.X, data.y), data.X
    return export_onnx(LogisticRegression(epochs=20, random_state=0).fit(data.X, data.y)), data.X


@pytest.mark.parametrize("kind", ["forest", "onnx"])
def test_forest_and_onnx_round_trip_through_register_archive_and_import(tmp_path, reg, kind,
                                                                         other_store):
    model, X = _family_model(kind)
    mv = reg.register_onnx("m", model) if kind == "onnx" else reg.register("m", model)
    assert mv.signature["task"] == "classification" and mv.signature["classes"] == [0, 1, 2]
    loaded = reg.load("m")
    expected = loaded.predict_proba(X)
    if kind == "forest":
        np.testing.assert_array_equal(expected, model.predict_proba(X))
    archive = reg.export("m", None, tmp_path / "m.wbm")
    other = Registry(tmp_path / "other", author="bob", store=other_store)   # another home
    imported = other.import_(archive)
    assert imported.sha256 == mv.sha256 and imported.model_class == mv.model_class
    np.testing.assert_array_equal(other.load("m").predict_proba(X), expected)
    assert reg.verify() == [] and other.verify() == []


def test_feature_names_given_at_registration_name_the_signature_and_the_reference(reg):
    names = ["petal", "sepal", "stem", "leaf"]
    X = np.random.default_rng(0).normal(size=(50, 4))
    v = reg.register("named", FakeModel(0), reference=X, feature_names=names)
    assert v.signature["feature_names"] == names
    assert list(reg.reference("named", v.version)["feature_names"]) == names
    plain = reg.register("named", FakeModel(1), reference=X)
    assert list(reg.reference("named", plain.version)["feature_names"]) == ["x0", "x1", "x2", "x3"]


@pytest.mark.parametrize("names, said", [
    (["a", "b", "c"], "3 feature names for a model that takes 4 features"),
    (["a", "b", "c", "c"], "duplicates"),
    ("abcd", "a list of non-empty strings"),
    (["a", "b", "", "d"], "a list of non-empty strings"),
    ([1, 2, 3, 4], "a list of non-empty strings"),
    (42, "a list of non-empty strings"),
    (lambda: (f for f in "abc"), "3 feature names for a model that takes 4"),   # a generator
])
def test_bad_feature_names_are_refused_before_anything_is_stored(reg, names, said):
    with pytest.raises(ValueError, match=said):
        reg.register("named", FakeModel(0), feature_names=names() if callable(names) else names)
    assert "named" not in reg.models()
