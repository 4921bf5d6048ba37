"""The feature-based baseline of the final project: a random forest on ALeRCE-style features.

:class:`RandomForestBaseline` is what ALeRCE's light-curve classifier does (a balanced random forest on
hand-made features, Sánchez-Sáez et al. 2021), small enough to train in seconds::

    rf = RandomForestBaseline().fit(train_lcs, train_labels)
    proba = rf.predict_proba(test_lcs)          # (n, len(rf.classes_)), rows sum to 1
    rf.feature_importances().head()

Every method that takes light curves also takes the :func:`~exowavenet_lib.ztf.features.features_table` of them,
so a benchmark can compute the features once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES
from exowavenet_lib.ztf.features import FEATURE_NAMES, features_table

__all__ = ["RandomForestBaseline"]

_CLASS_WEIGHTS = ("balanced", "balanced_subsample", None)


def _default_jobs() -> int:
    """Two workers at most: the machines this curriculum runs on often have two cores, shared."""
    return max(1, min(2, os.cpu_count() or 1))


class RandomForestBaseline:
    """Random forest (scikit-learn) on :func:`~exowavenet_lib.ztf.features.extract_features` features.

    Parameters
    ----------
    n_estimators : int, default 300
        Number of trees.
    seed : int, default 0
        Seed of the forest; the same seed and data give the same forest.
    class_weight : "balanced_subsample", "balanced" or None
        Class weights against imbalance, as in :class:`sklearn.ensemble.RandomForestClassifier`
        (``"balanced_subsample"``: ∝ 1 / class count within each tree's bootstrap sample).
    classes : sequence of str, optional
        Column order of :meth:`predict_proba`; a listed class absent from the training labels gets probability 0.
        Default: the classes of :data:`~exowavenet_lib.simulate.transients.TRANSIENT_CLASSES` seen in training,
        in that order, then any other label in sorted order.
    n_jobs : int, optional
        Parallel workers for fitting and predicting (default: ``min(2, cpu count)``).
    min_samples_leaf, max_features
        Passed to the forest (defaults 1 and ``"sqrt"``).

    Attributes
    ----------
    classes_ : tuple of str
        Class names in the column order of :meth:`predict_proba` (after :meth:`fit`).
    feature_names_ : tuple of str
        The feature columns the forest was trained on.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        seed: int = 0,
        class_weight: str | None = "balanced_subsample",
        *,
        classes: Sequence[str] | None = None,
        n_jobs: int | None = None,
        min_samples_leaf: int = 1,
        max_features: str | float | None = "sqrt",
    ) -> None:
        for name, value, low in (("n_estimators", n_estimators, 1), ("seed", seed, 0),
                                 ("min_samples_leaf", min_samples_leaf, 1)):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if class_weight not in _CLASS_WEIGHTS:
            raise ValueError(f"class_weight must be one of {list(_CLASS_WEIGHTS)}, got {class_weight!r}")
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs == 0):
            raise ValueError(f"n_jobs must be a non-zero int or None, got {n_jobs!r}")
        if classes is not None:
            if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
                raise TypeError(f"classes must be a non-empty sequence of class names, got {classes!r}")
            if not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes):
                raise ValueError(f"classes must be distinct strings, got {list(classes)!r}")
            classes = tuple(classes)
        self.n_estimators = int(n_estimators)
        self.seed = int(seed)
        self.class_weight = class_weight
        self.classes = classes
        self.n_jobs = _default_jobs() if n_jobs is None else int(n_jobs)
        self.min_samples_leaf = int(min_samples_leaf)
        self.max_features = max_features
        self.classes_: tuple[str, ...] | None = None
        self.feature_names_: tuple[str, ...] = FEATURE_NAMES
        self._forest: Any = None
        self._columns: np.ndarray | None = None  # forest's class index of each classes_ entry, -1 when unseen

    def __repr__(self) -> str:
        state = f"fitted on {len(self.classes_)} classes" if self.classes_ else "not fitted"
        return f"RandomForestBaseline(n_estimators={self.n_estimators}, seed={self.seed}, {state})"

    # ------------------------------------------------------------------------------------------------ helpers
    @staticmethod
    def _features(data: Any, name: str = "lightcurves") -> pd.DataFrame:
        """Feature table of light curves, or a feature table passed in (checked for the columns)."""
        if isinstance(data, pd.DataFrame):
            missing = [c for c in FEATURE_NAMES if c not in data.columns]
            if missing:
                raise ValueError(f"{name} is a DataFrame without the feature column(s) {missing[:5]}; "
                                 "build it with exowavenet_lib.ztf.features.features_table")
            table = data.loc[:, list(FEATURE_NAMES)]
            if not np.all(np.isfinite(table.to_numpy(dtype=float))):
                raise ValueError(f"{name} contains NaN or infinite feature values")
        else:
            if isinstance(data, LightCurve) or isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
                raise TypeError(f"{name} must be a list of TransientLightCurve or a features_table DataFrame, "
                                f"got {type(data).__name__}")
            table = features_table(data)
        if len(table) == 0:
            raise ValueError(f"{name} is empty")
        return table

    def _check_fitted(self) -> None:
        if self._forest is None:
            raise RuntimeError("this RandomForestBaseline is not fitted yet: call fit(lightcurves, labels) first")

    # ------------------------------------------------------------------------------------------------ API
    def fit(self, lightcurves: Sequence[LightCurve] | pd.DataFrame, labels: Sequence[str]) -> RandomForestBaseline:
        """Train on light curves (or their feature table) and their class names; returns ``self``."""
        from sklearn.ensemble import RandomForestClassifier

        table = self._features(lightcurves)
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray, pd.Series)):
            raise TypeError(f"labels must be a sequence of class names, got {type(labels).__name__}")
        y = [lab.item() if isinstance(lab, np.generic) else lab for lab in labels]
        if len(y) != len(table):
            raise ValueError(f"labels has {len(y)} entries but lightcurves has {len(table)}")
        if not all(isinstance(lab, str) for lab in y):
            raise TypeError("labels must hold class names (strings) such as 'SNIa'")
        seen = set(y)
        if len(seen) < 2:
            raise ValueError(f"labels must hold at least 2 classes to train a classifier, got {sorted(seen)}")
        if self.classes is not None:
            unknown = sorted(seen - set(self.classes))
            if unknown:
                raise ValueError(f"labels contain class(es) {unknown} that are not in classes {list(self.classes)}")
            classes = self.classes
        else:
            known = tuple(c for c in TRANSIENT_CLASSES if c in seen)
            classes = known + tuple(sorted(seen - set(known)))
        forest = RandomForestClassifier(
            n_estimators=self.n_estimators, class_weight=self.class_weight, random_state=self.seed,
            n_jobs=self.n_jobs, min_samples_leaf=self.min_samples_leaf, max_features=self.max_features,
        )
        forest.fit(table.to_numpy(dtype=np.float32), np.asarray(y))
        lookup = {c: i for i, c in enumerate(forest.classes_.tolist())}
        self._forest = forest
        self._columns = np.array([lookup.get(c, -1) for c in classes])
        self.classes_ = classes
        return self

    def predict_proba(self, lightcurves: Sequence[LightCurve] | pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n, len(classes_)), rows summing to 1 (fraction of trees' votes)."""
        self._check_fitted()
        raw = self._forest.predict_proba(self._features(lightcurves).to_numpy(dtype=np.float32))
        out = np.zeros((len(raw), len(self._columns)))
        seen = self._columns >= 0
        out[:, seen] = raw[:, self._columns[seen]]
        return out

    def predict(self, lightcurves: Sequence[LightCurve] | pd.DataFrame) -> np.ndarray:
        """Most probable class name of each light curve (array of str)."""
        proba = self.predict_proba(lightcurves)
        return np.asarray(self.classes_)[np.argmax(proba, axis=1)]

    def feature_importances(self) -> pd.Series:
        """Mean decrease in impurity of each feature, largest first."""
        self._check_fitted()
        importances = pd.Series(self._forest.feature_importances_, index=list(FEATURE_NAMES), name="importance")
        return importances.sort_values(ascending=False)
