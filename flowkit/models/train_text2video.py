"""Training of ``"text2video-shapes"`` (``flowkit train text2video-shapes``): batches of
captioned shape clips rendered on the fly from the training combinations
(:func:`shapes.sample`), a hinge-loss GAN with a projection discriminator plus an L1
reconstruction term, atomic checkpoints and resume, fixed seeds. See docs/models.md."""

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import shapes
from .text2video import Text2Video, VideoDiscriminator, text_vectors
from ._api import check_device
from ._float32 import float32_module
from .train import (check_numbers, check_start, keeps_torch_state, load_checkpoint,
                    save_checkpoint, save_weights)


def batch_tensors(examples, text_encoder=None, device="cpu"):
    """(text vectors (N, D), z (N, Z_DIM), real clips (N, T, 3, S, S) in [0, 1]) of a list of
    ``(attrs, z)`` (:func:`shapes.sample`)."""
    text = text_vectors([shapes.caption(a) for a, _ in examples], text_encoder)
    z = np.stack([z for _, z in examples]).astype(np.float32)
    real = np.stack([shapes.render(a, z) for a, z in examples])
    real = torch.from_numpy(real).permute(0, 1, 4, 2, 3).float() / 255
    return torch.from_numpy(text).to(device), torch.from_numpy(z).to(device), real.to(device)


FOREGROUND_WEIGHT = 4.0  # the true shape's pixels weigh 1 + 4 = 5 times the background's in the L1
MOMENT_WEIGHT = 5.0


def _moments(clips):
    """Per frame: the mean of each channel, the brightness centroid (x, y in [0, 1]), 4 times
    its spread (standard deviations in x and y) and a fifth of its vertical skewness, (N, T, 8).
    Their L1 distance pulls the generated shape towards the true one before the two overlap
    (the pixel L1 alone has no gradient for the position then, and drives the sprite to
    black), and gives dense gradients for its size (spread), squareness (a square's spread is
    h / sqrt(3), a disc's h / 2) and triangle (skewness -0.57, others 0)."""
    mass = clips.sum(2)  # (N, T, S, S)
    total = mass.sum((2, 3)) + 1e-3
    s = torch.linspace(0, 1, clips.shape[-1], dtype=clips.dtype, device=clips.device)
    px, py = mass.sum(2) / total[..., None], mass.sum(3) / total[..., None]  # marginals
    cx, cy = (px * s).sum(2), (py * s).sum(2)
    dx, dy = s - cx[..., None], s - cy[..., None]
    sx = torch.sqrt((px * dx ** 2).sum(2) + 1e-4)
    sy = torch.sqrt((py * dy ** 2).sum(2) + 1e-4)
    skew = (py * dy ** 3).sum(2) / sy ** 3
    return torch.cat([clips.mean((3, 4)), torch.stack([cx, cy, 4 * sx, 4 * sy, skew / 5], 2)], 2)


def losses(generator, discriminator, text, z, real, adv_weight, keep):
    """(discriminator loss, generator loss, reconstruction L1) of one batch, on the frames
    ``keep`` of the clips (every other frame). The discriminator sees the condition detached
    (the encoder learns through the generator)."""
    cond = generator.encode(text)
    fake = generator.generate(cond, z, real.shape[1], keep)
    real = real[:, keep]
    c = cond.detach()
    d_loss = (F.relu(1 - discriminator(real, c)).mean()
              + F.relu(1 + discriminator(fake.detach(), c)).mean())
    weight = 1 + FOREGROUND_WEIGHT * (real.amax(2, keepdim=True) > 0.1).to(real.dtype)
    rec = ((fake - real).abs() * weight).mean() + MOMENT_WEIGHT * (_moments(fake) - _moments(real)).abs().mean()
    return d_loss, rec + adv_weight * -discriminator(fake, c).mean(), rec


_OPTIMIZERS = ("opt_g", "opt_d", "sched_g", "sched_d")  # fit_gan's checkpoint entries, after
# "generator" and "discriminator"


