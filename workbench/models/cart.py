"""CART in numpy: grow a binary tree by greedy splits, keep it as flat arrays, walk it to predict.

A node holding the rows :math:`S` is split on the feature :math:`j` and threshold :math:`t` that
minimise the weighted impurity of the two children
:math:`L = \\{i \\in S: x_{ij} \\le t\\}` and :math:`R = S \\setminus L`:

.. math::

    \\operatorname*{arg\\,min}_{j,\\,t}\\; |L|\\, H(L) + |R|\\, H(R), \\qquad
    H_\\text{gini} = 1 - \\sum_k p_k^2, \\quad
    H_\\text{entropy} = -\\sum_k p_k \\log_2 p_k, \\quad
    H_\\text{mse} = \\frac{1}{|S|}\\sum_{i\\in S} \\lVert y_i - \\bar y_S \\rVert^2

where :math:`p_k` is the share of class :math:`k` in the node. For one feature, sorting the rows
once and taking cumulative sums of the targets gives the class counts (or sums of :math:`y` and
:math:`y^2`) left of *every* candidate threshold at once, so the search is a few array operations
per node. Thresholds sit half-way between neighbouring distinct values, as in scikit-learn.

The tree is stored as parallel arrays indexed by node (node 0 is the root):
``children_left``, ``children_right`` (``-1`` at a leaf), ``feature`` (``-2`` at a leaf),
``threshold``, ``value`` (class shares or mean targets), ``impurity`` and ``n_node_samples``.
A forest concatenates the arrays of its trees, with child indices made global.
"""
from __future__ import annotations

import numpy as np

LEAF = -1
NO_FEATURE = -2
CRITERIA = {"classification": ("gini", "entropy"), "regression": ("squared_error",)}
#: arrays of a tree (or forest) and whether each holds integers
TREE_ARRAYS = {"children_left": True, "children_right": True, "feature": True,
               "threshold": False, "value": False, "impurity": False, "n_node_samples": True}


def node_impurity(Y: np.ndarray, criterion: str) -> float:
    """Impurity of one node from its encoded targets (one-hot classes or values)."""
    if criterion == "squared_error":
        return float(np.mean(np.sum((Y - Y.mean(axis=0)) ** 2, axis=1)))
    p = Y.mean(axis=0)
    if criterion == "gini":
        return float(1.0 - np.sum(p * p))
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def _children_cost(left, left_sq, total, total_sq, n_left, n, criterion):
    """``|L| H(L) + |R| H(R)`` for every candidate split, from the left sums (…, k)."""
    n_right = n - n_left
    right = total - left
    if criterion == "squared_error":
        right_sq = total_sq - left_sq
        return (left_sq.sum(-1) - (left * left).sum(-1) / n_left
                + right_sq.sum(-1) - (right * right).sum(-1) / n_right)
    if criterion == "gini":  # |S| (1 - sum p^2) = |S| - sum count^2 / |S|
        return n_left - (left * left).sum(-1) / n_left + n_right - (right * right).sum(-1) / n_right
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 = 0
        h_left = -np.where(left > 0, left * np.log2(left / n_left[..., None]), 0.0).sum(-1)
        h_right = -np.where(right > 0, right * np.log2(right / n_right[..., None]), 0.0).sum(-1)
    return h_left + h_right


def best_split(X: np.ndarray, Y: np.ndarray, features: np.ndarray, criterion: str,
               min_samples_leaf: int):
    """The best ``(feature, threshold, cost)`` among ``features`` for the rows ``X, Y``, or None.

    ``Y`` holds one-hot class rows (classification) or target values (regression), as float64.
    """
    m = X.shape[0]
    Xf = X[:, features]
    order = np.argsort(Xf, axis=0, kind="stable")
    xs = np.take_along_axis(Xf, order, axis=0)
    Ys = Y[order]                                   # (m, n_features, k): targets in sorted order
    left = np.cumsum(Ys, axis=0)[:-1]               # sums left of the split after row i
    left_sq = np.cumsum(Ys * Ys, axis=0)[:-1] if criterion == "squared_error" else None
    total = Y.sum(axis=0)
    total_sq = (Y * Y).sum(axis=0) if criterion == "squared_error" else None
    n_left = np.arange(1, m, dtype=np.float64)[:, None]
    cost = _children_cost(left, left_sq, total, total_sq, n_left, float(m), criterion)
    valid = (xs[1:] > xs[:-1]) & (n_left >= min_samples_leaf) & (m - n_left >= min_samples_leaf)
    if not valid.any():
        return None
    cost = np.where(valid, cost, np.inf)
    i, j = np.unravel_index(np.argmin(cost), cost.shape)
    lo, hi = xs[i, j], xs[i + 1, j]
    threshold = lo + (hi - lo) / 2
    if not lo <= threshold < hi:   # no float strictly between two neighbours: split at the lower
        threshold = lo
    return int(features[j]), threshold, float(cost[i, j])


