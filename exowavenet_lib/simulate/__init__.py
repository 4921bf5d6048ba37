"""Simulators that stand in for real survey data (training data comes from here)."""

from exowavenet_lib.simulate.models import bazin
from exowavenet_lib.simulate.sample import sample_observations
from exowavenet_lib.simulate.transients import REALISTIC_CLASS_WEIGHTS, TRANSIENT_CLASSES, simulate_transients
from exowavenet_lib.simulate.ztf import ZTF_MAG_LIMIT, ztf_flux_error

__all__ = [
    "REALISTIC_CLASS_WEIGHTS",
    "TRANSIENT_CLASSES",
    "ZTF_MAG_LIMIT",
    "bazin",
    "sample_observations",
    "simulate_transients",
    "ztf_flux_error",
]
