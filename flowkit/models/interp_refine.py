"""``"interp-refine"``: a small network that refines flowkit's classical frame interpolation
(the fusion stage of Super SloMo / RIFE, not a flow network).

The classical pipeline gives, at time t, the default method's result ``P``
(``flowkit.interpolate(method="project")``) and, from ``method="splat"``, both frames
softmax-splatted (``S0``, ``S1``) with their blending weights ``a = (1 - t) min(W0, 1)`` and
``b = t min(W1, 1)``, and the occlusion masks. The network sees these with the input frames
and the flows scaled to t, and outputs a log-weight ``d`` and a residual ``r``::

    out = P + m(d) - m(0) + r,    m(d) = (a e^d S0 + b e^-d S1) / (a e^d + b e^-d)

(``m = 0`` where ``a + b = 0``): ``P`` moved along ``S0 - S1`` as far as reweighting the
splats moves their blend, plus a residual. With ``d = r = 0`` this is ``P`` bit for bit; the
last layer starts at zero, so an untrained network is the classical pipeline. The network
sees intensities in [0, 1] (integers over their dtype maximum; gray frames repeated to three
channels); the fusion runs in the input's units, the residual scaled to them (averaged over
channels for gray frames).
"""

import torch
from torch import nn
import torch.nn.functional as F

from ._arrays import like, to_tensor

IN_CHANNELS = 23
BASE_METHOD = "project"  # the interpolate method refined (part of the training cache's key)
FLOW_SCALE = 1.0 / 16.0  # flows (pixels) into the network's input range
D_MAX = 4.0  # bound of the log-weight d: frame0's weight at most e^8 times frame1's


def _conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1))


