"""``"text2video-shapes"``: a conditional video GAN that draws a moving shape from a caption.

The text-to-video structure of TGAN / MoCoGAN (Saito et al., ICCV 2017; Tulyakov et al.,
CVPR 2018) at toy scale, on the captioned moving shapes of :mod:`flowkit.models.shapes` (the
protocol of Sync-DRAW, Mittal et al. 2017):

* condition encoder: a text vector -> ``COND_DIM`` numbers (two linear layers). The built-in
  text vector is the caption's bag of words over :data:`shapes.VOCABULARY` (a linear layer on
  word counts is a learned word embedding, summed); any ``str -> vector`` callable can stand in
  for it (``Text2Video(text_dim=N)``);
* generator, split into content and motion as in MoCoGAN: from the condition, an MLP gives
  one sprite per clip (a SPRITE x SPRITE alpha mask) and its RGB colour; a
  GRU cell run over the frames (input: condition, ``z`` and the frame's time
  ``t / (FRAMES - 1)``) gives the sprite's centre in each frame; a spatial transformer
  (Jaderberg et al., NeurIPS 2015: ``affine_grid`` + bilinear ``grid_sample``) draws the sprite
  there over the black background. A convolutional frame decoder was tried first: on
  this shared 2-core CPU it ran 10-20 s per batch, too slow to train in minutes;
* discriminator (training only, :class:`VideoDiscriminator`): 3D convolutions over the clip,
  sum-pooled, with the projection conditioning of Miyato & Koyama (ICLR 2018):
  ``D(x, c) = w . phi(x) + (V c) . phi(x)``; spectral normalisation.
"""

import torch
from torch import nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from . import shapes

COND_DIM = 32
HIDDEN = 64
SPRITE = 16  # side of the content sprite, pixels of the frame


class Text2Video(nn.Module):
    """Condition encoder + content/motion generator (about 0.1M parameters).

    Parameters
    ----------
    text_dim : int, optional
        Length of the text vectors (default: the built-in bag of words, ``len(VOCABULARY)``).

    ``forward(text, z, frames=FRAMES)``: ``text`` (N, text_dim) float32, ``z`` (N, Z_DIM)
    float32 -> clips (N, frames, 3, SIZE, SIZE) float32 in [0, 1].
    """

    def __init__(self, text_dim=None):
        super().__init__()
        self.text_dim = int(text_dim or len(shapes.VOCABULARY))
        self.condition = nn.Sequential(nn.Linear(self.text_dim, 64), nn.LeakyReLU(0.2),
                                       nn.Linear(64, COND_DIM))
        latent = COND_DIM + shapes.Z_DIM
        # content: one sprite (alpha SPRITE x SPRITE) and its colour per clip, from the condition
        self.content = nn.Sequential(nn.Linear(COND_DIM, 128), nn.LeakyReLU(0.2),
                                     nn.Linear(128, 256), nn.LeakyReLU(0.2),
                                     nn.Linear(256, SPRITE * SPRITE + 3))
        # motion: a GRU over the frames -> the sprite's centre in each frame
        self.start = nn.Linear(latent, HIDDEN)
        self.gru = nn.GRUCell(latent + 1, HIDDEN)
        self.position = nn.Sequential(nn.Linear(HIDDEN + latent, 64), nn.LeakyReLU(0.2),
                                      nn.Linear(64, 2))

    def encode(self, text):
        """The condition vectors (N, COND_DIM) of text vectors (N, text_dim)."""
        return self.condition(text)

    def forward(self, text, z, frames=shapes.FRAMES):
        return self.generate(self.encode(text), z, frames)

    def generate(self, cond, z, frames=shapes.FRAMES, keep=None):
        """Clips (N, frames, 3, SIZE, SIZE) in [0, 1] from condition vectors and noise; with
        ``keep`` (a list of frame indices) only those frames are drawn."""
        latent = torch.cat([cond, z], 1)
        n = len(latent)
        content = self.content(cond)
        alpha = torch.sigmoid(content[:, :-3]).view(n, 1, SPRITE, SPRITE)
        colour = torch.sigmoid(content[:, -3:])
        h = torch.tanh(self.start(latent))
        centres = []
        for t in range(frames):
            time = torch.full_like(latent[:, :1], t / (shapes.FRAMES - 1))
            h = self.gru(torch.cat([latent, time], 1), h)
            centres.append(self.position(torch.cat([h, latent], 1)))
        if keep is not None:
            centres = [centres[t] for t in keep]
        m = len(centres)
        centre = torch.stack(centres, 1).reshape(n * m, 2)  # frame coordinates in [-1, 1]
        # spatial transformer (Jaderberg et al. 2015): frame point p samples the sprite at
        # (p - centre) * SIZE / SPRITE
        scale = shapes.SIZE / SPRITE
        theta = torch.zeros(n * m, 2, 3, dtype=latent.dtype, device=latent.device)
        theta[:, 0, 0] = theta[:, 1, 1] = scale
        theta[:, :, 2] = -scale * centre
        grid = F.affine_grid(theta, (n * m, 1, shapes.SIZE, shapes.SIZE), align_corners=False)
        sprites = alpha.repeat_interleave(m, 0)
        a = F.grid_sample(sprites, grid, align_corners=False).view(n, m, 1, shapes.SIZE, shapes.SIZE)
        return colour.view(n, 1, 3, 1, 1) * a  # over the black background


class VideoDiscriminator(nn.Module):
    """Projection discriminator on clips (N, T, 3, SIZE, SIZE) in [0, 1] and condition
    vectors (N, COND_DIM): one score per clip (hinge loss in training)."""

    def __init__(self, width=16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            spectral_norm(nn.Conv3d(3, w, 4, 2, 1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv3d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv3d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2))
        self.score = spectral_norm(nn.Linear(4 * w, 1))
        self.project = spectral_norm(nn.Linear(COND_DIM, 4 * w, bias=False))

    def forward(self, clips, cond):
        phi = self.features(clips.transpose(1, 2) * 2 - 1).sum((2, 3, 4))
        return self.score(phi)[:, 0] + (self.project(cond) * phi).sum(1)


def text_vectors(captions, text_encoder=None):
    """The text vectors of captions, float32 (N, D): the built-in bag of words
    (:func:`shapes.bag_of_words`, D = ``len(VOCABULARY)``) or ``text_encoder(caption)`` for
    each caption (any callable ``str -> vector``, e.g. a sentence-transformers model's
    ``encode``).

    Raises
    ------
    ValueError
        A word outside the vocabulary (built-in encoder), or a callable that returns something
        other than one finite 1-D vector of the same length for every caption.
    TypeError
        ``text_encoder`` is not callable.
    """
    import numpy as np

    if text_encoder is None:
        return np.stack([shapes.bag_of_words(c) for c in captions])
    if not callable(text_encoder):
        raise TypeError(f"text_encoder: expected None or a callable str -> vector, got "
                        f"{type(text_encoder).__name__}")
    vectors = []
    for c in captions:
        v = np.asarray(text_encoder(c), dtype=np.float32)
        if v.ndim != 1 or not v.size or not np.all(np.isfinite(v)):
            raise ValueError(f"text_encoder: expected a finite 1-D vector for {c!r}, got shape "
                             f"{v.shape}" + ("" if v.ndim != 1 or not v.size else " with NaN or inf"))
        if vectors and len(v) != len(vectors[0]):
            raise ValueError(f"text_encoder: expected vectors of one length, got {len(vectors[0])} "
                             f"then {len(v)}")
        vectors.append(v)
    return np.stack(vectors)
