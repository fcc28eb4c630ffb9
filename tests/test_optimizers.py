"""Optimizers against steps computed by hand."""
import numpy as np
import pytest

from workbench.models.optimizers import SGD, Adam, Momentum, RMSprop, make_optimizer


def one_param(value):
    return {"w": np.array([value], dtype=np.float64)}


def test_sgd_step():
    p = one_param(1.0)
    SGD(learning_rate=0.1).step(p, {"w": np.array([2.0])})
    np.testing.assert_allclose(p["w"], [0.8])


def test_momentum_accumulates_velocity():
    p, opt = one_param(0.0), Momentum(learning_rate=0.1, momentum=0.5)
    opt.step(p, {"w": np.array([1.0])})  # v = -0.1
    opt.step(p, {"w": np.array([1.0])})  # v = 0.5 * -0.1 - 0.1 = -0.15
    np.testing.assert_allclose(p["w"], [-0.25])


def test_rmsprop_step():
    p, opt = one_param(0.0), RMSprop(learning_rate=0.1, rho=0.9, epsilon=0.0)
    opt.step(p, {"w": np.array([2.0])})  # s = 0.1 * 4 = 0.4; step = 0.1 * 2 / sqrt(0.4)
    np.testing.assert_allclose(p["w"], [-0.1 * 2 / np.sqrt(0.4)])


def test_adam_first_step_is_learning_rate_times_sign():
    p, opt = one_param(0.0), Adam(learning_rate=0.01, epsilon=0.0)
    opt.step(p, {"w": np.array([-123.0])})  # bias-corrected m/sqrt(v) = g/|g|
    np.testing.assert_allclose(p["w"], [0.01])


def test_adam_matches_the_paper_over_several_steps():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(5, 3))
    p, opt = {"w": np.zeros(3)}, Adam(learning_rate=0.1)
    theta, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        opt.step(p, {"w": g})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g ** 2
        m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
        theta = theta - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8 / np.sqrt(1 - 0.999 ** t))
    # folding the bias corrections into the step size (the paper, section 2) divides epsilon
    # by sqrt(1 - beta2^t)
    np.testing.assert_allclose(p["w"], theta, rtol=1e-10)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_each_optimizer_minimises_a_quadratic(name):
    opt = make_optimizer(name, 0.05)
    p = {"w": np.array([3.0, -2.0])}
    for _ in range(500):
        opt.step(p, {"w": 2 * p["w"]})  # gradient of |w|^2
    assert np.linalg.norm(p["w"]) < 0.05


def test_make_optimizer_copies_instances_and_rejects_unknown_names():
    original = Adam(learning_rate=0.5)
    copy = make_optimizer(original)
    assert copy is not original and copy.config() == original.config()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("adamw")
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        SGD(learning_rate=-1)
