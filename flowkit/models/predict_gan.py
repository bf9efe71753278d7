"""``"predict-gan"``: flowkit's classical video prediction refined by a small network trained
with an adversarial loss (Mathieu, Couprie and LeCun, "Deep multi-scale video prediction
beyond mean square error", ICLR 2016; the 3D-convolution discriminator of Vondrick et al.'s
video GANs).

Generator. ``flowkit.predict`` (semi-Lagrangian extrapolation of the last frame along the
motion of the newest pair) gives the classical frame ``P_k`` at each horizon k and the motion
per step ``m``. The network sees, per image channel, the last ``CONTEXT`` frames, ``P_k``, the
displacement ``k m`` (pixels / 16) and ``k / 4``, and outputs a residual ``r``::

    out_k = P_k + r_k

Each horizon's classical frame is refined on its own (not fed back): the semi-Lagrangian
``P_k`` samples the real last frame once, so it carries no chain of resamplings; feeding a
refined frame back would need a new flow from a generated frame and would show the network
its own errors, a distribution it never saw in training. The last layer starts at zero, so
an untrained generator is the classical prediction bit for bit.

Discriminator. 3D convolutions over the ``CONTEXT`` frames followed by a real or generated
frame, ``(N, 1, CONTEXT + 1, H, W)`` -> one logit per clip.

Loss (generator): ``Lp + GDL + adversarial_weight * BCE(D(context, out), real)`` with
Mathieu et al.'s Lp pixel loss, p = 2 (mean squared error, the default) or 1, and the
gradient-difference loss ``mean(| |dx truth| - |dx out| |) + same in y`` (alpha = 1).
"""

import torch
from torch import nn

from ._arrays import like, to_dtype, to_tensor
from .interp_refine import UNet3

CONTEXT = 4  # frames the network sees (older ones repeated when a clip is shorter)
IN_CHANNELS = CONTEXT + 4  # context, classical frame, displacement (2), horizon
FLOW_SCALE = 1.0 / 16.0
HORIZON_SCALE = 1.0 / 4.0


class PredictRefine(UNet3):
    """The generator's network: :class:`~flowkit.models.interp_refine.UNet3` ``IN_CHANNELS``
    -> 1 residual channel, 12 channels at full resolution (33k parameters), one image channel
    at a time.

    ``forward(features)`` takes ``(N, 8, H, W)`` float32 from :func:`features` (any H, W) and
    returns ``(N, 1, H, W)``, the residual in [0, 1] units.
    """

    def __init__(self, width=12):
        super().__init__(IN_CHANNELS, 1, width)


class Discriminator3D(nn.Module):
    """Spatio-temporal discriminator: ``(N, 1, T, H, W)`` clips (context then one real or
    generated frame, [0, 1]) -> ``(N,)`` logits; three 3D convolutions (3x3x3, ``width``,
    ``2 width``, ``4 width`` channels, strides 2 in space, the last also in time), global
    average, a linear layer (19k parameters with the default 8)."""

    def __init__(self, width=8):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv3d(1, w, 3, (1, 2, 2), 1), nn.LeakyReLU(0.2),
            nn.Conv3d(w, 2 * w, 3, (1, 2, 2), 1), nn.LeakyReLU(0.2),
            nn.Conv3d(2 * w, 4 * w, 3, (2, 2, 2), 1), nn.LeakyReLU(0.2))
        self.head = nn.Linear(4 * w, 1)

    def forward(self, clip):
        return self.head(self.body(clip).mean((2, 3, 4)))[:, 0]


def features(context, classical, displacement, horizon):
    """The generator's input ``(N, 8, H, W)``: ``context`` (N, CONTEXT, H, W) and
    ``classical`` (N, 1, H, W) in [0, 1], ``displacement`` (N, 2, H, W) in pixels (k times the
    motion), ``horizon`` (N,) the step k >= 1."""
    k = (HORIZON_SCALE * horizon.to(context.dtype)).view(-1, 1, 1, 1)
    return torch.cat([context, classical, FLOW_SCALE * displacement,
                      k.expand(-1, 1, *context.shape[-2:])], 1)


def generate(model, batch):
    """The refined frames ``(N, 1, H, W)`` in [0, 1] units: ``classical + model(features)``;
    ``batch`` holds ``context``, ``classical``, ``displacement``, ``horizon`` (see
    :func:`features`)."""
    x = features(batch["context"], batch["classical"], batch["displacement"], batch["horizon"])
    return batch["classical"] + model(x)


