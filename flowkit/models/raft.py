"""torchvision's RAFT as the flowkit estimator ``"raft"`` (``flow="raft"``, ``flow_options=
{"weights": path}``) with weights the user supplies from a local file: nothing is downloaded.

No torch import at module level: the estimator registry reads this function's signature
without importing torch.
"""

import functools
import os
from pathlib import Path

TORCHVISION = ('the "raft" estimator needs torchvision (torchvision.models.optical_flow), which '
               'is not installed: pip install torchvision, the build that matches your torch')


def require_packages():
    """``(torch, torchvision.models.optical_flow)``, or an ImportError that says which to
    install (torch's names the extra ``flowkit-cv[torch]``)."""
    from ._api import require_torch

    torch = require_torch()
    try:
        from torchvision.models import optical_flow
    except ImportError as exc:
        raise ImportError(TORCHVISION) from exc
    return torch, optical_flow


@functools.lru_cache(maxsize=4)
def _model(weights, stamp, small, device):
    """The network with the weights of the file ``weights`` (``stamp``: its resolved path, size
    and modification time, so that a file rewritten in place, or a relative path after a
    ``chdir``, loads the file there, as :func:`flowkit.models._api.cached_model` does)."""
    torch, optical_flow = require_packages()
    path = Path(weights)  # an existing file: raft() checked it (check_options)
    build = optical_flow.raft_small if small else optical_flow.raft_large
    model = build(weights=None, progress=False)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load

            state = load(path.read_bytes())  # read, not mapped: see _api.load_state
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)  # executes no code
        model.load_state_dict(state)
    except Exception as exc:  # unreadable file or another architecture: one clear error
        raise ValueError(f"weights: {str(path)!r} is not a state dict of torchvision's "
                         f"{'raft_small' if small else 'raft_large'} "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    return model.to(device).eval()


def _rgb(frame, device):
    """``(H, W[, C])`` frame -> ``(1, 3, H, W)`` float32 in [-1, 1] (RAFT's input range)."""
    import torch

    from ._arrays import intensity_scale, to_tensor

    x = to_tensor(frame, device).to(torch.float32) / intensity_scale(frame.dtype)
    x = x[..., None] if x.ndim == 2 else x[..., :3]
    x = x.expand(-1, -1, 3) if x.shape[-1] == 1 else x
    return (2 * x - 1).permute(2, 0, 1)[None]


def check_options(weights, small=True, num_flow_updates=12):
    """What :func:`raft` can check before any frame (``get_estimator``'s option check): ``small``
    a bool, ``num_flow_updates`` an integer >= 1 (0 was torch's IndexError, 2.5 ran 2 updates),
    the weights file is given and exists, and torchvision is installed (found, not imported:
    ``flowkit batch`` runs this on the client before its workers start; torch is imported only
    where torchvision is missing, to say which to install)."""
    import importlib.util

    from .._validate import check_bool, check_int

    check_bool("small", small)
    check_int("num_flow_updates", num_flow_updates, min_value=1)
    if weights is None:
        raise ValueError("weights: expected the path of a local RAFT state dict (flow_options="
                         "{'weights': path}, on the command line -O weights=PATH, with flowkit "
                         "batch -O \"flow_options={'weights': 'PATH'}\"; nothing is "
                         "downloaded), got None")
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights: expected the path of a local RAFT state dict, got "
                        f"{type(weights).__name__}")
    if not Path(weights).is_file():
        raise FileNotFoundError(f"weights: no such file {str(weights)!r}")
    if importlib.util.find_spec("torchvision") is None:
        from ._api import require_torch

        require_torch()  # torch missing too: its ImportError, which names the extra
        raise ImportError(TORCHVISION)


def raft(frame0, frame1, *, weights=None, small=True, num_flow_updates=12, device=None):
    """Optical flow by torchvision's RAFT, the weights loaded from a local file.

    Parameters
    ----------
    frame0, frame1 : array, (H, W) or (H, W, C)
        One pair of frames of one shape and dtype (uint8, uint16 or float in [0, 1]); gray
        frames are repeated to RGB, a fourth channel is dropped. Any H, W: frames are padded
        (replicated edges, bottom and right) to a multiple of 8 and to at least 128 (RAFT's
        correlation pyramid needs 1/8-resolution features of 16) and the flow cropped back.
        NumPy or CuPy (DLPack, no copy on the model's device).
    weights : str or Path
        A state dict of ``torchvision.models.optical_flow.raft_small`` (``small=True``) or
        ``raft_large``: a ``torch.save`` file (loaded with ``weights_only=True``: no code is
        executed) or ``.safetensors``. Required: nothing is downloaded.
    small : bool
        ``raft_small`` (990k parameters) or ``raft_large`` (5.3M).
    num_flow_updates : int
        Recurrent refinement iterations (torchvision's default 12).
    device : {None, "cpu", "cuda"}
        Where the network runs; None: CUDA for CuPy input, else the CPU.

    Returns
    -------
    flow : array, (H, W, 2), float32
        ``flow[..., 0] = u`` (x), ``flow[..., 1] = v`` (y), ``frame0[y, x] ~ frame1[y + v,
        x + u]`` (flowkit's convention, which is RAFT's), in the input's array library.

    Raises
    ------
    ImportError
        torch or torchvision missing (the message names what to install).
    ValueError
        ``weights`` not given, not a state dict of the architecture; frames of different
        shapes; ``num_flow_updates`` < 1.
    TypeError
        ``small`` not a bool; ``num_flow_updates`` not an integer.
    FileNotFoundError
        ``weights`` does not exist.

    References: Z. Teed and J. Deng, "RAFT: Recurrent All-Pairs Field Transforms for Optical
    Flow", ECCV 2020; torchvision's ``models/optical_flow/raft.py``.
    """
    check_options(weights, small, num_flow_updates)
    if frame0.shape != frame1.shape or frame0.ndim not in (2, 3):
        raise ValueError(f"frame1: expected one frame of frame0's shape {tuple(frame0.shape)}, "
                         f"got {tuple(frame1.shape)}")
    h, w = frame0.shape[:2]
    if device is None:
        device = "cuda" if type(frame0).__module__.startswith("cupy") else "cpu"
    from ._api import check_device, require_torch

    torch = require_torch()  # without torch: the error names the extra
    import torch.nn.functional as F

    from ._arrays import like

    check_device(device)
    info = Path(weights).stat()
    stamp = (str(Path(weights).resolve()), info.st_size, info.st_mtime_ns)
    model = _model(str(weights), stamp, bool(small), str(device))
    pad = (0, max(128, w + (-w) % 8) - w, 0, max(128, h + (-h) % 8) - h)
    a, b = (F.pad(_rgb(f, device), pad, mode="replicate") for f in (frame0, frame1))
    with torch.no_grad():
        flow = model(a, b, num_flow_updates=int(num_flow_updates))[-1]
    return like(flow[0, :, :h, :w].permute(1, 2, 0).float(), frame0)
