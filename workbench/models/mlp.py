"""Multi-layer perceptrons: any number of hidden layers, relu / tanh / sigmoid, L2 penalty."""
from __future__ import annotations

import numbers

from .tasks import ClassifierNetwork, RegressorNetwork


class _MLPParams:
    """Hyperparameter checks and repr shared by both MLPs."""

    def __init__(self, hidden_layer_sizes=(100,), *, activation="relu", optimizer="adam",
                 learning_rate=0.001, batch_size=64, epochs=500, alpha=1e-4, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, dtype="float32",
                 random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                                    for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        return tuple(int(s) for s in sizes)

    def _activation_name(self):
        return self.activation


_MLP_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer; ``()`` gives a linear model.
    activation : {{'relu', 'tanh', 'sigmoid'}}, default='relu'
    optimizer : {{'sgd', 'momentum', 'rmsprop', 'adam'}} or Optimizer, default='adam'
    learning_rate : float, default=0.001
        Step size (used when ``optimizer`` is a name).
    batch_size : int, default=64
    epochs : int, default=500
        An upper bound: ``fit`` stops once the training loss has not fallen by ``tol`` for
        ``n_iter_no_change`` epochs, as scikit-learn's MLPs do; ``converged_`` says whether it
        did, and a ``ConvergenceWarning`` is given when the epochs ran out first.
    alpha : float, default=1e-4
        L2 penalty on the weights.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its loss has not improved by
        ``tol`` for ``n_iter_no_change`` epochs; the best weights are kept.
    validation_fraction, n_iter_no_change, tol : see ``early_stopping`` and ``epochs``.
    dtype : {{'float32', 'float64'}}, default='float32'
    random_state : int or None
        Seeds weight initialisation and shuffling: the same seed gives the same weights.
    verbose : bool, default=False
        Show a progress bar while training.

    Attributes
    ----------
    params_ : dict of str to ndarray
        ``W0, b0, W1, b1, …``: the weights and biases of each layer.
    history_ : workbench.training.History
        Loss and {metric} per epoch (and ``val_*`` with validation data).
    converged_ : bool
        Whether ``fit`` stopped because the loss settled (not because ``epochs`` ran out).
    n_features_in_, n_iter_, loss_{extra}

    Examples
    --------
    {example}
"""


class MLPClassifier(_MLPParams, ClassifierNetwork):
    __doc__ = "A multi-layer perceptron classifier (softmax output, cross-entropy loss).\n" + _MLP_DOC.format(
        metric="accuracy", extra=", classes_",
        example=""">>> from workbench.data import load_dataset
    >>> data = load_dataset("iris")
    >>> model = MLPClassifier(hidden_layer_sizes=(16,), epochs=50, random_state=0).fit(data.X, data.y)
    >>> model.predict(data.X[:3]).shape
    (3,)""")


class MLPRegressor(_MLPParams, RegressorNetwork):
    __doc__ = "A multi-layer perceptron regressor (identity output, squared-error loss).\n" + _MLP_DOC.format(
        metric="R²", extra=", n_outputs_",
        example=""">>> from workbench.data import load_dataset
    >>> data = load_dataset("diabetes")
    >>> model = MLPRegressor(hidden_layer_sizes=(16,), epochs=5, random_state=0).fit(data.X, data.y)
    >>> model.predict(data.X[:3]).shape
    (3,)""")