PIXEL_LOSSES = ("l2", "l1")


def pixel_loss(out, truth, kind="l2"):
    """Mathieu et al.'s Lp loss (eq. 1), a mean over pixels: ``"l2"`` ``mean((out - truth)^2)``
    or ``"l1"`` ``mean(|out - truth|)``. Their optima differ where the future is uncertain:
    L1's is the conditional median (for uncertain motion ~ the sharp classical frame, so an
    L1-trained residual stays ~0), L2's the conditional mean (the blur of the possible
    motions), which is what PSNR, a mean squared error, scores (docs/models.md)."""
    if kind not in PIXEL_LOSSES:
        raise ValueError(f"pixel_loss: expected one of {PIXEL_LOSSES}, got {kind!r}")
    diff = out - truth
    return (diff * diff).mean() if kind == "l2" else diff.abs().mean()


def gradient_difference(out, truth):
    """Mathieu et al.'s gradient-difference loss (alpha = 1), mean over pixels."""
    def grads(x):
        return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()

    (ox, oy), (tx, ty) = grads(out), grads(truth)
    return (ox - tx).abs().mean() + (oy - ty).abs().mean()


def clip_tensors(clip, predicted, motion, device="cpu"):
    """``flowkit.predict``'s inputs and outputs for one clip as the batch :func:`generate`
    takes, one sample per (horizon, image channel): ``clip`` (T, H, W[, C]), ``predicted``
    (horizon, H, W[, C]) and ``motion`` (H, W, 2), NumPy or CuPy (DLPack: no copy on the same
    device); intensities divided by ``scale``: the dtype's maximum for integers, for floats
    the first of 1, 255 and 65535 that bounds the clip (``_validate.learned_full_scale``, as
    ``interpolate(method="learned")`` and colorize scale them: a float clip in [0, 255] was
    fed unscaled to a network trained on [0, 1])."""
    from .._validate import learned_full_scale

    top = 0.0 if clip.dtype.kind == "u" else float(abs(clip).max())
    scale = learned_full_scale(clip.dtype, top)
    clip, predicted = to_tensor(clip, device), to_tensor(predicted, device)
    if clip.ndim == 3:
        clip, predicted = clip[..., None], predicted[..., None]
    horizon, channels = predicted.shape[0], clip.shape[-1]
    frames = clip[-CONTEXT:]
    if len(frames) < CONTEXT:  # the oldest frame repeated
        frames = torch.cat([frames[:1].expand(CONTEXT - len(frames), -1, -1, -1), frames])
    # (C, CONTEXT, H, W) repeated over the horizons; samples ordered (horizon, channel)
    context = (frames.permute(3, 0, 1, 2).to(torch.float32) / scale).repeat(horizon, 1, 1, 1)
    classical = predicted.permute(0, 3, 1, 2).reshape(horizon * channels, 1, *clip.shape[1:3])
    steps = torch.arange(1, horizon + 1, device=device).repeat_interleave(channels)
    m = to_tensor(motion, device).to(torch.float32).permute(2, 0, 1)[None]
    return {"context": context, "classical": classical.to(torch.float32) / scale,
            "displacement": steps.view(-1, 1, 1, 1).to(torch.float32) * m, "horizon": steps}, scale


def refine_arrays(model, clip, predicted, motion):
    """The refined prediction in the input's array library, shape and dtype (integers rounded
    and saturated; floats clipped to [0, 1], or to the range of ``clip`` where that is wider):
    ``predicted + scale * model(...)`` per horizon and channel. With a zero
    residual this returns ``predicted`` exactly."""
    device = next(model.parameters()).device
    batch, scale = clip_tensors(clip, predicted, motion, device)
    with torch.no_grad():
        residual = model(features(batch["context"], batch["classical"], batch["displacement"],
                                  batch["horizon"]))
    residual = residual.reshape(predicted.shape[0], -1, *residual.shape[-2:]).permute(0, 2, 3, 1)
    if predicted.ndim == 3:
        residual = residual[..., 0]
    residual = like(scale * residual, predicted)
    if predicted.dtype.kind == "f":
        # the classical prediction (bilinear and splat weights: convex combinations) never
        # leaves the context's range; keep the refined one within [0, 1] (the float convention)
        # or the context's own range where that is wider, as integers saturate
        low, high = min(0.0, float(clip.min())), max(1.0, float(clip.max()))
        return (predicted + residual.astype(predicted.dtype)).clip(low, high)
    return to_dtype(predicted.astype(residual.dtype) + residual, predicted.dtype)
