"""Every bad input raises a specific RegistryError subclass whose message names the problem."""
import numpy as np
import pytest
from registry_fakes import FakeModel

from workbench.registry import (AliasNotFoundError, IntegrityError, InvalidInputError,
                                InvalidNameError, ModelNotFoundError, NothingToRollBackError,
                                Registry, RegistryError, VersionNotFoundError)

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "home")
    r.register("m", FakeModel(0))
    r.register("m", FakeModel(1))
    r.set_alias("m", "production", 1)
    return r


BAD_NAMES = ["", "Upper", "has space", "x" * 65, "slash/name", "ümlaut", "semi;colon", None, 3]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_model_names(reg, bad):
    with pytest.raises(InvalidNameError) as info:
        reg.register(bad, FakeModel())
    message = str(info.value)
    assert "lower-case letters" in message and "1-64" in message and repr(bad) in message


@pytest.mark.parametrize("bad", ["Prod", "has space", "", "p" * 65])
def test_bad_alias_names(reg, bad):
    with pytest.raises(InvalidNameError, match="alias name"):
        reg.set_alias("m", bad, 1)


@pytest.mark.parametrize("good", ["a", "digits-mlp", "model_2.1", "x" * 64, "0"])
def test_good_names(reg, good):
    assert reg.register(good, FakeModel()).name == good


CASES = [
    # (call, expected error, words the message must contain)
    (lambda r: r.load_spec("nope"), ModelNotFoundError, ["nope", "known models: m"]),
    (lambda r: r.get_version("m", 7), VersionNotFoundError, ["no version 7", "1 to 2"]),
    (lambda r: r.get_version("m", alias="staging"), AliasNotFoundError, ["staging", "production"]),
    (lambda r: r.rollback("m", "staging"), AliasNotFoundError, ["staging"]),
    (lambda r: r.rollback("m", "production"), NothingToRollBackError, ["no earlier target"]),
    (lambda r: r.set_alias("m", "production", 9), VersionNotFoundError, ["no version 9"]),
    (lambda r: r.set_alias("nope", "production", 1), ModelNotFoundError, ["nope"]),
    (lambda r: r.archive("m", 5), VersionNotFoundError, ["no version 5"]),
    (lambda r: r.history("nope"), ModelNotFoundError, ["nope"]),
    (lambda r: r.versions("nope"), ModelNotFoundError, ["nope"]),
    (lambda r: r.aliases("nope"), ModelNotFoundError, ["nope"]),
    (lambda r: r.compare("m", 1, 3), VersionNotFoundError, ["no version 3"]),
    (lambda r: r.get_version("m", 0), InvalidInputError, ["positive integer", "0"]),
    (lambda r: r.get_version("m", 1.5), InvalidInputError, ["positive integer", "1.5"]),
    (lambda r: r.get_version("m", True), InvalidInputError, ["positive integer"]),
    (lambda r: r.get_version("m", "1"), InvalidInputError, ["positive integer"]),
    (lambda r: r.get_version("m", 1, alias="production"), InvalidInputError, ["not both"]),
    (lambda r: r.register("m", object()), InvalidInputError, ["to_spec", "object"]),
    (lambda r: r.register("m", FakeModel(), metrics={"acc": "high"}), InvalidInputError,
     ["acc", "number"]),
    (lambda r: r.register("m", FakeModel(), metrics={"acc": float("nan")}), InvalidInputError,
     ["finite"]),
    (lambda r: r.register("m", FakeModel(), metrics=[0.9]), InvalidInputError, ["dict"]),
    (lambda r: r.register("m", FakeModel(), params={"f": object()}), InvalidInputError,
     ["params", "JSON"]),
    (lambda r: r.register("m", FakeModel(), tags={1: "x"}), InvalidInputError, ["string keys"]),
    (lambda r: r.register("m", FakeModel(), description=3), InvalidInputError, ["description"]),
    (lambda r: r.register("m", FakeModel(), parent=("m", 9)), VersionNotFoundError,
     ["no version 9"]),
    (lambda r: r.register("m", FakeModel(), parent="m"), InvalidInputError, ["parent"]),
    (lambda r: r.register("m", FakeModel(), reference=np.ones((5, 3))), InvalidInputError,
     ["3 features", "takes 4"]),
    (lambda r: r.register("m", FakeModel(), reference=np.ones(4)), InvalidInputError, ["2-D"]),
    (lambda r: r.register("m", FakeModel(), reference=np.full((2, 4), np.nan)), InvalidInputError,
     ["NaN"]),
    (lambda r: r.register("m", FakeModel(), reference=[["a"] * 4]), InvalidInputError,
     ["numeric"]),
    (lambda r: r.import_(r.home / "missing.zip"), InvalidInputError, ["no archive file"]),
]


@pytest.mark.parametrize("call, error, words", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_table(reg, call, error, words):
    before = reg.versions("m")
    with pytest.raises(error) as info:
        call(reg)
    assert isinstance(info.value, RegistryError)
    assert isinstance(info.value, (ValueError, LookupError))
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert reg.versions("m") == before          # nothing half-done


def test_failed_register_leaves_no_version(reg):
    class Broken(FakeModel):
        def to_spec(self):
            raise ValueError("this model is not fitted")
    with pytest.raises(ValueError, match="not fitted"):
        reg.register("m", Broken())
    assert reg.resolve("m") == 2
    assert reg.register("m", FakeModel()).version == 3


def test_not_a_registry_blob_name():
    from workbench.registry.blobs import BlobStore
    import tempfile
    with pytest.raises(IntegrityError, match="64 lower-case hex"):
        BlobStore(tempfile.mkdtemp()).path("../../etc/passwd")


def test_errors_fit_standard_families():
    assert issubclass(InvalidNameError, ValueError)
    assert issubclass(ModelNotFoundError, LookupError)
    assert issubclass(IntegrityError, ValueError)
    for cls in (InvalidNameError, ModelNotFoundError, VersionNotFoundError, AliasNotFoundError,
                IntegrityError):
        assert issubclass(cls, RegistryError)
