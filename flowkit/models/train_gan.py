"""Training of ``"predict-gan"`` (``flowkit train predict-gan``), on the generic loop of
:mod:`flowkit.models.train`: clips sampled from videos or frame folders (forwards or played
backwards), the classical prediction of horizons 1-4 computed once per clip and cached,
random crops with flips, alternating discriminator and generator steps on
Lp (L2 or L1) + gradient difference + adversarial losses (Mathieu et al., ICLR 2016). See
docs/models.md for the runs that made the shipped weights."""

import numpy as np
import torch
import torch.nn.functional as F

from . import predict_gan
from ._float32 import float32_module
from .train import add_crops, flip, keeps_torch_state, moving, read_frames, train_model
from .train import fit  # noqa: F401  (the generic loop, also reached as train_gan.fit)

HORIZON = 4  # future frames per clip (the evaluation's horizons 1-4)
# the classical prediction the shipped weights were trained on, every option spelled out (the
# defaults of flowkit.predict when they were trained; recorded in the weights' metadata)
BASE = {"flow": "farneback", "context": 2, "average": "median", "scheme": "semi-lagrangian",
        "speed_spread": 0.0, "advect_flow": False}


def sample_clips(sources, *, count, shrink=2, rng):
    """About ``count`` gray uint8 clips of ``CONTEXT + HORIZON`` consecutive frames spread evenly
    over the sources (frames shrunk by ``shrink``), each played backwards with probability 1/2
    (time reversal); clips whose last context pair is static or a cut are skipped."""
    import cv2

    length = predict_gan.CONTEXT + HORIZON
    per_source = max(1, count // max(1, len(sources)))
    for source in sources:
        frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in read_frames(source, shrink)]
        if len(frames) < length:
            continue
        for k in np.linspace(0, len(frames) - length, per_source).astype(int):
            clip = frames[k:k + length]
            if rng.random() < 0.5:
                clip = clip[::-1]
            if moving(clip[predict_gan.CONTEXT - 2], clip[predict_gan.CONTEXT - 1]):
                yield np.stack(clip)


def clip_batch(clip, base=None):
    """One clip's samples (a dict of ``(HORIZON, ...)`` float32 tensors, key ``"truth"`` added):
    the classical prediction of ``flowkit.predict`` with the options ``base`` (default
    :data:`BASE`), as ``predict(..., method="gan")`` makes it with them."""
    import flowkit

    context, future = clip[:predict_gan.CONTEXT], clip[predict_gan.CONTEXT:]
    predicted, motion = flowkit.predict(context, HORIZON, return_flow=True, **(base or BASE))
    batch, scale = predict_gan.clip_tensors(context, predicted, motion)
    batch["truth"] = torch.from_numpy(future.astype(np.float32) / scale)[:, None]
    batch["horizon"] = batch["horizon"].to(torch.float32)
    return batch


def crops_from_clips(clips, *, crop, per_clip, rng, base=None):
    """``per_clip`` random crops (the same window at every horizon) of each clip's samples:
    a dict of ``(N, ...)`` float16 tensors, N = clips x per_clip x HORIZON."""
    crops = {}
    for clip in clips:
        h, w = clip.shape[1:3]
        if h < crop or w < crop:
            continue
        add_crops(crops, clip_batch(clip, base), crop=crop, count=per_clip, rng=rng)
    return {key: torch.cat(value) for key, value in crops.items()}


def augment(batch, rng):
    """Horizontal and vertical flips (displacement signs follow), one draw per batch
    (:func:`flowkit.models.train.flip`)."""
    return flip(batch, rng, ("displacement",))


def _clip(batch, frame):
    """The discriminator's input: the context followed by ``frame``, (N, 1, CONTEXT + 1, H, W)."""
    return torch.cat([batch["context"], frame], 1)[:, None]


def generator_losses(model, batch, pixel_loss="l2"):
    """The generated frames and their pixel (:func:`predict_gan.pixel_loss` of kind
    ``pixel_loss``) and gradient-difference losses against the truth."""
    out = predict_gan.generate(model, batch)
    return (out, predict_gan.pixel_loss(out, batch["truth"], pixel_loss),
            predict_gan.gradient_difference(out, batch["truth"]))


