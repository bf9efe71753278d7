"""Video input and output with OpenCV: frames in and out as uint8 RGB (or gray) NumPy arrays.

``iter_frames`` reads a video file or a folder of images; ``VideoWriter`` writes a video
atomically (a temporary file renamed on close, removed if anything fails).
"""

import contextlib
import re
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from ._backend import as_array, to_host
from ._validate import check_array, check_float, check_int

__all__ = ["iter_frames", "VideoWriter"]

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
# default FourCC per container; all of these can be written by opencv-python-headless
DEFAULT_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}


def _natural_key(path):
    # "frame2" sorts before "frame10"; zero-padded names sort as plainly
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _check_resize(resize):
    if resize is None:
        return None
    if not isinstance(resize, (tuple, list)) or len(resize) != 2:
        raise TypeError(f"resize: expected None or a (width, height) pair of integers, got {resize!r}")
    width, height = (check_int(f"resize[{i}]", v, min_value=1) for i, v in enumerate(resize))
    return width, height


def _to_rgb(frame_bgr, gray, resize):
    import cv2

    if resize is not None and (frame_bgr.shape[1], frame_bgr.shape[0]) != resize:
        shrink = resize[0] * resize[1] < frame_bgr.shape[0] * frame_bgr.shape[1]
        frame_bgr = cv2.resize(frame_bgr, resize, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if frame_bgr.ndim == 2:
        return frame_bgr if gray else cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY if gray else cv2.COLOR_BGR2RGB)


