"""The twelve notebooks, and the one repository URL every Colab link is built from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Change this (and run ``exowavenet build-exercises``) to point every link and Colab install at a fork.
REPOSITORY_URL = "https://github.com/exowavenet/exowavenet"
BRANCH = "main"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


@dataclass(frozen=True)
class NotebookInfo:
    """One entry of the curriculum map."""

    number: str
    slug: str
    title: str
    topics: str
    minutes: str
    gpu: str

    @property
    def filename(self) -> str:
        """File name shared by the solution and the exercise, e.g. ``01_functions_decorators.ipynb``."""
        return f"{self.number}_{self.slug}.ipynb"


NOTEBOOKS: tuple[NotebookInfo, ...] = (
    NotebookInfo("01", "functions_decorators", "Functions and decorators for light-curve processing",
                 "`**kwargs` filters, functions as arguments, decorators, memoisation", "30–45", "CPU is enough"),
    NotebookInfo("02", "lightcurve_classes", "Light-curve classes and magic methods",
                 "classes, inheritance, `__repr__`/`__eq__`/`__add__`, multi-band light curves", "30–45",
                 "CPU is enough"),
    NotebookInfo("03", "survey_class_design", "Class design for astronomy surveys",
                 "dataclasses, abstract base classes, factories, ZTF and LSST processors", "30–45", "CPU is enough"),
    NotebookInfo("04", "pipeline_patterns", "Design patterns for an astronomy pipeline",
                 "protocols, context managers, logging, rule-based classifier, asyncio", "45–60", "CPU is enough"),
    NotebookInfo("05", "datasets_dataloaders", "Custom Datasets for light-curve data",
                 "`Dataset`, padding and masks, collate, augmentation, stratified splits", "45–60", "CPU is enough"),
    NotebookInfo("06", "mlp_lstm_focal_loss", "Basic neural networks for photometry",
                 "MLP, LSTM/GRU with packing, focal loss, training loops, early stopping", "60–90",
                 "GPU helps (optional)"),
    NotebookInfo("07", "time2vec_transformer", "A Time2Vec transformer for irregular light curves",
                 "Time2Vec, attention with padding masks, band embeddings, causal attention", "60–90",
                 "GPU helps (optional)"),
    NotebookInfo("08", "class_imbalance", "Learning from imbalanced transient classes",
                 "weighted and balanced sampling, focal loss, mixup, rare-class metrics", "45–60",
                 "GPU helps (optional)"),
    NotebookInfo("09", "wandb_tracking_sweeps", "Experiment tracking and sweeps, offline first",
                 "W&B online/offline/disabled, artifacts, sweeps via W&B or optuna", "45–60", "CPU is enough"),
    NotebookInfo("10", "bayesian_uncertainty", "Bayesian uncertainty and model comparison",
                 "MC dropout, aleatoric vs epistemic, calibration, temperature scaling", "60–90",
                 "GPU helps (optional)"),
    NotebookInfo("11", "ztf_final_project", "Final project: a ZTF transient classification system",
                 "alert pipeline, calibrated classifier, alerting, ALeRCE-style baseline", "120–180",
                 "GPU recommended"),
    NotebookInfo("12", "exowavenet_transit_detector", "ExoWaveNet: a WaveNet-style transit detector",
                 "dilated residual CNN, fold pooling, Kepler FITS, BLS baseline, injection–recovery", "120–180",
                 "GPU recommended"),
)


def notebook_info(number: str) -> NotebookInfo:
    """Catalogue entry for notebook ``number`` (e.g. ``"01"``)."""
    for info in NOTEBOOKS:
        if info.number == number:
            return info
    raise ValueError(f"number must be one of {[i.number for i in NOTEBOOKS]}, got {number!r}")


def info_for_path(path: Path) -> NotebookInfo:
    """Catalogue entry for a notebook file named ``NN_slug.ipynb``."""
    match = re.match(r"(\d\d)_", Path(path).name)
    if not match:
        raise ValueError(f"path {path} is not named like NN_slug.ipynb")
    info = notebook_info(match.group(1))
    if info.filename != Path(path).name:
        raise ValueError(f"path {path} should be named {info.filename} (see curriculum/catalog.py)")
    return info


def colab_url(relative_path: str, repository_url: str = REPOSITORY_URL, branch: str = BRANCH) -> str:
    """Open-in-Colab URL for a notebook at ``relative_path`` in the GitHub repository."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url)
    if not match:
        raise ValueError(f"repository_url must look like https://github.com/OWNER/REPO, got {repository_url!r}")
    owner, repo = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{branch}/{relative_path}"


def colab_badge(relative_path: str) -> str:
    """Markdown for an Open-in-Colab badge linking to ``relative_path``."""
    return f"[![Open In Colab]({COLAB_BADGE})]({colab_url(relative_path)})"
