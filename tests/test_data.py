"""Data sets ship offline; synthetic ones are reproducible; standardisation remembers."""
import numpy as np
import pytest

from workbench.data import DATASETS, Standardizer, load_dataset


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_loads_without_network(name, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError(f"loading {name} tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    data = load_dataset(name)
    assert data.X.ndim == 2 and len(data.y) == data.n_samples > 0
    assert np.all(np.isfinite(data.X))
    assert data.task in ("classification", "regression")
    if data.feature_names:
        assert len(data.feature_names) == data.n_features


def test_real_datasets_have_their_known_shapes():
    shapes = {n: load_dataset(n).X.shape for n in ("digits", "iris", "breast_cancer", "wine", "diabetes")}
    assert shapes == {"digits": (1797, 64), "iris": (150, 4), "breast_cancer": (569, 30),
                      "wine": (178, 13), "diabetes": (442, 10)}


@pytest.mark.parametrize("name", ["moons", "spirals", "blobs", "linear"])
def test_synthetic_datasets_follow_the_seed(name):
    a, b = load_dataset(name, random_state=1), load_dataset(name, random_state=1)
    c = load_dataset(name, random_state=2)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_standardizer_remembers_training_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, size=(1000, 2))
    train[:, 1] = 4.0  # a constant column is only centred
    s = Standardizer().fit(train)
    z = s.transform(train)
    np.testing.assert_allclose(z[:, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, 0].std(), 1)
    np.testing.assert_array_equal(z[:, 1], 0)
    np.testing.assert_allclose(s.transform([[5.0, 4.0]]), [[(5 - s.mean_[0]) / s.scale_[0], 0.0]])
    np.testing.assert_allclose(s.inverse_transform(z), train)