def iter_frames(path, *, gray=False, step=1, resize=None):
    """Iterate over the frames of a video file or of a folder of images.

    Parameters
    ----------
    path : str or Path
        A video file OpenCV can decode (``cv2.VideoCapture``), or a folder whose image
        files (png, jpg, bmp, tif, webp, pnm) are read in natural order of their names
        (``frame2.png`` before ``frame10.png``); other files in the folder are ignored.
    gray : bool, default False
        Yield ``(H, W)`` gray frames (OpenCV's BGR2GRAY weights) instead of RGB.
    step : int, default 1
        Yield every ``step``-th frame: frames 0, step, 2 * step, ... Skipped video frames
        are grabbed but not decoded.
    resize : (width, height), optional
        Output size, **width first** as in ``cv2.resize``. Shrinking uses area averaging,
        enlarging bilinear interpolation.

    Returns
    -------
    generator of ndarray
        uint8 frames, ``(H, W, 3)`` RGB or ``(H, W)`` gray, C-contiguous. Paths and
        arguments are checked when ``iter_frames`` is called, before the first frame.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The video cannot be opened or has no decodable frame, the folder holds no image
        files, an image cannot be read, or folder images differ in size (without
        ``resize``).
    TypeError
        ``step`` or ``resize`` is not an integer / pair of integers.

    Examples
    --------
    >>> for frame in iter_frames("clip.mp4", gray=True, step=2, resize=(320, 180)):  # doctest: +SKIP
    ...     print(frame.shape)  # (180, 320)
    """
    import cv2

    path = Path(path)
    step = check_int("step", step, min_value=1)
    resize = _check_resize(resize)
    gray = bool(gray)
    if not path.exists():
        raise FileNotFoundError(f"path: no such video file or image folder: {path}")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                       key=_natural_key)
        if not files:
            raise ValueError(f"path: the folder {path} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return _iter_images(files[::step], gray, resize)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"path: OpenCV cannot open {path} as a video")
    ok, first = capture.read()
    if not ok:
        capture.release()
        raise ValueError(f"path: OpenCV opened {path} but could not decode any frame from it")
    return _iter_video(capture, first, step, gray, resize)


def _iter_images(files, gray, resize):
    import cv2

    size = None
    for file in files:
        # decode colour and convert like video frames: the decoders' own gray conversion
        # (IMREAD_GRAYSCALE) differs from BGR2GRAY by a level on half the pixels of a PNG
        image = cv2.imdecode(np.fromfile(file, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"path: OpenCV cannot read the image {file}")
        if resize is None:
            if size is None:
                size = image.shape[:2]
            elif image.shape[:2] != size:
                raise ValueError(
                    f"path: image {file} is {image.shape[1]}x{image.shape[0]}, the first image is "
                    f"{size[1]}x{size[0]} (width x height); pass resize= to read mixed sizes"
                )
        yield _to_rgb(image, gray, resize)


def _iter_video(capture, frame, step, gray, resize):
    try:
        while True:
            yield _to_rgb(frame, gray, resize)
            for _ in range(step - 1):
                if not capture.grab():
                    return
            ok, frame = capture.read()
            if not ok:
                return
    finally:
        capture.release()


class VideoWriter:
    """Write uint8 RGB or gray frames to a video file, atomically.

    Frames go to a temporary file beside ``path`` (same extension) that is renamed onto
    ``path`` by :meth:`close`. If the ``with`` block raises, or writing fails, the
    temporary file is removed: no partial video is left and an existing file at ``path``
    is untouched. Use it as a context manager, or call :meth:`close` yourself.

    Parameters
    ----------
    path : str or Path
        Output file. The extension selects the container.
    fps : float
        Frames per second, > 0.
    codec : str, optional
        FourCC code such as ``"mp4v"``, ``"MJPG"``, ``"XVID"``, ``"FFV1"`` (lossless).
        Default by extension: ``.mp4``/``.m4v``/``.mov`` -> ``mp4v``, ``.avi`` -> ``MJPG``,
        ``.mkv`` -> ``FFV1``. opencv-python-headless cannot write H.264 (``avc1``).

    Raises
    ------
    ValueError
        Bad ``fps`` or ``codec``, an extension without a default codec and no ``codec``,
        a codec OpenCV cannot open, a frame of another size than the first, or closing
        a writer that received no frame (no file is created then).
    TypeError
        A frame that is not uint8.

    Notes
    -----
    The frame size is taken from the first frame. Gray ``(H, W)`` frames are written as
    three equal channels. Lossy codecs (mp4v, MJPG, XVID) change pixel values.

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=30) as writer:  # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.write(frame)  # (H, W, 3) uint8 RGB
    """

    def __init__(self, path, fps, *, codec=None):
        self.path = Path(path)
        self.fps = check_float("fps", fps, low=0, low_open=True)
        if codec is None:
            codec = DEFAULT_CODECS.get(self.path.suffix.lower())
            if codec is None:
                raise ValueError(
                    f"codec: no default codec for extension {self.path.suffix!r}; expected a FourCC "
                    f"string or one of the extensions {', '.join(DEFAULT_CODECS)}"
                )
        if not isinstance(codec, str) or len(codec) != 4:
            raise ValueError(f"codec: expected a 4-character FourCC string such as 'mp4v', got {codec!r}")
        self.codec = codec
        self.frame_count = 0
        self._size = None  # (height, width) of the frames
        self._writer = None
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._abort(exc_type, exc, tb)
        return False

    @property
    def closed(self):
        """True once the writer was closed or aborted."""
        return self._tmp is None

    def write(self, frame):
        """Append one frame.

        Parameters
        ----------
        frame : array_like, (H, W, 3) RGB or (H, W) / (H, W, 1) gray, uint8
            All frames must have the size of the first one.
        """
        import cv2

        if self.closed:
            raise ValueError(f"{self.path}: write to a closed VideoWriter")
        frame = as_array(frame)
        check_array("frame", frame)
        if frame.dtype != np.uint8:
            raise TypeError(f"frame: expected dtype uint8, got {frame.dtype}")
        if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3))):
            raise ValueError(f"frame: expected shape (H, W, 3) or (H, W), got {tuple(frame.shape)}")
        if self._size is not None and frame.shape[:2] != self._size:
            raise ValueError(
                f"frame: expected size {self._size[1]}x{self._size[0]} (width x height) like the "
                f"first frame, got {frame.shape[1]}x{frame.shape[0]}"
            )
        frame = to_host(frame)
        if frame.ndim == 3 and frame.shape[2] == 3:
            bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        else:
            bgr = cv2.cvtColor(np.ascontiguousarray(frame.reshape(frame.shape[:2])), cv2.COLOR_GRAY2BGR)
        if self._writer is None:
            self._open(frame.shape[:2])
        try:
            self._writer.write(bgr)
        except BaseException as exc:
            self._abort(type(exc), exc, exc.__traceback__)
            raise
        self.frame_count += 1

    def _open(self, size):
        import cv2

        writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*self.codec), self.fps,
                                 (size[1], size[0]), True)
        if not writer.isOpened():
            writer.release()
            error = ValueError(
                f"codec: OpenCV cannot write {self.codec!r} video to {self.path.suffix!r} files "
                f"at {size[1]}x{size[0]}; try 'mp4v' (.mp4), 'MJPG' (.avi) or 'FFV1' (.mkv)"
            )
            self._abort(ValueError, error, None)
            raise error
        self._writer = writer
        self._size = size

    def close(self):
        """Finish the file and rename it onto ``path``. Closing twice does nothing."""
        if self.closed:
            return
        if self._writer is None:
            error = ValueError(f"{self.path}: no frames were written, so no video file was created")
            self._abort(ValueError, error, None)
            raise error
        self._writer.release()
        self._writer = None
        self._tmp = None
        self._stack.close()

    def _abort(self, exc_type, exc, tb):
        """Drop the temporary file; ``path`` is left as it was."""
        if self.closed:
            return
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._tmp = None
        self._stack.__exit__(exc_type, exc, tb)

    def __del__(self):
        # a writer that was never closed leaves no temporary file behind
        with contextlib.suppress(Exception):
            self._abort(RuntimeError, RuntimeError("VideoWriter was not closed"), None)