def grow_tree(X, Y, *, criterion: str, max_depth, min_samples_split: int, min_samples_leaf: int,
              max_features: int, rng: np.random.Generator, dtype) -> dict[str, np.ndarray]:
    """Grow one tree depth-first and return its arrays (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), in the model's dtype
    Y : ndarray of shape (n_samples, k): one-hot classes or target values
    max_features : int
        Features drawn (without replacement) as candidates at each node; when none of them can
        split the node, the remaining features are tried too, as scikit-learn does.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n_features = X.shape[1]
    nodes = {name: [] for name in TREE_ARRAYS}
    stack = [(np.arange(X.shape[0]), 0, None, False)]  # (rows, depth, parent, is_left)
    while stack:
        rows, depth, parent, is_left = stack.pop()
        node = len(nodes["feature"])
        if parent is not None:
            nodes["children_left" if is_left else "children_right"][parent] = node
        Yn = Y[rows]
        impurity = node_impurity(Yn, criterion)
        for name, value in (("children_left", LEAF), ("children_right", LEAF),
                            ("feature", NO_FEATURE), ("threshold", -2.0),
                            ("value", Yn.mean(axis=0)), ("impurity", impurity),
                            ("n_node_samples", len(rows))):
            nodes[name].append(value)
        if ((max_depth is not None and depth >= max_depth) or len(rows) < min_samples_split
                or len(rows) < 2 * min_samples_leaf or impurity <= 1e-12):
            continue
        split, order = None, rng.permutation(n_features)
        for start in range(0, n_features, max_features):  # more candidates only if none split
            split = best_split(X[rows], Yn, order[start:start + max_features], criterion,
                               min_samples_leaf)
            if split is not None:
                break
        if split is None:
            continue
        feature, threshold, _ = split
        nodes["feature"][node], nodes["threshold"][node] = feature, threshold
        goes_left = X[rows, feature] <= threshold
        stack.append((rows[~goes_left], depth + 1, node, False))
        stack.append((rows[goes_left], depth + 1, node, True))
    return {name: np.asarray(values, dtype=np.int64 if integer else dtype)
            for name, (values, integer) in ((n, (nodes[n], TREE_ARRAYS[n])) for n in TREE_ARRAYS)}


def apply(X: np.ndarray, arrays: dict, roots: np.ndarray) -> np.ndarray:
    """Index of the leaf each row reaches in each tree: shape (n_samples, n_trees).

    All rows walk down all trees together, one level per step (``x <= threshold`` goes left).
    """
    left, right = arrays["children_left"], arrays["children_right"]
    feature, threshold = arrays["feature"], arrays["threshold"]
    node = np.tile(np.asarray(roots, dtype=np.int64), (X.shape[0], 1))
    rows = np.arange(X.shape[0])[:, None]
    while True:
        inner = left[node] != LEAF
        if not inner.any():
            return node
        x = X[rows, np.maximum(feature[node], 0)]
        nxt = np.where(x <= threshold[node], left[node], right[node])
        node = np.where(inner, nxt, node)


def feature_importances(arrays: dict, roots, n_features: int) -> np.ndarray:
    """Mean decrease in impurity per feature, each tree normalised to sum to 1, then averaged."""
    ends = list(roots[1:]) + [len(arrays["feature"])]
    total = np.zeros(n_features)
    for start, end in zip(roots, ends):
        sl = slice(start, end)
        feature, left, right = arrays["feature"][sl], arrays["children_left"][sl], arrays["children_right"][sl]
        weighted = arrays["n_node_samples"][sl] * arrays["impurity"][sl].astype(np.float64)
        inner = np.flatnonzero(left != LEAF)
        gain = weighted[inner] - weighted[left[inner] - start] - weighted[right[inner] - start]
        per_tree = np.bincount(feature[inner], weights=gain, minlength=n_features)
        if per_tree.sum() > 0:
            total += per_tree / per_tree.sum()
    return total / max(total.sum(), 1e-300) if total.sum() > 0 else total


def tree_depth(arrays: dict, root: int = 0) -> int:
    """Depth of the tree starting at ``root`` (a lone leaf has depth 0)."""
    depth, level = 0, [root]
    left, right = arrays["children_left"], arrays["children_right"]
    while True:
        level = [c for n in level if left[n] != LEAF for c in (left[n], right[n])]
        if not level:
            return depth
        depth += 1