def pad_to_multiple(x, multiple):
    """``(N, C, H, W)`` padded at the bottom and right (edge replicated) to multiples of
    ``multiple`` (the U-Nets' downsampling)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class UNet3(nn.Module):
    """A three-level U-Net ``cin`` -> ``cout`` channels: ``width`` channels at full resolution,
    ``2 width`` at 1/2 and 1/4; the last layer starts at zero (the network outputs 0 until
    trained). ``forward`` takes ``(N, cin, H, W)`` (any H, W: padded to a multiple of 4 inside,
    replicated edges) and returns ``(N, cout, H, W)``; it runs channels-last (NHWC: oneDNN's
    convolutions ran 0.60 s against 0.87 s on a 640x480 input, 2 threads): the input is made
    channels-last, and torch runs a convolution so when its input is. The parameters stay
    contiguous, so that ``state_dict()`` saves with safetensors' ``save_file`` (which refuses
    channels-last tensors as non-contiguous)."""

    def __init__(self, cin, cout, width):
        super().__init__()
        w = width
        self.enc1 = _conv(cin, w)
        self.enc2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.enc3 = nn.Sequential(_conv(2 * w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.dec2 = _conv(4 * w, 2 * w)
        self.dec1 = _conv(3 * w, w)
        self.head = nn.Conv2d(w, cout, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)
        h, w = x.shape[-2:]
        e1 = self.enc1(pad_to_multiple(x, 4))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2.0, mode="bilinear"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="bilinear"), e1], 1))
        return self.head(d1)[..., :h, :w]


class InterpRefine(UNet3):
    """:class:`UNet3` ``IN_CHANNELS`` -> (d, r_R, r_G, r_B), 16 channels at full resolution
    (61k parameters).

    ``forward(features)`` takes ``(N, 23, H, W)`` float32 from :func:`features` (any H, W)
    and returns ``(N, 4, H, W)``.
    """

    def __init__(self, width=16):
        super().__init__(IN_CHANNELS, 4, width)
        # He initialisation for the leaky ReLUs (zero biases): with torch's default the hidden
        # activations shrank to ~0.4 % of the input's scale before the zero head, so the head's
        # gradients and outputs stayed near zero for hundreds of steps (docs/models.md)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m is not self.head:
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)


def features(parts, scale=1.0):
    """The network input ``(N, 23, H, W)`` from the classical parts (a dict of tensors):
    ``frame0, frame1, s0, s1, base`` (N, C, H, W; ``base`` the result to refine, ``P``), C = 3
    or 1 (repeated), in units of which ``scale`` is full scale; ``a, b, occ0, occ1`` (N, 1, H, W); ``flow0, flow1``
    (N, 2, H, W): ``t F01`` and ``(1 - t) F10`` in pixels."""
    s0, s1 = _fallback(parts)
    images = [parts["frame0"], parts["frame1"], s0, s1, parts["base"]]
    images = [(x if x.shape[1] == 3 else x.expand(-1, 3, -1, -1)) / scale for x in images]
    return torch.cat(images + [parts["a"], parts["b"], parts["occ0"], parts["occ1"],
                               FLOW_SCALE * parts["flow0"], FLOW_SCALE * parts["flow1"]], 1)


def _fallback(parts):
    """Each splat with the classical result where nothing of it landed (weight 0)."""
    base = parts["base"]
    return (torch.where(parts["a"] > 0, parts["s0"], base),
            torch.where(parts["b"] > 0, parts["s1"], base))


def fuse(parts, d, residual):
    """``base + m(d) - m(0) + residual``, ``m(d) = (a e^d S0 + b e^-d S1) / (a e^d + b e^-d)``
    (0 where ``a + b = 0``); ``d`` (N, 1, H, W), ``residual`` (N, C, H, W) in the images' units
    (averaged to one channel for gray images). ``base`` exactly for ``d = 0`` and a zero
    residual."""
    s0, s1 = _fallback(parts)
    if s0.shape[1] != residual.shape[1]:
        residual = residual.mean(1, keepdim=True)

    def blend(wa, wb):
        total = wa + wb
        mixed = (wa * s0 + wb * s1) / torch.where(total > 0, total, torch.ones_like(total))
        return torch.where(total > 0, mixed, torch.zeros_like(mixed))

    a, b = parts["a"], parts["b"]
    return parts["base"] + (blend(a * torch.exp(d), b * torch.exp(-d)) - blend(a, b)) + residual


def run(model, parts, scale=1.0):
    """The refined frame ``(N, C, H, W)``, in the parts' units, from the classical parts (see
    :func:`features`)."""
    out = model(features(parts, scale).contiguous(memory_format=torch.channels_last))
    # d bounded to (-4, 4) (e^d overflowed to inf / inf = NaN in training); tanh(0) = 0 exactly
    return fuse(parts, D_MAX * torch.tanh(out[:, :1] / D_MAX), scale * out[:, 1:])


def _image(x, device):
    """(H, W[, C]) -> (1, C, H, W) float32 (C = 1 for gray)."""
    x = to_tensor(x, device).to(torch.float32)
    return (x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None])


def _plane(x, device):
    """(H, W) or (H, W, 1) -> (1, 1, H, W) float32."""
    x = to_tensor(x, device).to(torch.float32)
    return (x[..., 0] if x.ndim == 3 else x)[None, None]


def _flow(x, device):
    """(H, W, 2) -> (1, 2, H, W); unknown (not finite) vectors as 0, which only a flow unknown
    everywhere still has here (``"splat"`` fills the others, ``_interpolate._known_flows``)."""
    return torch.nan_to_num(to_tensor(x, device), nan=0.0, posinf=0.0, neginf=0.0).permute(2, 0, 1)[None]


def parts_tensors(f0, f1, t, parts, state, device="cpu"):
    """The classical parts (``flowkit._interpolate._learned_parts`` and its state: NumPy or CuPy
    arrays, one frame) as the dict of ``(1, C, H, W)`` tensors :func:`run` takes."""
    occ0, occ1 = state["occlusion0"], state["occlusion1"]
    zeros = torch.zeros((1, 1) + tuple(f0.shape[:2]), dtype=torch.float32, device=device)
    return {
        "frame0": _image(f0, device), "frame1": _image(f1, device),
        "s0": _image(parts["s0"], device), "s1": _image(parts["s1"], device),
        "base": _image(parts["base"], device),
        "a": _plane(parts["a"], device), "b": _plane(parts["b"], device),
        "occ0": zeros if occ0 is None else _plane(occ0, device),
        "occ1": zeros if occ1 is None else _plane(occ1, device),
        "flow0": t * _flow(state.get("splat_flow01", state["flow01"]), device),
        "flow1": (1 - t) * _flow(state.get("splat_flow10", state["flow10"]), device),
    }


def refine_arrays(model, f0, f1, t, parts, state, scale):
    """The refined frame in the input's array library, layout and units (float32) from
    ``flowkit._interpolate``'s splat parts and state."""
    device = next(model.parameters()).device
    with torch.no_grad():
        out = run(model, parts_tensors(f0, f1, t, parts, state, device), scale)[0]
    return like(out[0] if f0.ndim == 2 else out.permute(1, 2, 0), f0)
