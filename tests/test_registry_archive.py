"""Real models through the registry, and export -> import between homes."""
import json
import zipfile

import numpy as np
import pytest
from registry_fakes import FakeModel

from workbench.data import load_dataset, split
from workbench.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor
from workbench.registry import DuplicateVersionError, IntegrityError, InvalidNameError, Registry

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = split(data.X, data.y, random_state=0)
    return X_train / 16.0, X_test / 16.0, y_train, y_test


@pytest.fixture(scope="module")
def mlp(digits):
    X_train, _, y_train, _ = digits
    return MLPClassifier(hidden_layer_sizes=(32,), epochs=15, random_state=0).fit(X_train, y_train)


def test_load_rebuilds_identical_predictions(tmp_path, digits, mlp):
    _, X_test, _, y_test = digits
    reg = Registry(tmp_path)
    mv = reg.register("digits", mlp, metrics={"accuracy": mlp.score(X_test, y_test)},
                      params=mlp.get_params(), reference=digits[0])
    assert mv.signature == mlp.signature() and mv.model_class == "MLPClassifier"
    loaded = reg.load("digits")
    np.testing.assert_array_equal(loaded.forward(X_test.astype(np.float32)),
                                  mlp.forward(X_test.astype(np.float32)))
    np.testing.assert_array_equal(loaded.predict(X_test), mlp.predict(X_test))
    assert reg.reference("digits", 1)["edges"].shape == (64, 11)


@pytest.mark.parametrize("cls, task", [(LinearRegression, "regression"),
                                       (LogisticRegression, "classification"),
                                       (MLPRegressor, "regression")])
def test_every_model_class_round_trips(tmp_path, cls, task):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int) if task == "classification" else X @ [1.0, -2.0, 0.5]
    kwargs = {"epochs": 5, "random_state": 0} if cls is MLPRegressor else {}
    model = cls(**kwargs).fit(X, y)
    reg = Registry(tmp_path)
    reg.register("m", model)
    np.testing.assert_array_equal(reg.load("m").predict(X), model.predict(X))


def test_export_import_into_fresh_home_gives_identical_predictions(tmp_path, digits, mlp,
                                                                  other_store):
    X_train, X_test, _, _ = digits
    src = Registry(tmp_path / "a", author="alice")
    src.register("base", FakeModel(0))
    src.register("digits", FakeModel(1))
    src.register("digits", mlp, metrics={"accuracy": 0.9}, params={"epochs": 15},
                 tags={"data": "digits"}, description="exported", reference=X_train,
                 parent=("base", 1))
    path = src.export("digits", 2, tmp_path / "out" / "digits-v2.zip")
    assert path.is_file()

    dst = Registry(tmp_path / "b", author="bob", store=other_store)
    mv = dst.import_(path)
    assert (mv.name, mv.version) == ("digits", 1)
    assert mv.metrics == {"accuracy": 0.9} and mv.params == {"epochs": 15}
    assert mv.tags == {"data": "digits"} and mv.description == "exported"
    assert mv.parent == ("base", 1) and mv.signature == mlp.signature()
    assert mv.origin["name"] == "digits" and mv.origin["version"] == 2
    assert mv.origin["author"] == "alice" and mv.author == "bob"
    np.testing.assert_array_equal(dst.load("digits").predict(X_test), mlp.predict(X_test))
    np.testing.assert_array_equal(dst.load("digits").forward(X_test.astype(np.float32)),
                                  src.load("digits", 2).forward(X_test.astype(np.float32)))
    np.testing.assert_array_equal(dst.reference("digits", 1)["sample"],
                                  src.reference("digits", 2)["sample"])
    assert [e.action for e in dst.history("digits")] == ["imported"]
    assert dst.verify() == []
    # importing the same archive again adds nothing and says which version holds it; asked
    # for explicitly, a copy takes the next number; under another name it is no duplicate
    with pytest.raises(DuplicateVersionError, match=r"digits v1 already holds this archive "
                                                    r"\(sha256 [0-9a-f]{64}\); nothing imported"):
        dst.import_(path)
    assert [v.version for v in dst.versions("digits")] == [1]
    assert dst.import_(path, allow_duplicate=True).version == 2
    assert dst.import_(path, name="digits-copy").name == "digits-copy"
    assert "imported from" in dst.get_version("digits", 1)._repr_html_()


