"""flowkit's learned-model layer (PyTorch, an optional extra: ``pip install "flowkit-cv[torch]"``).

A registry in the manner of torchvision's (``torchvision/models/_api.py``): :func:`list_models`,
:func:`get_model`, :func:`register_model`, :func:`get_weights`. Importing this package does not
import torch; building a model does. Weights ship inside the package (safetensors, loaded
without executing code) with their metadata; nothing is ever downloaded. See docs/models.md.
"""

from ._api import Weights, get_model, get_weights, list_models, register_model
from .adapters import list_adapters, register_interpolator, register_predictor

__all__ = ["Weights", "get_model", "get_weights", "list_models", "register_model",
           "list_adapters", "register_interpolator", "register_predictor"]