def make_step(adversarial_weight, pixel_loss="l2"):
    """The training step of :func:`flowkit.models.train.fit` for ``{"model", "disc"}``: one
    discriminator step (real: context + truth; fake: context + generated), then one generator
    step on ``Lp + GDL + adversarial_weight * BCE(D(fake), real)``, Lp the ``pixel_loss``
    (``"l2"`` or ``"l1"``, reported under that name). With weight 0 (no ``"disc"`` module)
    only the generator step runs: the Lp (+ GDL) variant of the same network."""
    def step(modules, optimizers, batch):
        model = modules["model"]
        out, lp, gdl = generator_losses(model, batch, pixel_loss)
        if not adversarial_weight:
            optimizers["model"].zero_grad()
            (lp + gdl).backward()
            optimizers["model"].step()
            return {"loss": (lp + gdl).item(), pixel_loss: lp.item(), "gdl": gdl.item()}
        disc = modules["disc"]
        real = disc(_clip(batch, batch["truth"]))
        fake = disc(_clip(batch, out.detach()))
        d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        optimizers["disc"].zero_grad()
        d_loss.backward()
        optimizers["disc"].step()
        judged = disc(_clip(batch, out))
        adv = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
        loss = lp + gdl + adversarial_weight * adv
        optimizers["model"].zero_grad()
        loss.backward()
        optimizers["model"].step()
        return {"loss": loss.item(), pixel_loss: lp.item(), "gdl": gdl.item(), "adv": adv.item(),
                "disc": d_loss.item()}

    return step


