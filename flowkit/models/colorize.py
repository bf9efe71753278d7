"""``"colorize"``: a small encoder-decoder that colours a grayscale frame.

The network sees the luma Y (OpenCV's full-range BT.601 YCrCb, ``Y = 0.299 R + 0.587 G +
0.114 B``, in [0, 1]) and predicts the two chroma planes Cr, Cb; the output frame is the input
Y with the predicted chroma, converted to RGB (``cv2.COLOR_YCrCb2RGB``), so the luma is the
input's exactly (up to RGB rounding and gamut clipping). Trained self-supervised on colour
video (the frame's own chroma is the target; ``flowkit train colorize``, docs/models.md). Run
per frame it flickers; ``flowkit translate --op colorize`` makes it consistent.
"""

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .interp_refine import _conv, pad_to_multiple


class Colorize(nn.Module):
    """A four-level U-Net on the luma at half resolution (chroma carries little detail, as
    4:2:0 video assumes): ``width`` channels at 1/2, ``2 width`` at 1/4, ``4 width`` at 1/8
    and 1/16 (251k parameters with the default 16); the predicted chroma is upsampled
    bilinearly to full resolution.

    ``forward(y)`` takes ``(N, 1, H, W)`` float32 luma in [0, 1] (any H, W: padded to a
    multiple of 16 inside) and returns ``(N, 2, H, W)`` chroma in [0, 1] (0.5 is gray).
    """

    def __init__(self, width=16):
        super().__init__()
        w = width
        self.enc1 = _conv(1, w)
        self.enc2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.enc3 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.enc4 = nn.Sequential(_conv(4 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.dec3 = _conv(8 * w, 4 * w)
        self.dec2 = _conv(6 * w, 2 * w)
        self.dec1 = _conv(3 * w, w)
        self.head = nn.Conv2d(w, 2, 3, 1, 1)
        nn.init.zeros_(self.head.weight)  # untrained: gray output (chroma 0.5)
        nn.init.zeros_(self.head.bias)
        self.to(memory_format=torch.channels_last)

    def forward(self, y):
        h, w = y.shape[-2:]
        e1 = self.enc1(F.avg_pool2d(pad_to_multiple(y, 16), 2) - 0.5)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        up = lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear")  # noqa: E731
        d3 = self.dec3(torch.cat([up(e4), e3], 1))
        d2 = self.dec2(torch.cat([up(d3), e2], 1))
        d1 = self.dec1(torch.cat([up(d2), e1], 1))
        chroma = 0.5 + 0.5 * torch.tanh(up(self.head(d1)))
        return chroma[..., :h, :w]


def split(rgb):
    """An ``(H, W, 3)`` uint8 RGB frame as (Y ``(H, W)``, CrCb ``(H, W, 2)``), float32 in [0, 1]."""
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255
    return ycc[..., 0], ycc[..., 1:]


def luma(frame):
    """Y of a uint8 frame, ``(H, W)`` or ``(H, W, 3)`` RGB, as uint8 (the input Y kept)."""
    import cv2

    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YCrCb)[..., 0]


def predict_ycc(model, frame):
    """``frame`` (uint8 gray ``(H, W)`` or RGB ``(H, W, 3)``; only its luma is used) as
    ``(H, W, 3)`` uint8 YCrCb: its own Y plane, bit for bit, and the chroma ``model`` predicts."""
    y = luma(frame)
    device = next(model.parameters()).device
    with torch.no_grad():
        x = torch.from_numpy(y.astype(np.float32) / 255)[None, None].to(device)
        chroma = model(x.contiguous(memory_format=torch.channels_last))[0].permute(1, 2, 0)
    chroma = np.clip(np.rint(chroma.cpu().numpy() * 255), 0, 255).astype(np.uint8)
    return np.concatenate([y[..., None], chroma], axis=2)


def colorize_array(model, frame):
    """:func:`predict_ycc` as ``(H, W, 3)`` uint8 RGB (OpenCV's conversion: its luma is the
    input's within RGB rounding, except where a colour is clipped to the RGB gamut)."""
    import cv2

    return cv2.cvtColor(predict_ycc(model, frame), cv2.COLOR_YCrCb2RGB)


def colorize_frame(frame, weights="default"):
    """The shipped ``"colorize"`` model (loaded once per process) on one uint8 frame."""
    from ._api import cached_model

    return colorize_array(cached_model("colorize", weights), np.asarray(frame))