@pytest.fixture
def archive(tmp_path):
    src = Registry(tmp_path / "src")
    src.register("m", FakeModel(3), metrics={"acc": 0.5})
    return src.export("m", None, tmp_path / "m.zip")


def _rewrite(path, change):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def _flip_blob(members):
    name = next(n for n in members if n.startswith("blobs/"))
    data = bytearray(members[name])
    data[len(data) // 2] ^= 1
    members[name] = bytes(data)


def _manifest(**changes):
    def change(members):
        manifest = json.loads(members["manifest.json"])
        manifest.update(changes)
        members["manifest.json"] = json.dumps(manifest).encode()
    return change


@pytest.mark.parametrize("change, error, words", [
    (_flip_blob, IntegrityError, ["SHA-256"]),
    (lambda m: m.pop(next(n for n in m if n.startswith("blobs/"))), IntegrityError, ["incomplete"]),
    (lambda m: m.pop("manifest.json"), IntegrityError, ["manifest.json"]),
    (lambda m: m.__setitem__("manifest.json", b"{not json"), IntegrityError, ["not valid JSON"]),
    (_manifest(format="something/9"), IntegrityError, ["not a registry archive"]),
    (_manifest(name="Bad Name"), InvalidNameError, ["Bad Name"]),
    (_manifest(sha256="0" * 64), IntegrityError, ["incomplete"]),
])
def test_import_refuses_damaged_archives(tmp_path, archive, change, error, words, other_store):
    _rewrite(archive, change)
    dst = Registry(tmp_path / "dst", store=other_store)
    with pytest.raises(error) as info:
        dst.import_(archive)
    for word in words:
        assert word in str(info.value)
    assert dst.models() == []


def test_import_refuses_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"hello")
    with pytest.raises(IntegrityError, match="not a readable archive"):
        Registry(tmp_path / "dst").import_(path)


def test_import_rename_must_be_valid(tmp_path, archive):
    with pytest.raises(InvalidNameError):
        Registry(tmp_path / "dst").import_(archive, name="NO")


def test_import_takes_signature_and_class_from_the_weights_not_the_manifest(tmp_path, other_store):
    iris = load_dataset("iris")
    src = Registry(tmp_path / "a")
    src.register("iris", MLPClassifier((4,), epochs=2, random_state=0).fit(iris.X, iris.y))
    archive = src.export("iris", 1, tmp_path / "iris.zip")
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(archive) as zin, zipfile.ZipFile(forged, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith(".json"):
                manifest = json.loads(data)
                manifest["signature"] = {**manifest["signature"], "n_features": 7}
                manifest["model_class"] = "LinearRegression"
                data = json.dumps(manifest).encode()
            zout.writestr(item, data)
    dst = Registry(tmp_path / "b", store=other_store)
    with pytest.raises(IntegrityError, match="manifest describes the model"):
        dst.import_(forged)
    assert dst.models() == []
    mv = dst.import_(archive)
    assert mv.signature["n_features"] == 4 and mv.model_class == "MLPClassifier"
    np.testing.assert_array_equal(dst.load("iris").predict(iris.X), src.load("iris").predict(iris.X))


def test_importing_an_archive_into_the_home_it_came_from_is_a_detected_duplicate(tmp_path):
    reg = Registry(tmp_path / "home")
    for target in ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]):    # import rebuilds the model: real ones
        reg.register("m", LinearRegression().fit(np.eye(3), target))
    path = reg.export("m", 1, tmp_path / "m-v1.zip")
    events = len(reg.history("m"))
    with pytest.raises(DuplicateVersionError) as info:
        reg.import_(path)
    assert (info.value.name, info.value.version) == ("m", 1)
    assert str(info.value).startswith(f"m v1 already holds this archive (sha256 "
                                      f"{reg.get_version('m', 1).sha256}); nothing imported")
    assert "--allow-duplicate" in str(info.value)
    assert [v.version for v in reg.versions("m")] == [1, 2] and len(reg.history("m")) == events
    reg.archive("m", 1)                      # an archived version still counts, and is named so
    with pytest.raises(DuplicateVersionError, match=r"m v1 \(archived\) already holds"):
        reg.import_(path)
    copy = reg.import_(path, allow_duplicate=True)
    assert copy.version == 3 and copy.sha256 == reg.get_version("m", 1).sha256
    assert reg.verify() == []