@keeps_torch_state
def train_predict_gan(data, out, *, epochs=4, crop=48, batch=12, lr=1e-3, device="cpu",
                      resume=None, seed=0, clips=200, per_clip=4, shrink=2, threads=2,
                      adversarial_weight=0.01, pixel_loss="l2", base=None, cache=None,
                      command="", progress=True, log=print):
    """What ``flowkit train predict-gan`` runs: sample clips from ``data``, compute (or load
    from ``cache``) the classical predictions (``flowkit.predict`` with the options ``base``,
    default :data:`BASE`) of random crops, train generator and discriminator on
    ``pixel_loss`` (``"l2"`` or ``"l1"``) + GDL + adversarial, write the generator's weights
    to ``out`` with metadata (``base`` and ``pixel_loss`` included).

    Parameters
    ----------
    data : str, Path or sequence of them
        Video files (.mp4, .avi, .mkv, .webm, .mov, .m4v), folders of such videos, or
        folders of frames (image files, in name order).
    out : str or Path
        The ``.safetensors`` file to write (atomically, replacing one); its metadata goes
        beside it as ``.json`` and a checkpoint to ``OUT.ckpt`` after each epoch.
    epochs : int
        Passes over the crops (>= 1).
    crop : int
        Side of the square crops, in pixels of the shrunk frames.
    batch : int
        Crops per optimisation step (>= 1).
    lr : float
        Adam's learning rate (> 0), decayed to ``lr / 20`` on a cosine over the run.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    resume : str or Path, optional
        A checkpoint ``OUT.ckpt`` of this same run (same data, seed and options; see
        :func:`flowkit.models.train.read_checkpoint`) to continue from; checked first.
    seed : int
        Seeds the sampling of clips and crops, the initial weights and the order of the
        batches.
    clips : int
        About how many clips (the context frames and the horizon's) to sample over the
        sources.
    per_clip : int
        Random crops of each clip.
    shrink : int
        The frames are shrunk by this factor (area averaging) before cropping.
    threads : int
        torch's CPU threads for the run (>= 1); the caller's count is restored after.
    adversarial_weight : float
        Weight of the discriminator's loss in the generator's; 0: no discriminator.
    pixel_loss : {"l2", "l1"}
        The generator's pixel loss, beside the gradient difference loss.
    base : dict, optional
        Options of :func:`flowkit.predict` for the classical predictions the generator
        refines (``flow``, ``flow_options``, ``context``, ``average``, ``smooth``, ``scheme``,
        ``n_iter``, ``speed_spread``, ``advect_flow``); default :data:`BASE`.
    cache : str or Path, optional
        Where the crops' classical predictions are cached (default ``OUT.cache.pt``),
        reused when made from the same files (paths, sizes, times), seed and crop options.
    command : str
        The command line recorded in the metadata (``flowkit train`` passes its own).
    progress : bool
        Progress bars on stderr.
    log : callable or None
        Called with each progress line (a str: the crops made or loaded, each epoch's mean
        losses); default ``print``; None: no lines.

    Returns
    -------
    dict
        The metadata written beside ``out``: ``model``, ``training_data``, ``command``,
        ``crops``, ``epochs``, ``adversarial_weight``, ``pixel_loss``, ``classical_base``,
        ``losses`` (each epoch's means: a dict of ``loss``, the pixel loss's and ``gdl``, and
        with a discriminator ``adv`` and ``disc``), ``wall_seconds``, ``threads``,
        ``num_params``, ``file_size`` (bytes), ``sha256``.

    Raises
    ------
    FileNotFoundError
        A path of ``data`` that does not exist, a missing folder for ``out``, or a ``resume``
        checkpoint that does not exist.
    IsADirectoryError
        ``out`` is a folder.
    TypeError
        ``epochs``, ``batch`` or ``threads`` not an integer, ``lr`` not a real number.
    ValueError
        ``epochs``, ``batch`` or ``threads`` below 1, ``lr`` not > 0, an unknown ``device`` (or
        a CUDA one without a CUDA build of torch and a GPU), a ``resume`` checkpoint of
        another run or model, a ``pixel_loss`` or ``base`` option not listed above (named
        ``--pixel-loss``, ``--base``), or, naming ``data``: an image file among the sources
        (a single image holds no clip), a folder with neither video nor image files, or no
        clip of enough frames of at least ``crop`` x ``crop`` pixels with motion.
    """
    if pixel_loss not in predict_gan.PIXEL_LOSSES:
        raise ValueError(f"--pixel-loss: expected one of {', '.join(predict_gan.PIXEL_LOSSES)}, "
                         f"got {pixel_loss!r}")
    base = dict(BASE if base is None else base)
    options = ("flow", "flow_options", "context", "average", "smooth", "scheme", "n_iter",
               "speed_spread", "advect_flow")  # flowkit.predict's, except the outputs'
    unknown = sorted(set(base) - set(options))
    if unknown:
        raise ValueError(f"--base: expected options of flowkit.predict ({', '.join(options)}), "
                         f"got {', '.join(map(repr, unknown))}")

    def make(sources, rng):
        found = sample_clips(sources, count=clips, shrink=shrink, rng=rng)
        return crops_from_clips(found, crop=crop, per_clip=per_clip, rng=rng, base=base)

    torch.manual_seed(seed)
    modules = {"model": float32_module(predict_gan.PredictRefine)}
    if adversarial_weight:
        modules["disc"] = float32_module(predict_gan.Discriminator3D)
    return train_model(
        "predict-gan", modules, data, out, make_crops=make,
        step=make_step(adversarial_weight, pixel_loss), augment=augment, epochs=epochs,
        batch=batch, lr=lr, device=device, resume=resume, seed=seed, threads=threads,
        cache=cache, command=command, progress=progress, log=log, per_sample=per_clip * HORIZON,
        meta={"adversarial_weight": adversarial_weight, "pixel_loss": pixel_loss,
              "classical_base": base},
        crop_options=dict(crop=crop, clips=clips, per_clip=per_clip, shrink=shrink, base=base),
        nothing=f"no clip of {predict_gan.CONTEXT + HORIZON} frames of at least {crop}x{crop} "
                f"pixels with motion",
        sequence=f"clip of {predict_gan.CONTEXT + HORIZON} frames",
        sequence_frames=predict_gan.CONTEXT + HORIZON)
