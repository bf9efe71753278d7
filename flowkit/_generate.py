"""``flowkit.generate``: a clip from a caption or condition vector with a conditional video
generator of flowkit.models (``"text2video-shapes"``). torch is imported on the first call."""

import numbers

import numpy as np


# generate's TypeError for a value that is neither a caption nor a vector, then what it got
_NOT_A_CAPTION = "caption_or_condition: expected a caption (str) or a 1-D vector of numbers, got "


def generate(caption_or_condition, *, model="text2video-shapes", frames=16, seed=None,
             device=None, text_encoder=None):
    """Generate a video clip from a caption (or a text vector) with a conditional video GAN.

    The generator of ``"text2video-shapes"`` (docs/models.md): a condition encoder, a
    content/motion generator (a sprite and its colour per clip, a GRU that moves it frame by
    frame, drawn by a spatial transformer) trained adversarially against a projection video
    discriminator on captioned moving shapes, in the manner of Sync-DRAW's captioned Moving
    MNIST (Mittal et al., ACM MM 2017) and MoCoGAN (Tulyakov et al., CVPR 2018).

    Parameters
    ----------
    caption_or_condition : str or array-like
        A caption in the model's vocabulary (``flowkit.models.shapes.VOCABULARY``:
        ``"a [small|big] red|green|blue|yellow circle|square|triangle moves
        left|right|up|down [slowly|quickly]"``: one colour, one shape and one direction word,
        at most one size and one speed word, in any order), or a text vector (1-D, the length the model's
        condition encoder takes: ``len(VOCABULARY)`` word counts for the shipped model).
    model : str, Path or torch.nn.Module
        A registered model name (``"text2video-shapes"``: the shipped weights), a path to a
        ``.safetensors`` file of that architecture (``flowkit train text2video-shapes``), or a
        ``flowkit.models.text2video.Text2Video`` module.
    frames : int
        Number of frames, >= 1 (the model was trained on 16; beyond that the motion continues
        as the GRU extrapolates and the shape may leave the picture).
    seed : int, optional
        Seed of the noise vector ``z`` (NumPy's default generator): the same seed, caption and
        model give the same clip; None draws fresh noise.
    device : {None, "cpu", "cuda", "cuda:N"} or torch.device
        Where the network runs (None: CPU; for a module, where it lives: a module is neither
        moved nor left in another mode, and a ``device`` other than its own is a
        ``ValueError``); ``"cuda"`` needs a CUDA build of torch and a GPU.
    text_encoder : callable, optional
        ``str -> vector`` used instead of the built-in tokeniser (e.g. a local
        sentence-transformers model's ``encode``); its vectors must have the length the
        model's condition encoder takes (train one with ``Text2Video(text_dim=N)``).

    Returns
    -------
    ndarray
        RGB uint8 ``(frames, 32, 32, 3)`` on a black background.

    Raises
    ------
    ValueError
        A caption with words outside the vocabulary (the message names them and lists the
        vocabulary), or without exactly one colour, one shape and one direction word, or with
        two size or two speed words (unless ``text_encoder`` is given); a condition vector of the wrong length or not finite; ``frames`` < 1;
        an unknown model name.
    TypeError
        ``caption_or_condition`` neither a string nor a vector of numbers (None, a single
        number and complex values included); ``frames`` or ``seed`` not an integer;
        ``text_encoder`` not callable; ``model`` of another type.
    ImportError
        PyTorch is not installed (the message names the extra ``flowkit-cv[torch]``).

    Examples
    --------
    >>> clip = flowkit.generate("a red circle moves left", seed=0)  # doctest: +SKIP
    >>> clip.shape, clip.dtype  # doctest: +SKIP
    ((16, 32, 32, 3), dtype('uint8'))
    """
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral):
        raise TypeError(f"frames: expected an integer >= 1, got {frames!r}")
    if frames < 1:
        raise ValueError(f"frames: expected an integer >= 1, got {frames!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed: expected None or an integer >= 0, got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    if text_encoder is not None and not callable(text_encoder):
        raise TypeError(f"text_encoder: expected None or a callable str -> vector, got "
                        f"{type(text_encoder).__name__}")
    if caption_or_condition is None:
        raise TypeError(f"{_NOT_A_CAPTION}None")
    if isinstance(caption_or_condition, str):
        from .models.shapes import check_caption

        if text_encoder is None:
            check_caption(caption_or_condition)  # caption errors before torch is imported
    else:
        if np.iscomplexobj(caption_or_condition):  # the cast dropped the imaginary part
            raise TypeError(f"{_NOT_A_CAPTION}complex values")
        try:
            vector = np.asarray(caption_or_condition, dtype=np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"{_NOT_A_CAPTION}{type(caption_or_condition).__name__}") from None
        if vector.ndim == 0:  # one number (flowkit.generate(42)): neither a caption nor a vector
            raise TypeError(f"{_NOT_A_CAPTION}{type(caption_or_condition).__name__} "
                            f"{caption_or_condition!r}")
        if vector.ndim != 1 or not vector.size:
            raise ValueError(f"caption_or_condition: expected a finite 1-D vector, got shape "
                             f"{vector.shape}")
        if not np.all(np.isfinite(vector)):
            raise ValueError("caption_or_condition: expected a finite 1-D vector, got NaN or "
                             "infinite values")
    from .models._api import require_torch

    torch = require_torch()
    from .models import text2video
    from .models._api import check_device

    check_device(device)
    net = _load(model, device)
    if isinstance(caption_or_condition, str):
        vector = text2video.text_vectors([caption_or_condition], text_encoder)[0]
    if len(vector) != net.text_dim:
        what = "text_encoder" if text_encoder is not None else "caption_or_condition"
        raise ValueError(f"{what}: expected a text vector of length {net.text_dim} for this "
                         f"model, got {len(vector)}")
    z = np.random.default_rng(seed).standard_normal((1, text2video.shapes.Z_DIM))
    param = next(net.parameters())
    training = net.training  # a caller's module is left in the mode it was given in
    try:
        with torch.no_grad():
            clip = net.eval()(torch.from_numpy(vector[None]).to(param.device),
                              torch.from_numpy(z.astype(np.float32)).to(param.device), frames)[0]
    finally:
        net.train(training)
    return (clip.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _load(model, device):
    """The generator module for ``model`` (a name, a weights path or a module)."""
    from pathlib import Path

    import torch
    from torch import nn

    from ._validate import renaming
    from .models import _api
    from .models.text2video import Text2Video

    generators = [name for name in _api.list_models()  # by the class their builder names
                  if _api._REGISTRY[name][0] in (Text2Video, "flowkit.models.text2video:Text2Video")]
    expected = (f"a registered video generator's name ({', '.join(generators)}), a .safetensors "
                "path or a Text2Video module")
    if isinstance(model, nn.Module):
        if not isinstance(model, Text2Video):  # before anything is done with it
            raise TypeError(f"model: expected {expected}, got {type(model).__name__!r}")
        where = next(model.parameters()).device
        wanted = torch.device(device or where)
        if wanted.type != where.type or wanted.index not in (None, where.index):
            # the caller's module is not moved behind their back (its optimizer's state would
            # stay where it was): they move it, or leave device None
            raise ValueError(f"device: expected None or the device the model lives on "
                             f"({where}), got {str(device)!r} (move it: model.to(device))")
        return _api.check_float32(model)
    if isinstance(model, Path) or (isinstance(model, str)
                                   and model.lower().endswith(".safetensors")):
        with renaming("weights", "model"):  # a missing or unreadable file names model
            net = _api.get_model("text2video-shapes", weights=model, device=device)
    elif isinstance(model, str):
        if model not in _api.list_models():  # not the registry's "name: expected one of ..."
            raise ValueError(f"model: expected {expected}, got {model!r}")
        net = _api.cached_model(model) if device is None else _api.get_model(model, device=device)
    else:
        raise TypeError(f"model: expected {expected}, got {type(model).__name__}")
    if not isinstance(net, Text2Video):
        raise (ValueError if isinstance(model, str) else TypeError)(
            f"model: expected {expected}, got {model if isinstance(model, str) else type(model).__name__!r}")
    return net