def fit_gan(generator, discriminator, *, steps, batch_size=32, lr=2e-3, adv_weight=0.02,
            seed=0, checkpoint=None, every=100, resume=None, device="cpu", text_encoder=None,
            progress=True, log=None, until=None, run=None):
    """Train ``generator`` and ``discriminator`` for ``steps`` batches; returns the mean
    (discriminator, generator, reconstruction) losses of each ``every`` steps. A checkpoint
    is written atomically to ``checkpoint`` every ``every`` steps and at the end, with ``run``
    (the record of the run, :func:`flowkit.models.train.read_checkpoint`); ``resume`` (a path,
    or a checkpoint ``read_checkpoint`` returned) continues from one; ``until`` stops after
    that step (as an interrupted run would)."""
    from tqdm import tqdm

    check_device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator.to(device).train()
    discriminator.to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    sched_g = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, steps, lr / 20)
    sched_d = torch.optim.lr_scheduler.CosineAnnealingLR(opt_d, steps, lr / 20)
    parts = {"generator": generator, "discriminator": discriminator,
             **dict(zip(_OPTIMIZERS, (opt_g, opt_d, sched_g, sched_d)))}
    start, history, window = 0, [], []
    if resume is not None:
        state = load_checkpoint(resume, parts, rng, run)
        start, history, window = state["step"], state["losses"], state["window"]
    stop = steps if until is None else min(until, steps)
    bar = tqdm(range(start, stop), initial=start, total=steps, disable=not progress,
               file=sys.stderr, desc="text2video-shapes")
    for step in bar:
        text, z, real = batch_tensors(shapes.sample(rng, batch_size), text_encoder, device)
        keep = list(range(int(rng.integers(0, 2)), shapes.FRAMES, 2))
        d_loss, g_loss, rec = losses(generator, discriminator, text, z, real, adv_weight, keep)
        opt_d.zero_grad()
        d_loss.backward(inputs=list(discriminator.parameters()))
        opt_d.step()
        opt_g.zero_grad()
        g_loss.backward(inputs=list(generator.parameters()))
        opt_g.step()
        sched_g.step()
        sched_d.step()
        window.append((d_loss.item(), g_loss.item(), rec.item()))
        bar.set_postfix(d=f"{window[-1][0]:.3f}", g=f"{window[-1][1]:.4f}", l1=f"{window[-1][2]:.4f}")
        if (step + 1) % every == 0 or step + 1 == steps:
            history.append([round(float(v), 5) for v in np.mean(window, 0)])
            window = []
            if log is not None:
                log(f"step {step + 1}/{steps}: d {history[-1][0]:.4f}, g {history[-1][1]:.4f}, "
                    f"l1 {history[-1][2]:.5f}")
        if checkpoint is not None and ((step + 1) % every == 0 or step + 1 == stop):
            save_checkpoint(checkpoint, parts, rng, run=run, step=step + 1, losses=history,
                            window=window)
    return history


@keeps_torch_state
def train_text2video(out, *, steps=3000, batch=32, lr=2e-3, adv_weight=0.02, device="cpu",
                     resume=None, seed=0, threads=2, command="", progress=True, log=print):
    """What ``flowkit train text2video-shapes`` runs: train on generated clips, write ``out``
    (the generator and condition encoder) and its metadata. Returns the metadata dict.
    Before any step: ``device``, the folder of ``out`` and the checkpoint ``resume`` (the same
    model, ``seed``, ``steps``, ``batch``, ``lr`` and ``adv_weight``, unfinished) are checked
    (:func:`flowkit.models.train.check_start`, every model's).

    Parameters
    ----------
    out : str or Path
        The ``.safetensors`` file to write (atomically, replacing one); its metadata goes
        beside it as ``.json`` and a checkpoint to ``OUT.ckpt`` every 100 steps and at the end.
    steps : int
        Optimisation steps, each on a new batch of generated clips (>= 1).
    batch : int
        Clips per step (>= 1).
    lr : float
        Adam's learning rate (> 0) for both networks, decayed to ``lr / 20`` on a cosine.
    adv_weight : float
        Weight of the adversarial loss in the generator's, beside its L1 reconstruction loss.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    resume : str or Path, optional
        A checkpoint ``OUT.ckpt`` of this same run to continue from.
    seed : int
        Seeds the initial weights and the clips drawn.
    threads : int
        torch's CPU threads for the run (>= 1); the caller's count is restored after.
    command : str
        The command line recorded in the metadata (``flowkit train`` passes its own).
    progress : bool
        A progress bar on stderr.
    log : callable or None
        Called with a line (a str) of the mean losses every 100 steps; default ``print``;
        None: no lines.

    Returns
    -------
    dict
        The metadata written beside ``out``: ``model``, ``training_data``, ``command``,
        ``steps``, ``batch``, ``losses`` (the discriminator's, generator's and L1 means per
        100 steps), ``wall_seconds``, ``threads``, ``num_params``, ``file_size`` (bytes),
        ``sha256``.

    Raises
    ------
    FileNotFoundError
        A missing folder for ``out``, or a ``resume`` checkpoint that does not exist.
    IsADirectoryError
        ``out`` is a folder.
    TypeError
        ``steps``, ``batch`` or ``threads`` not an integer, ``lr`` not a real number.
    ValueError
        ``steps``, ``batch`` or ``threads`` below 1, ``lr`` not > 0, an unknown ``device`` (or
        a CUDA one without a CUDA build of torch and a GPU), or a ``resume`` checkpoint of
        another run or model.
    """
    torch.manual_seed(seed)
    generator = float32_module(Text2Video)
    discriminator = float32_module(VideoDiscriminator)
    run = {"model": "text2video-shapes", "seed": seed, "steps": steps, "batch": batch, "lr": lr,
           "adv_weight": adv_weight}
    check_numbers(steps=steps, batch=batch, threads=threads, lr=lr)
    resume = check_start(out, device, resume, run, {"generator": generator,
                                                    "discriminator": discriminator,
                                                    **dict.fromkeys(_OPTIMIZERS)})
    torch.set_num_threads(threads)
    began = time.perf_counter()
    history = fit_gan(generator, discriminator, steps=steps, batch_size=batch, lr=lr,
                      adv_weight=adv_weight, seed=seed, checkpoint=str(out) + ".ckpt",
                      resume=resume, device=device, progress=progress, log=log, run=run)
    meta = {"model": "text2video-shapes",
            "training_data": "flowkit.models.shapes: training combinations (not is_held_out), "
                             "rendered on the fly",
            "command": command, "steps": steps, "batch": batch,
            "losses": {"columns": ["discriminator", "generator", "l1"], "per_100_steps": history},
            "wall_seconds": round(time.perf_counter() - began), "threads": threads}
    return save_weights(generator.cpu(), out, meta)
