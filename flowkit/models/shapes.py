"""Captioned moving shapes: the training data of ``"text2video-shapes"`` and the analyser that
checks generated clips (NumPy only; no torch).

In the manner of the captioned Moving-MNIST data of Sync-DRAW (Mittal et al., "Sync-DRAW:
Automatic Video Generation using Deep Recurrent Attentive Architectures", ACM MM 2017): one
shape per clip, moving in a straight line on a plain black background, with a caption that
names it::

    a [small|big] (red|green|blue|yellow) (circle|square|triangle) moves (left|right|up|down) [slowly|quickly]

A clip is a deterministic function of its attributes and a latent vector ``z`` (``Z_DIM``
normal numbers): ``z[0]`` places the start along the motion, ``z[1]`` across it; the rest is
free noise for the generator. Without a size word the shape is medium, without a speed word the
speed is medium. Clips are RGB uint8 ``(FRAMES, SIZE, SIZE, 3)``, anti-aliased (4x4
supersampling).
"""

import math
import re

import numpy as np

SIZE = 32  # pixels, square frames
FRAMES = 16
Z_DIM = 8
COLOURS = {"red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 240),
           "yellow": (235, 215, 40)}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
SIZES = {"small": 4.0, None: 5.0, "big": 6.5}  # half extent of the shape, pixels
SPEEDS = {"slowly": 0.5, None: 0.75, "quickly": 1.0}  # pixels per frame
VOCABULARY = (("a", "an", "the", "moves") + tuple(COLOURS) + SHAPES + tuple(DIRECTIONS)
              + ("small", "big", "slowly", "quickly"))
_SUPERSAMPLE = 4
_MARGIN = 0.5  # pixels kept free between the shape and the frame's edge


def combinations():
    """Every attribute combination, a list of dicts ``colour, shape, direction, size, speed``
    (size and speed None when the caption has no such word): 4 x 3 x 4 x 3 x 3 = 432."""
    return [dict(colour=c, shape=s, direction=d, size=z, speed=v)
            for c in COLOURS for s in SHAPES for d in DIRECTIONS for z in SIZES for v in SPEEDS]


def is_held_out(attrs):
    """Whether a combination is held out of training (about one in five).

    A combination is held out when the sum of its five attribute indices is a multiple of 5:
    every (colour, shape, direction) triple and every pair of words is still seen in training,
    with other sizes or speeds, so held-out captions test composition, not new words.
    """
    index = (list(COLOURS).index(attrs["colour"]) + SHAPES.index(attrs["shape"])
             + list(DIRECTIONS).index(attrs["direction"]) + list(SIZES).index(attrs["size"])
             + list(SPEEDS).index(attrs["speed"]))
    return index % 5 == 0


def caption(attrs):
    """The caption of a combination: ``"a big blue square moves down quickly"``."""
    words = ["a", attrs["size"], attrs["colour"], attrs["shape"], "moves", attrs["direction"],
             attrs["speed"]]
    return " ".join(w for w in words if w)


def tokenize(text):
    """The words of a caption (lower case, punctuation dropped).

    Raises
    ------
    TypeError
        ``text`` is not a string.
    ValueError
        A word outside :data:`VOCABULARY`; the message names the unknown words and lists the
        vocabulary.
    """
    if not isinstance(text, str):
        raise TypeError(f"caption: expected a string, got {type(text).__name__}")
    words = re.findall(r"[^\W_]+", text.lower())  # any script's letters and digits: "rëd" one word
    unknown = [w for w in dict.fromkeys(words) if w not in VOCABULARY]
    if unknown:
        raise ValueError(f"caption: unknown word{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))} in {text!r}; the vocabulary is "
                         f"{', '.join(VOCABULARY)}")
    if not words:
        raise ValueError(f"caption: expected words of the vocabulary ({', '.join(VOCABULARY)}), "
                         f"got {text!r}")
    return words


_GROUPS = {"colour": tuple(COLOURS), "shape": SHAPES, "direction": tuple(DIRECTIONS),
           "size": ("small", "big"), "speed": ("slowly", "quickly"),
           "article": ("a", "an", "the"), "verb": ("moves",)}
