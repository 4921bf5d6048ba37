"""Simulators that stand in for real survey data (training data comes from here)."""

from exowavenet_lib.simulate.models import bazin
from exowavenet_lib.simulate.sample import sample_observations
from exowavenet_lib.simulate.transients import REALISTIC_CLASS_WEIGHTS, TRANSIENT_CLASSES, simulate_transients
from exowavenet_lib.simulate.transits import (
    TransitSimulation,
    in_transit_mask,
    simulate_transits,
    transit_model,
    transit_snr,
)
from exowavenet_lib.simulate.ztf import ZTF_MAG_LIMIT, ztf_flux_error

__all__ = [
    "REALISTIC_CLASS_WEIGHTS",
    "TRANSIENT_CLASSES",
    "TransitSimulation",
    "ZTF_MAG_LIMIT",
    "bazin",
    "in_transit_mask",
    "sample_observations",
    "simulate_transients",
    "simulate_transits",
    "transit_model",
    "transit_snr",
    "ztf_flux_error",
]
