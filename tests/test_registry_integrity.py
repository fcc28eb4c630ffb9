"""Integrity: tampered or missing files are refused; verify() finds them; no pickle ever."""
import io
import zipfile

import numpy as np
import pytest
from registry_fakes import FakeModel

from workbench.registry import IntegrityError, InvalidInputError, Registry
from workbench.registry import codec

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "home")
    r.register("m", FakeModel(0), reference=np.ones((5, 4)))
    r.register("m", FakeModel(1))
    return r


def flip_byte(path, offset=None):
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_sound_registry_verifies_clean(reg):
    assert reg.verify() == []


def test_flipped_byte_is_refused_with_integrity_error(reg):
    mv = reg.get_version("m", 1)
    flip_byte(reg.home / "blobs" / mv.sha256)
    with pytest.raises(IntegrityError, match="SHA-256") as info:
        reg.load_spec("m", 1)
    assert "m v1" in str(info.value) and "refusing" in str(info.value)
    np.testing.assert_array_equal(reg.load_spec("m", 2)[1]["coef"], FakeModel(1).coef_)
    problems = reg.verify()
    assert problems and any(mv.sha256 in p for p in problems)
    assert any("m v1" in p for p in problems)


def test_every_byte_position_matters(reg):
    """Flip the first, a middle and the last byte: each is caught."""
    sha = reg.get_version("m", 2).sha256
    path = reg.home / "blobs" / sha
    size = path.stat().st_size
    for offset in (0, size // 3, size - 1):
        original = path.read_bytes()
        flip_byte(path, offset)
        with pytest.raises(IntegrityError):
            reg.load_spec("m", 2)
        path.write_bytes(original)
    assert reg.verify() == []


def test_missing_weight_file(reg):
    (reg.home / "blobs" / reg.get_version("m", 2).sha256).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        reg.load_spec("m", 2)
    assert any("m v2" in p and "missing" in p for p in reg.verify())


def test_tampered_reference_file(reg):
    flip_byte(reg.home / "blobs" / reg.get_version("m", 1).reference_sha256)
    with pytest.raises(IntegrityError):
        reg.reference("m", 1)
    assert any("reference file" in p for p in reg.verify())


def test_swapped_file_with_valid_npz_is_still_refused(reg):
    """Replacing a blob by another well-formed blob is caught by the hash, not by parsing."""
    a, b = reg.get_version("m", 1).sha256, reg.get_version("m", 2).sha256
    (reg.home / "blobs" / a).write_bytes((reg.home / "blobs" / b).read_bytes())
    with pytest.raises(IntegrityError):
        reg.load_spec("m", 1)


def test_leftover_temp_files_and_orphans_are_harmless(reg):
    (reg.home / "blobs" / ".tmp-deadbeef-1-00").write_bytes(b"half a file")
    reg.blobs.put(codec.encode({"class": "orphan"}, {}))      # blob whose row never came
    assert reg.verify() == []


def test_codec_refuses_object_arrays():
    with pytest.raises(InvalidInputError, match="pickle"):
        codec.encode({"class": "x"}, {"w": np.array([{"a": 1}], dtype=object)})


def test_decode_refuses_pickled_payload():
    buffer = io.BytesIO()
    np.savez(buffer, __spec__=np.frombuffer(b"{}", dtype=np.uint8),
             **{"array/w": np.array([object()], dtype=object)})
    with pytest.raises(IntegrityError):
        codec.decode(buffer.getvalue())


@pytest.mark.parametrize("payload", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_decode_refuses_garbage(payload):
    with pytest.raises(IntegrityError, match="cannot be read|not a registry blob"):
        codec.decode(payload)


def test_decode_refuses_zip_without_spec():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("other.npy", b"")
    with pytest.raises(IntegrityError):
        codec.decode(buffer.getvalue())


def test_no_pickle_in_the_registry_package():
    from pathlib import Path

    import workbench.registry as pkg
    for path in Path(pkg.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, path.name


def test_same_model_twice_shares_one_weight_file(reg):
    """Content addressing: identical bytes are stored once, however many versions use them."""
    a = reg.register("dup", FakeModel(42))
    b = reg.register("dup", FakeModel(42))
    assert (a.version, b.version) == (1, 2) and a.sha256 == b.sha256
    assert reg.blobs.names().count(a.sha256) == 1


def test_verify_reports_inconsistent_rows(reg):
    from store_helpers import raw_execute

    raw_execute(reg.home, "INSERT INTO aliases (name, alias, version) VALUES ('m', 'ghost', 99)")
    raw_execute(reg.home, "UPDATE models SET next_version = 2 WHERE name = 'm'")
    problems = reg.verify()
    assert any("ghost" in p and "v99" in p for p in problems)
    assert any("reuse version numbers" in p for p in problems)