_REQUIRED = ("colour", "shape", "direction")


def check_caption(text):
    """The words of a caption the model can draw (:func:`tokenize`), checked: exactly one
    colour, one shape and one direction word, at most one size, speed, article (a, an, the)
    and verb (moves) word: every word at most once, as the training captions have them (the
    text encoder counts words, so a repeated word is a condition never trained on).

    Raises
    ------
    TypeError
        ``text`` is not a string.
    ValueError
        An unknown word (:func:`tokenize`); a colour, shape or direction missing; a word group
        named twice (``"red red circle"``, ``"moves left right"``, ``"moves moves"``): the
        message names the group, its words and what was given.
    """
    words = tokenize(text)
    for group, choices in _GROUPS.items():
        found = [w for w in words if w in choices]
        if group in _REQUIRED and not found:
            raise ValueError(f"caption: expected one {group} word ({'|'.join(choices)}), got "
                             f"none in {text!r}")
        if len(found) > 1:
            raise ValueError(f"caption: expected {'one' if group in _REQUIRED else 'at most one'} "
                             f"{group} word ({'|'.join(choices)}), got {len(found)} "
                             f"({', '.join(found)}) in {text!r}")
    return words


def bag_of_words(text):
    """A caption as word counts over :data:`VOCABULARY`, float32 ``(len(VOCABULARY),)`` (the
    built-in text encoder's input; word order carries nothing in this grammar)."""
    counts = np.zeros(len(VOCABULARY), np.float32)
    for word in tokenize(text):
        counts[VOCABULARY.index(word)] += 1
    return counts


def parse_caption(text):
    """The attributes a caption names (a dict as in :func:`combinations`; None for a word
    group it lacks; the last word of a group wins)."""
    attrs = dict(colour=None, shape=None, direction=None, size=None, speed=None)
    groups = {"colour": COLOURS, "shape": SHAPES, "direction": DIRECTIONS,
              "size": ("small", "big"), "speed": ("slowly", "quickly")}
    for word in tokenize(text):
        for key, words in groups.items():
            if word in words:
                attrs[key] = word
    return attrs


def _normal_cdf(x):
    return 0.5 * (1.0 + math.erf(float(x) / math.sqrt(2.0)))


def trajectory(attrs, z, frames=FRAMES):
    """Centre ``(x, y)`` of the shape in each frame, float64 ``(frames, 2)``, pixels (x right,
    y down, pixel centres at integers + 0.5)."""
    half, speed = SIZES[attrs["size"]], SPEEDS[attrs["speed"]]
    step = np.array(DIRECTIONS[attrs["direction"]], np.float64) * speed
    travel = speed * (FRAMES - 1)
    lo, hi = half + _MARGIN, SIZE - half - _MARGIN
    along = lo + _normal_cdf(z[0]) * (hi - travel - lo)  # start, measured along the motion
    across = lo + _normal_cdf(z[1]) * (hi - lo)
    axis = 0 if step[0] else 1
    start = np.empty(2)
    start[axis] = along if step[axis] > 0 else SIZE - along
    start[1 - axis] = across
    return start + np.arange(frames)[:, None] * step


def _coverage(shape, half, centres):
    """Fraction of each pixel inside the shape, float32 ``(T, SIZE, SIZE)``."""
    n = SIZE * _SUPERSAMPLE
    s = (np.arange(n) + 0.5) / _SUPERSAMPLE
    x = s[None, None, :] - centres[:, 0, None, None]
    y = s[None, :, None] - centres[:, 1, None, None]
    if shape == "circle":
        inside = x * x + y * y <= half * half
    elif shape == "square":
        inside = (np.abs(x) <= half) & (np.abs(y) <= half)
    else:  # apex up, base down, as wide as tall
        inside = (y >= -half) & (y <= half) & (np.abs(x) <= (y + half) / 2)
    t = len(centres)
    return inside.reshape(t, SIZE, _SUPERSAMPLE, SIZE, _SUPERSAMPLE).mean((2, 4), dtype=np.float32)


