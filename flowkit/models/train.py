"""Training of ``"interp-refine"`` (``flowkit train interp-refine``): triplets sampled from
videos or frame folders, the classical pipeline's parts computed once per triplet and cached,
random crops with flips and time reversal, Adam on a Charbonnier loss, atomic checkpoints and
resume, fixed seeds. See docs/models.md for the run that made the shipped weights."""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .._atomic import atomic_path
from . import interp_refine
from ._api import sha256

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v"}
_SWAP = (("frame0", "frame1"), ("s0", "s1"), ("a", "b"), ("occ0", "occ1"), ("flow0", "flow1"))


def find_sources(paths):
    """Video files and frame folders under ``paths`` (files, or folders: their videos, or the
    folder itself when it holds images), sorted."""
    sources = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"--data: no such file or folder {str(p)!r}")
        if p.is_dir():
            videos = sorted(f for f in p.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
            sources += videos or [p]
        else:
            sources.append(p)
    return sources


def triplet_parts(frame0, frame1, t=0.5):
    """The classical pipeline's parts at ``t`` for one pair (uint8 RGB), as tensors in [0, 1]
    (:func:`interp_refine.parts_tensors`): the same path as ``interpolate(method="learned")``."""
    from .. import _interpolate
    from .._estimators import get_estimator

    estimate = get_estimator("dis", None)
    f01 = estimate(frame0, frame1).astype(np.float32)
    f10 = estimate(frame1, frame0).astype(np.float32)
    state = _interpolate._prepare(frame0, frame1, f01, f10, True, "learned")
    f0, f1 = frame0.astype(np.float32) / 255, frame1.astype(np.float32) / 255
    parts = _interpolate._splat_parts(f0, f1, t, state, None)
    return interp_refine.parts_tensors(f0, f1, t, parts, state)


def crops_from_triplets(triplets, *, crop, per_triplet, rng):
    """``per_triplet`` random crops of each ``(frame0, truth, frame1)`` (uint8 RGB, the truth
    at t = 0.5) with its parts: a dict of ``(N, C, crop, crop)`` float16 tensors (key
    ``"truth"`` added). Triplets smaller than ``crop`` are skipped."""
    crops = {}
    for frame0, truth, frame1 in triplets:
        h, w = truth.shape[:2]
        if h < crop or w < crop:
            continue
        parts = triplet_parts(frame0, frame1)
        parts["truth"] = torch.from_numpy(truth.astype(np.float32) / 255).permute(2, 0, 1)[None]
        for _ in range(per_triplet):
            y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
            for key, value in parts.items():
                crops.setdefault(key, []).append(value[..., y:y + crop, x:x + crop].half())
    return {key: torch.cat(value) for key, value in crops.items()}


def sample_triplets(sources, *, count, gaps=(2, 4), shrink=2, rng):
    """About ``count`` triplets ``(frame k, frame k + gap / 2, frame k + gap)`` spread evenly over
    the sources (frames shrunk by ``shrink``, area averaging), skipping static ones (mean
    absolute difference of the end frames under 1 level) and cuts (over 40 levels)."""
    import cv2
    from ..video import iter_frames

    per_source = max(1, count // max(1, len(sources)))
    for source in sources:
        frames = list(iter_frames(source))
        if shrink > 1:
            frames = [cv2.resize(f, (f.shape[1] // shrink, f.shape[0] // shrink),
                                 interpolation=cv2.INTER_AREA) for f in frames]
        starts = np.linspace(0, len(frames) - 1 - max(gaps), per_source).astype(int)
        for k in starts:
            gap = int(rng.choice(gaps))
            a, m, b = frames[k], frames[k + gap // 2], frames[k + gap]
            diff = np.abs(a.astype(np.int16) - b).mean()
            if 1.0 <= diff <= 40.0:
                yield a, m, b


def augment(batch, rng):
    """Flips (flow signs follow) and time reversal (the roles of the two frames swap), one
    draw per batch."""
    batch = dict(batch)
    if rng.random() < 0.5:
        batch = {k: v.flip(-1) for k, v in batch.items()}
        for k in ("flow0", "flow1"):
            batch[k] = batch[k] * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)
    if rng.random() < 0.5:
        batch = {k: v.flip(-2) for k, v in batch.items()}
        for k in ("flow0", "flow1"):
            batch[k] = batch[k] * torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    if rng.random() < 0.5:
        for x, y in _SWAP:
            batch[x], batch[y] = batch[y], batch[x]
    return batch


def loss_fn(model, batch):
    """Charbonnier loss (eps 1e-3) of the refined frame against the truth, intensities in [0, 1]."""
    out = interp_refine.run(model, batch)
    return torch.sqrt((out - batch["truth"]) ** 2 + 1e-6).mean()


def fit(model, crops, *, epochs, batch_size=16, lr=1e-3, seed=0, checkpoint=None, resume=None,
        device="cpu", progress=True, log=None, until=None):
    """Train ``model`` on ``crops`` (:func:`crops_from_triplets`); returns the mean loss of
    each epoch. Checkpoints (model, optimizer, epoch, generator states) are written atomically
    to ``checkpoint`` after every epoch; ``resume`` continues from one; ``until`` stops after
    that epoch (as an interrupted run would)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(crops["truth"])
    steps = max(1, n // batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps, lr / 20)
    start, losses = 0, []
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    if resume is not None:
        state = load_checkpoint(resume, parts, rng)
        start, losses = state["epoch"], state["losses"]
    for epoch in range(start, epochs if until is None else min(until, epochs)):
        order = rng.permutation(n)
        total = 0.0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   file=sys.stderr, leave=False)
        for step in bar:
            idx = torch.from_numpy(order[step * batch_size:(step + 1) * batch_size])
            batch = augment({k: v[idx].float().to(device) for k, v in crops.items()}, rng)
            loss = loss_fn(model, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        losses.append(total / steps)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: mean loss {losses[-1]:.5f}")
        if checkpoint is not None:
            save_checkpoint(checkpoint, parts, rng, epoch=epoch + 1, losses=losses)
    return losses


def save_checkpoint(path, parts, rng, **progress):
    """Write a checkpoint atomically: the state of each of ``parts`` (a dict of name -> module,
    optimizer or scheduler), the NumPy generator ``rng``'s and torch's random states, and
    ``progress`` (epoch or step, losses: anything picklable)."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(progress, rng=rng.bit_generator.state, torch_rng=torch.get_rng_state())
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path, parts, rng):
    """Restore ``parts`` and the random states from a :func:`save_checkpoint` file; returns
    the whole checkpoint dict (its progress entries)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"--resume: no such checkpoint {str(path)!r}")
    state = torch.load(path, weights_only=False)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    return state


def save_weights(model, path, meta):
    """The model's tensors to ``path`` (safetensors, atomic) and ``meta`` with the file's size,
    sha256 and parameter count to ``path`` with suffix ``.json``."""
    from safetensors.torch import save_file

    path = Path(path)
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  str(tmp))
    meta = {**meta, "num_params": sum(p.numel() for p in model.parameters()),
            "file_size": path.stat().st_size, "sha256": sha256(path)}
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def train_interp_refine(data, out, *, epochs=10, crop=128, batch=16, lr=1e-3, device="cpu", resume=None,
                        seed=0, triplets=240, per_triplet=4, shrink=2, threads=2, cache=None,
                        command="", progress=True, log=print):
    """What ``flowkit train interp-refine`` runs: sample triplets from ``data``, compute (or
    load from ``cache``) the classical parts of random crops, train, write ``out`` and its
    metadata. Returns the metadata dict."""
    torch.set_num_threads(threads)
    began = time.perf_counter()
    sources = find_sources(data)
    cache = Path(cache) if cache else Path(str(out) + ".cache.pt")
    if cache.is_file():
        crops = torch.load(cache, weights_only=True)
        log(f"{len(crops['truth'])} crops from the cache {cache}")
    else:
        rng = np.random.default_rng(seed)
        found = sample_triplets(sources, count=triplets, shrink=shrink, rng=rng)
        crops = crops_from_triplets(found, crop=crop, per_triplet=per_triplet, rng=rng)
        if not crops:
            raise ValueError(f"--data: no triplet of at least {crop}x{crop} pixels with motion "
                             f"found in {', '.join(map(str, sources))}")
        with atomic_path(cache) as tmp:
            torch.save(crops, tmp)
        log(f"{len(crops['truth'])} crops of {len(crops['truth']) // per_triplet} triplets "
            f"in {time.perf_counter() - began:.0f} s, cached in {cache}")
    model = interp_refine.InterpRefine()
    losses = fit(model, crops, epochs=epochs, batch_size=batch, lr=lr, seed=seed, device=device,
                 checkpoint=str(out) + ".ckpt", resume=resume, progress=progress, log=log)
    meta = {"model": "interp-refine", "training_data": [str(s) for s in sources],
            "command": command, "crops": len(crops["truth"]), "epochs": epochs,
            "losses": [round(v, 5) for v in losses],
            "wall_seconds": round(time.perf_counter() - began), "threads": threads}
    return save_weights(model.cpu(), out, meta)
