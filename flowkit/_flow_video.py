"""The colour-coded flow video of a video: one writer for ``flowkit flow --video`` and the
``flow`` job of ``flowkit.batch`` (whole or split in chunks), so that they write the same file.

The picture of the pair (k, k + 1) (:func:`flowkit.flow_to_color`) is written at frame k's time
counted from the first frame (a variable frame rate is kept; the stream's nominal rate is that
of the grid the times lie on, ``VideoInfo.base_rate``, divided by the frame step); a time within
one unit of the input's timestamps of a point of that grid is written at the grid point
(``video.grid_timing``: ``retime``'s rule, so that the output reads back at ``retime``'s rate:
the 29.97 fps WebM's millisecond times made a 30000/1001 fps .mp4, now 2997/100), stored in
the input's coded orientation with its display rotation as a tag (AVI: upright, no tag, a
frame on the ``1 / fps`` slot of the one before dropped). The colour
tags are not copied: they describe the input's frames, not pictures of their flow; a YUV video
is tagged with the BT.601 matrix and limited range its pictures are converted with
(``PICTURE_COLOR``; untagged, players took the matrix of an HD size for BT.709 and shifted the
wheel's hues; MJPEG states BT.601 full range itself, FFV1 stores RGB). A forced
``fps`` writes a constant rate instead; a folder of images (no ``VideoInfo``) gives 30 fps.
"""

import dataclasses
from fractions import Fraction

# the colour tags of the pictures' video (FFmpeg's values): SMPTE 170M (BT.601) matrix, limited
# range, the conversion VideoWriter makes from RGB without tags, stated
PICTURE_COLOR = {"colorspace": 6, "color_range": 1}


@dataclasses.dataclass(frozen=True)
class FlowVideo:
    """What :func:`write_flow_video` and :func:`join_flow_video` wrote.

    Attributes
    ----------
    frames : int
        Pictures written.
    dropped : int
        Pictures not written to an AVI, on the ``1 / fps`` slot of the one before.
    size : (height, width)
        The pictures as given to the encoder: in the coded orientation, padded even where the
        encoder needs it.
    rotation : int
        The display rotation stored (0 where the container stores none).
    fps : Fraction
        The stream's nominal (or forced) frame rate.
    timed : bool
        Whether the pictures were written at the input frames' times (False: ``k / fps``).
    """

    frames: int
    dropped: int
    size: tuple
    rotation: int
    fps: Fraction
    timed: bool


def write_flow_video(path, flows, *, info=None, fps=None, step=1, max_flow=None, codec=None,
                     crf=None, lossless=False, empty=None):
    """Write the colour-coded pictures of ``flows``, ``(time, flow)`` pairs: the flow of the
    pair (k, k + 1) of the video ``info`` describes (None: a folder of images) and frame k's
    time in seconds from the first frame (read with ``step``). ``lossless``: the upright
    pictures in FFV1 at ``k / fps``, a part of a chunked ``flowkit.batch`` job for
    :func:`join_flow_video`. ``crf``: for the encoders that take one (None:
    ``video.DEFAULT_CRF``, as ``retime``'s).
    ``empty``: the ValueError message when ``flows`` is empty.
    Returns a :class:`FlowVideo`."""
    import flowkit  # the public function, as a Python user calls it

    from .video import grid_rate

    pictures = ((time, flowkit.flow_to_color(flow, max_flow=max_flow)) for time, flow in flows)
    if lossless:
        return _write(path, pictures, grid_rate(info, fps, step), None, 0, "ffv1", None, empty)
    return _write_as_input(path, pictures, info, fps, step, codec, crf, empty)


def join_flow_video(path, src, parts, *, fps=None, codec=None, crf=None):
    """The lossless parts (:func:`write_flow_video` with ``lossless``, in order) of the flow of
    the video ``src`` written to ``path`` as a single :func:`write_flow_video` writes them:
    the pictures at the times of ``src``'s frames (read from its packets,
    :func:`flowkit.video.frame_times`; decoded where packets have none: H.264 in MPEG-PS gives
    only a PES packet's first frame one, and the join failed after every chunk was done), with
    its rotation. ValueError (nothing written) when the parts do not hold one picture per
    frame of ``src`` but the last."""
    from .video import decode, frame_times, open_input, probe_video

    info = probe_video(src)
    times = None
    if not fps:
        try:
            times = frame_times(src)[:-1]
        except ValueError:  # packets without a timestamp: their frames' times as decoded
            container, stream = open_input(src)
            try:
                times = [time for time, _ in decode(container, stream, upright=False,
                                                    quiet=True)]
            finally:
                container.close()
            times = [time - times[0] for time in times[:-1]] if times else []

    def pictures():
        count = 0
        for part in parts:
            container, stream = open_input(part)
            try:
                for _, picture in decode(container, stream, upright=False):
                    if times is None or count < len(times):
                        yield (None if times is None else times[count]), picture
                    count += 1
            finally:
                container.close()
        if times is not None and count != len(times):
            raise ValueError(f"src: {src}: the chunks hold {count} flow pictures, its packets "
                             f"{len(times) + 1} frames (frames without a timestamp, or that do "
                             "not decode?): their times are not known; run it without "
                             "chunk_frames")
    return _write_as_input(path, pictures(), info, fps, 1, codec, crf, None)


def _write_as_input(path, pictures, info, fps, step, codec, crf, empty):
    """``pictures`` at their times (unless ``fps``) in the coded orientation of ``info``'s video
    with its rotation (see the module's docstring)."""
    from .video import grid_rate, grid_timing

    timed = info is not None and not fps
    rotation = info.rotation if info is not None else 0
    time_base = None
    if timed:  # on the grid, as retime writes them (the rate read back is retime's)
        time_base, snap = grid_timing(info)
        pictures = ((snap(time), picture) for time, picture in pictures)
    return _write(path, pictures, grid_rate(info, fps, step), time_base, rotation, codec, crf,
                  empty)


def _write(path, pictures, fps, time_base, rotation, codec, crf, empty):
    """``(time, picture)`` pairs (upright) written to ``path``: at their times in units of
    ``time_base`` (None: at ``k / fps``), turned to the coded orientation of a video of display
    ``rotation`` and tagged with it where the container keeps a tag (else upright)."""
    from .video import DEFAULT_CRF, VideoWriter, stored_rotation, to_coded, writer_codec

    stored = stored_rotation(path, rotation)
    color = None if writer_codec(path, codec) == "mjpeg" else PICTURE_COLOR  # yuvj: full range
    with VideoWriter(path, fps, codec=codec, crf=DEFAULT_CRF if crf is None else crf,
                     rotation=stored, time_base=time_base, color=color) as writer:
        for time, picture in pictures:
            writer.write(writer.fit(to_coded(picture, stored)),
                         time=None if time_base is None else time)
        if writer.frame_count == 0 and empty:
            raise ValueError(empty)
    return FlowVideo(frames=writer.frame_count, dropped=writer.dropped, size=writer._size,
                     rotation=stored, fps=writer.fps, timed=time_base is not None)
