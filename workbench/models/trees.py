"""Decision trees and random forests (CART, see :mod:`.cart`), as scikit-learn-style estimators.

A decision tree is a forest of one tree grown on all rows with all features as candidates; a
random forest grows ``n_estimators`` trees, each on a bootstrap sample of the rows and with
``max_features`` features drawn at every node, and averages their predictions:

.. math::

    \\hat p(x) = \\frac{1}{T} \\sum_{t=1}^{T} p_t(x)

Both persist as the flat arrays of :mod:`.cart` plus ``roots`` (the root node of each tree).
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .base import WorkbenchModel, check_dtype
from .cart import (
    CRITERIA,
    LEAF,
    TREE_ARRAYS,
    apply,
    feature_importances,
    grow_tree,
    tree_depth,
)


class _TreeEnsemble(WorkbenchModel):
    """Growing, storing and walking one or many CART trees."""

    _bootstrap_default = False
    _spec_attributes = ("n_features_in_", "n_outputs_", "y_ndim_", "node_count_")

    # -- hyperparameters ---------------------------------------------------------------------
    def _n_trees(self) -> int:
        return 1

    def _bootstrap(self) -> bool:
        return False

    def _validate_hyperparameters(self, task: str):
        if self.criterion not in CRITERIA[task]:
            raise ValueError(f"criterion must be one of {CRITERIA[task]}, got {self.criterion!r}")
        if self.max_depth is not None and (not isinstance(self.max_depth, numbers.Integral)
                                           or isinstance(self.max_depth, bool) or self.max_depth < 1):
            raise ValueError(f"max_depth must be a positive integer or None, got {self.max_depth!r}")
        for name, low in (("min_samples_split", 2), ("min_samples_leaf", 1)):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        check_dtype(self.dtype)

    def _max_features(self, n_features: int) -> int:
        mf = self.max_features
        if mf is None:
            return n_features
        if mf == "sqrt":
            return max(1, int(np.sqrt(n_features)))
        if mf == "log2":
            return max(1, int(np.log2(n_features)))
        if isinstance(mf, numbers.Integral) and not isinstance(mf, bool) and mf >= 1:
            return min(int(mf), n_features)
        if isinstance(mf, numbers.Real) and not isinstance(mf, bool) and 0 < mf <= 1:
            return max(1, int(mf * n_features))
        raise ValueError(f"max_features must be None, 'sqrt', 'log2', an integer >= 1 or a "
                         f"fraction in (0, 1], got {mf!r}")

    # -- growing -----------------------------------------------------------------------------
    def _grow(self, X, Y):
        """Grow every tree and concatenate their arrays into ``params_``."""
        dtype = check_dtype(self.dtype)
        rng = np.random.default_rng(self.random_state)
        n, max_features = X.shape[0], self._max_features(X.shape[1])
        trees, roots, offset = [], [], 0
        for _ in range(self._n_trees()):
            rows = rng.integers(0, n, n) if self._bootstrap() else np.arange(n)
            tree = grow_tree(X[rows], Y[rows], criterion=self.criterion, max_depth=self.max_depth,
                             min_samples_split=self.min_samples_split,
                             min_samples_leaf=self.min_samples_leaf, max_features=max_features,
                             rng=rng, dtype=dtype)
            for side in ("children_left", "children_right"):
                tree[side] = np.where(tree[side] == LEAF, LEAF, tree[side] + offset)
            trees.append(tree)
            roots.append(offset)
            offset += len(tree["feature"])
        self.params_ = {name: np.concatenate([t[name] for t in trees]) for name in TREE_ARRAYS}
        self.params_["roots"] = np.asarray(roots, dtype=np.int64)
        self.node_count_ = int(offset)
        return self

    def _param_shapes(self) -> dict[str, tuple]:
        n = int(self.node_count_)
        shapes = {name: (n,) for name in TREE_ARRAYS}
        shapes["value"] = (n, self._value_width())
        shapes["roots"] = (self._n_trees(),)
        return shapes

    def _param_dtype(self, name: str):
        return np.int64 if name == "roots" or TREE_ARRAYS.get(name) else check_dtype(self.dtype)

    # -- predicting --------------------------------------------------------------------------
    def apply(self, X) -> np.ndarray:
        """Index of the leaf each row ends in, per tree: shape (n_samples, n_trees)."""
        return apply(self._check_X(X), self.params_, self.params_["roots"])

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Mean over trees of the leaves' values: class shares or predicted values."""
        leaves = apply(X, self.params_, self.params_["roots"])
        return self.params_["value"][leaves].mean(axis=1)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Mean decrease in impurity of each feature, normalised to sum to 1."""
        check_is_fitted(self, "params_")
        return feature_importances(self.params_, self.params_["roots"], self.n_features_in_)

    def get_depth(self) -> int:
        """Depth of the deepest tree."""
        check_is_fitted(self, "params_")
        return max(tree_depth(self.params_, r) for r in self.params_["roots"])

    def get_n_leaves(self) -> int:
        """Number of leaves over all trees."""
        check_is_fitted(self, "params_")
        return int(np.sum(self.params_["children_left"] == LEAF))


class _TreeClassifier(ClassifierMixin, _TreeEnsemble):
    def _value_width(self):
        return len(self.classes_)

    def fit(self, X, y):
        """Grow the tree(s) on ``X`` (n_samples, n_features) and class labels ``y`` (n_samples,)."""
        self._validate_hyperparameters("classification")
        X, y = validate_data(self, X, y, dtype=check_dtype(self.dtype))
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        self.n_outputs_, self.y_ndim_ = 1, 1
        return self._grow(X, np.eye(len(self.classes_))[encoded])

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes): the class shares of the leaves reached."""
        return self.forward(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class _TreeRegressor(RegressorMixin, _TreeEnsemble):
    def _value_width(self):
        return self.n_outputs_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Grow the tree(s) on ``X`` and targets of shape (n_samples,) or (n_samples, n_targets)."""
        self._validate_hyperparameters("regression")
        dtype = check_dtype(self.dtype)
        X, y = validate_data(self, X, y, dtype=dtype, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self.y_ndim_ = y.ndim
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return self._grow(X, y.reshape(len(y), -1))

    def predict(self, X) -> np.ndarray:
        """Predicted values: (n_samples,) for a 1-D target, else (n_samples, n_targets)."""
        Z = self.forward(self._check_X(X)).astype(np.float64)
        return Z.ravel() if self.y_ndim_ == 1 else Z


_TREE_DOC = """
    Parameters
    ----------
    criterion : {criteria}, default={default!r}
        Impurity a split minimises (see :mod:`workbench.models.cart`).
    max_depth : int or None, default=None
        Grow until leaves are pure (or too small to split) when None.
    min_samples_split : int, default=2
        A node with fewer rows becomes a leaf.
    min_samples_leaf : int, default=1
        Each child of a split keeps at least this many rows.
    max_features : None, 'sqrt', 'log2', int or float, default={max_features!r}
        Candidate features drawn at each node (None: all).
    {extra}dtype : {{'float32', 'float64'}}, default='float32'
        Type of the inputs, thresholds and leaf values.
    random_state : int or None
        Seeds the feature draws{seed}.

    Attributes
    ----------
    params_ : dict of str to ndarray
        The tree arrays ``children_left, children_right, feature, threshold, value, impurity,
        n_node_samples`` (all trees concatenated, child indices global) and ``roots``.
    feature_importances_ : ndarray of shape (n_features,)
    node_count_, n_features_in_{attrs}

    Examples
    --------
    {example}
"""


class DecisionTreeClassifier(_TreeClassifier):
    __doc__ = "A CART decision tree classifier (leaves hold class shares).\n" + _TREE_DOC.format(
        criteria="{'gini', 'entropy'}", default="gini", max_features=None, extra="", seed="",
        attrs=", classes_",
        example=""">>> from workbench.data import load_dataset
    >>> data = load_dataset("iris")
    >>> DecisionTreeClassifier(max_depth=3).fit(data.X, data.y).get_depth()
    3""")

    def __init__(self, *, criterion="gini", max_depth=None, min_samples_split=2, min_samples_leaf=1,
                 max_features=None, dtype="float32", random_state=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.dtype = dtype
        self.random_state = random_state


class DecisionTreeRegressor(_TreeRegressor):
    __doc__ = "A CART decision tree regressor (leaves hold mean targets).\n" + _TREE_DOC.format(
        criteria="{'squared_error'}", default="squared_error", max_features=None, extra="",
        seed="", attrs=", n_outputs_",
        example=""">>> import numpy as np
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> DecisionTreeRegressor(max_depth=1).fit(X, X[:, 0] > 3).predict([[1.0], [6.0]])
    array([0., 1.])""")

    def __init__(self, *, criterion="squared_error", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, max_features=None, dtype="float32", random_state=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.dtype = dtype
        self.random_state = random_state


class _ForestParams:
    def _n_trees(self) -> int:
        n = self.n_estimators
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_estimators must be a positive integer, got {n!r}")
        return int(n)

    def _bootstrap(self) -> bool:
        return bool(self.bootstrap)


_FOREST_EXTRA = """n_estimators : int, default=100
        Number of trees.
    bootstrap : bool, default=True
        Grow each tree on n rows drawn with replacement.
    """


class RandomForestClassifier(_ForestParams, _TreeClassifier):
    __doc__ = "A random forest classifier: the mean of the trees' class shares.\n" + _TREE_DOC.format(
        criteria="{'gini', 'entropy'}", default="gini", max_features="sqrt", extra=_FOREST_EXTRA,
        seed=" and the bootstrap samples", attrs=", classes_",
        example=""">>> from workbench.data import load_dataset
    >>> data = load_dataset("iris")
    >>> RandomForestClassifier(n_estimators=10, random_state=0).fit(data.X, data.y).score(data.X, data.y) > 0.95
    True""")

    def __init__(self, *, n_estimators=100, criterion="gini", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, max_features="sqrt", bootstrap=True, dtype="float32",
                 random_state=None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.dtype = dtype
        self.random_state = random_state


class RandomForestRegressor(_ForestParams, _TreeRegressor):
    __doc__ = "A random forest regressor: the mean of the trees' predictions.\n" + _TREE_DOC.format(
        criteria="{'squared_error'}", default="squared_error", max_features=1.0,
        extra=_FOREST_EXTRA, seed=" and the bootstrap samples", attrs=", n_outputs_",
        example=""">>> from workbench.data import load_dataset
    >>> data = load_dataset("diabetes")
    >>> RandomForestRegressor(n_estimators=5, random_state=0).fit(data.X, data.y).predict(data.X[:2]).shape
    (2,)""")

    def __init__(self, *, n_estimators=100, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features=1.0, bootstrap=True,
                 dtype="float32", random_state=None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.dtype = dtype
        self.random_state = random_state
