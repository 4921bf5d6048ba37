"""Simulators that stand in for real survey data (training data comes from here)."""

from exowavenet_lib.simulate.models import bazin
from exowavenet_lib.simulate.sample import sample_observations
from exowavenet_lib.simulate.ztf import ZTF_MAG_LIMIT, ztf_flux_error

__all__ = ["ZTF_MAG_LIMIT", "bazin", "sample_observations", "ztf_flux_error"]
