"""Networks built in float32 whatever ``torch.get_default_dtype()`` is (a host's numerical
code may have called ``torch.set_default_dtype(torch.float64)``), with the initial weights a
float32 default would draw: :func:`float32_module`, used by :func:`~flowkit.models.get_model`
for the built-in models and by the trainers."""

import torch
from torch.overrides import TorchFunctionMode

# torch's factories that make tensors of the default dtype when given none
_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.linspace,
              torch.eye}


class _Float32Factories(TorchFunctionMode):
    """Within it, this thread's calls of :data:`_FACTORIES` without a dtype make float32
    tensors (``torch.set_default_dtype`` would change every thread's)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES and kwargs.get("dtype") is None:
            kwargs["dtype"] = torch.float32
        return func(*args, **kwargs)


def float32_module(build):
    """``build()`` (a network's class or a builder) in float32, its initial weights drawn as
    under a float32 default (the same seed, the same weights): after
    ``torch.set_default_dtype(torch.float64)`` networks were built in float64 and met float32
    input ("Input type (float) and bias type (double)"); a plain ``.float()`` afterwards would
    keep float64 draws rounded, other weights than a float32 default's."""
    with _Float32Factories():
        return build().float()
