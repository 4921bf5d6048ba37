"""Final project (notebook 11): a ZTF transient classification system — alert pipeline, production classifier,
random-forest baseline and alerting.

::

    from exowavenet_lib.ztf import ProductionTransientClassifier, SimulatedAlertSource, ZTFDataPipeline

    lightcurves = ZTFDataPipeline(SimulatedAlertSource(seed=0)).lightcurves(n=100)
    results = ProductionTransientClassifier.from_pretrained().classify_with_uncertainty(lightcurves)

Modules: :mod:`~exowavenet_lib.ztf.pipeline` (broker clients, quality cuts, alerts → light curves),
:mod:`~exowavenet_lib.ztf.classifier` (the shipped classifier, export, explanations, ``exowavenet classify``),
:mod:`~exowavenet_lib.ztf.features` and :mod:`~exowavenet_lib.ztf.baseline` (ALeRCE-style features, random forest),
:mod:`~exowavenet_lib.ztf.alerts` (rules, notifiers, persisted alert state).
"""

from exowavenet_lib.ztf.alerts import (
    Alert,
    AlertRule,
    EmailNotifier,
    JSONLNotifier,
    LogNotifier,
    TransientAlertSystem,
    WebhookNotifier,
)
from exowavenet_lib.ztf.baseline import RandomForestBaseline
from exowavenet_lib.ztf.classifier import ProductionTransientClassifier, classify_files
from exowavenet_lib.ztf.features import extract_features, features_table
from exowavenet_lib.ztf.pipeline import (
    AlerceClient,
    LasairClient,
    QualityCuts,
    SimulatedAlertSource,
    ZTFDataPipeline,
    ZTFServiceError,
    lightcurve_from_alerts,
)

__all__ = [
    "AlerceClient",
    "Alert",
    "AlertRule",
    "EmailNotifier",
    "JSONLNotifier",
    "LasairClient",
    "LogNotifier",
    "ProductionTransientClassifier",
    "QualityCuts",
    "RandomForestBaseline",
    "SimulatedAlertSource",
    "TransientAlertSystem",
    "WebhookNotifier",
    "ZTFDataPipeline",
    "ZTFServiceError",
    "classify_files",
    "extract_features",
    "features_table",
    "lightcurve_from_alerts",
]
