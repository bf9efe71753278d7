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

    def forward(self, y):
        # channels-last as UNet3 (its parameters contiguous: state_dict() saves with save_file)
        y = y.contiguous(memory_format=torch.channels_last)
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
    """Y of a gray ``(H, W)`` or RGB ``(H, W, 3)`` frame (uint8, uint16 or float32, OpenCV's
    full-range BT.601 conversion in that dtype), in the frame's dtype (the input Y kept)."""
    import cv2

    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YCrCb)[..., 0]


def _working(frame):
    """``frame`` in a dtype OpenCV's YCrCb conversion takes: integers as they are (uint8,
    uint16), floats as float32 (still in their own units, [0, 1] by flowkit's convention)."""
    return frame if frame.dtype.kind == "u" else frame.astype(np.float32)


def _chroma(model, y):
    """CrCb ``(H, W, 2)`` float32 in [0, 1] that ``model`` predicts from the luma ``y`` (float32
    in [0, 1]; NaN read as 0 and values outside clipped, the range the model was trained on)."""
    device = next(model.parameters()).device
    y = np.clip(np.nan_to_num(y, nan=0.0), 0.0, 1.0).astype(np.float32)
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(y))[None, None].to(device)
        chroma = model(x.contiguous(memory_format=torch.channels_last))[0].permute(1, 2, 0)
    return chroma.cpu().numpy()


def predict_ycc(model, frame):
    """``frame`` (gray ``(H, W)`` or RGB ``(H, W, 3)``, uint8, uint16 or float32; only its
    luma is used) as ``(H, W, 3)`` YCrCb in its dtype and units: its own Y plane, bit for bit,
    and the chroma ``model`` predicts (integers: over the dtype's maximum, rounded; floats: in
    [0, 1], 0.5 is gray, OpenCV's float convention)."""
    from ._arrays import intensity_scale, to_dtype

    y = luma(frame)
    scale = intensity_scale(frame.dtype)  # 255, 65535, or 1 for floats ([0, 1])
    chroma = _chroma(model, y.astype(np.float32) / np.float32(scale))
    if frame.dtype.kind == "u":
        chroma = to_dtype(chroma * np.float32(scale), frame.dtype)
    return np.concatenate([y[..., None], chroma.astype(y.dtype, copy=False)], axis=2)


def colorize_array(model, frame):
    """:func:`predict_ycc` as ``(H, W, 3)`` RGB in the frame's dtype (OpenCV's conversion: its
    luma is the input's within RGB rounding, except where a colour is clipped to the range).

    ``frame`` is gray ``(H, W)`` or RGB ``(H, W, 3)`` of any image dtype flowkit takes;
    integers are scaled by their dtype's maximum, floats by the first of 1, 255 and 65535
    that bounds them (as ``interpolate(method="learned")`` scales them: a float frame in
    [0, 255] is coloured as the uint8 frame). The output is clipped to the input's range:
    ``[0, dtype max]`` for integers; for floats ``[0, scale]``, widened to the frame's own
    minimum and maximum where it lies outside."""
    import cv2

    from .._validate import learned_full_scale

    dtype = frame.dtype
    work = _working(frame)
    if dtype.kind == "u":
        return cv2.cvtColor(predict_ycc(model, work), cv2.COLOR_YCrCb2RGB)
    finite = work[np.isfinite(work)]  # float32
    low, high = (finite.min(), finite.max()) if finite.size else (np.float32(0), np.float32(0))
    scale = np.float32(learned_full_scale(dtype, float(max(high, -low))))
    if scale != 1:  # OpenCV's float YCrCb is in [0, 1] (chroma 0.5 is gray)
        work = work / scale
    rgb = cv2.cvtColor(predict_ycc(model, work), cv2.COLOR_YCrCb2RGB)
    # the frame's range in the scaled units (float32, as the scaled frame's), widened to [0, 1]
    low, high = min(0.0, float(low / scale)), max(1.0, float(high / scale))
    return (np.clip(rgb, low, high) * scale).astype(dtype)


def colorize_frame(frame, weights="default"):
    """The shipped ``"colorize"`` model (loaded once per process) on one frame.

    Parameters
    ----------
    frame : ndarray
        Gray ``(H, W)`` or ``(H, W, 1)``, or RGB ``(H, W, 3)`` (only its luma is used);
        uint8, uint16, float16, float32 or float64 (scaled as :func:`colorize_array` says).
    weights : str or Path
        As :func:`flowkit.models.get_model`'s.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` RGB in ``frame``'s dtype and range (see :func:`colorize_array`).

    Raises
    ------
    TypeError
        ``frame`` of another dtype; a torch tensor that requires grad.
    ValueError
        ``frame`` of another shape (a batch, 2 or 4 channels); a torch tensor laid out
        channels-first ``(C, H, W)``.
    """
    from .._backend import as_array, is_device_array
    from .._validate import check_one_frame
    from ._api import cached_model

    # host input through the checks every public function makes (a torch tensor that requires
    # grad raised torch's RuntimeError naming no parameter; a channels-first one was read as
    # a batch of gray frames); device arrays as np.asarray takes them
    frame = np.asarray(frame if is_device_array(frame) else as_array(frame, "frame", frames=True))
    check_one_frame("frame", frame)
    if frame.ndim == 3 and frame.shape[2] not in (1, 3):
        raise ValueError(f"frame: expected gray (H, W) or (H, W, 1), or RGB (H, W, 3), got "
                         f"shape {tuple(frame.shape)}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]  # gray with a channel axis (docs/conventions.md)
    return colorize_array(cached_model("colorize", weights), frame)
