"""ExoWaveNet: the helper library shared by every notebook of the curriculum.

Notebooks import it the same way everywhere::

    from exowavenet_lib import seed_everything, get_device, smoke_mode
"""

from exowavenet_lib.runtime import get_device, seed_everything, smoke_mode

__version__ = "0.1.0"
__all__ = ["__version__", "get_device", "seed_everything", "smoke_mode"]