def render(attrs, z, frames=FRAMES):
    """The clip of a combination and latent vector: RGB uint8 ``(frames, SIZE, SIZE, 3)``.

    Parameters
    ----------
    attrs : dict
        ``colour, shape, direction, size, speed`` as in :func:`combinations`.
    z : array-like
        At least two numbers (standard normal): the start along and across the motion.
    frames : int
        Number of frames (the start range is fitted to ``FRAMES``; more frames may leave the
        picture).
    """
    alpha = _coverage(attrs["shape"], SIZES[attrs["size"]], trajectory(attrs, z, frames))
    colour = np.array(COLOURS[attrs["colour"]], np.float32)
    return np.rint(alpha[..., None] * colour).astype(np.uint8)


def sample(rng, count, *, held_out=False):
    """``count`` random training (or held-out) examples: a list of ``(attrs, z)``.

    Parameters
    ----------
    rng : numpy.random.Generator
    count : int
    held_out : bool
        Draw from the held-out combinations (:func:`is_held_out`) instead of the training ones.
    """
    pool = [a for a in combinations() if is_held_out(a) == held_out]
    picks = rng.integers(0, len(pool), count)
    z = rng.standard_normal((count, Z_DIM))
    return [(pool[k], z[i]) for i, k in enumerate(picks)]


# --- the analyser ---------------------------------------------------------------------------

def _nearest_colour(rgb):
    names = list(COLOURS)
    palette = np.array([COLOURS[n] for n in names], np.float64)
    # compare chromaticity (each colour over its own brightness): blur dims a colour, not its hue
    palette /= palette.sum(1, keepdims=True)
    return names[int(np.argmin(((palette - rgb / max(rgb.sum(), 1e-9)) ** 2).sum(1)))]


def describe(clip):
    """Decode colour, shape and direction from a clip by simple image analysis.

    The object is the set of pixels brighter than half the clip's brightest (largest channel;
    the background is black). Colour: the palette colour nearest in chromaticity to the mean
    object colour. Shape: per frame, a triangle when the upper half of the object's bounding
    box holds under 0.6 times the mass of the lower half (a triangle with its apex up: 1/3;
    circle and square: 1), else a square when the object fills over 0.93 of its bounding box
    (square 1, circle pi / 4), else a circle; the majority over frames. Direction: the larger
    component of the centroid's displacement from the first quarter of the frames to the last.

    Parameters
    ----------
    clip : ndarray
        RGB uint8 ``(T, H, W, 3)``, T >= 2, on a black background.

    Returns
    -------
    dict
        ``colour``, ``shape``, ``direction``: words of :data:`VOCABULARY`, or None when no
        object is found.
    """
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[-1] != 3 or len(clip) < 2:
        raise ValueError(f"clip: expected RGB frames (T >= 2, H, W, 3), got shape {clip.shape}")
    x = clip.astype(np.float64) / 255
    brightness = x.max(-1)
    if brightness.max() < 0.1:
        return dict(colour=None, shape=None, direction=None)
    mask = brightness > 0.5 * brightness.max()
    colour = _nearest_colour(x[mask].mean(0))
    votes, centroids = [], []
    ys, xs = np.mgrid[:clip.shape[1], :clip.shape[2]]
    for m, b in zip(mask, brightness):
        if m.sum() < 3:
            centroids.append((np.nan, np.nan))
            continue
        rows, cols = np.nonzero(m)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        middle = (top + bottom) / 2
        upper, lower = b[m & (ys < middle)].sum(), b[m & (ys > middle)].sum()
        fill = m.sum() / ((bottom - top + 1) * (right - left + 1))
        votes.append("triangle" if upper < 0.6 * lower else "square" if fill > 0.93 else "circle")
        w = b * m
        centroids.append(((w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()))
    centroids = np.array(centroids)
    quarter = max(1, len(clip) // 4)
    move = np.nanmean(centroids[-quarter:], 0) - np.nanmean(centroids[:quarter], 0)
    if not votes or not np.all(np.isfinite(move)):
        return dict(colour=colour, shape=None, direction=None)
    shape = max(SHAPES, key=votes.count)
    if abs(move[0]) >= abs(move[1]):
        direction = "right" if move[0] > 0 else "left"
    else:
        direction = "down" if move[1] > 0 else "up"
    return dict(colour=colour, shape=shape, direction=direction)
