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


def read_frames(source, shrink=1):
    """All frames of a video file or frame folder (uint8 RGB), shrunk by ``shrink`` (area
    averaging)."""
    import cv2
    from ..video import iter_frames

    frames = list(iter_frames(source))
    if shrink > 1:
        frames = [cv2.resize(f, (f.shape[1] // shrink, f.shape[0] // shrink),
                             interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def moving(a, b):
    """Whether two frames are neither static (mean absolute difference under 1 level) nor a
    cut (over 40 levels)."""
    return 1.0 <= np.abs(a.astype(np.int16) - b).mean() <= 40.0


def sample_triplets(sources, *, count, gaps=(2, 4), shrink=2, rng):
    """About ``count`` triplets ``(frame k, frame k + gap / 2, frame k + gap)`` spread evenly over
    the sources (frames shrunk by ``shrink``, area averaging), skipping static ones (mean
    absolute difference of the end frames under 1 level) and cuts (over 40 levels)."""
    per_source = max(1, count // max(1, len(sources)))
    for source in sources:
        frames = read_frames(source, shrink)
        starts = np.linspace(0, len(frames) - 1 - max(gaps), per_source).astype(int)
        for k in starts:
            gap = int(rng.choice(gaps))
            a, m, b = frames[k], frames[k + gap // 2], frames[k + gap]
            if moving(a, b):
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


def loss_step(modules, optimizers, batch):
    """The default training step: one Adam step of ``modules["model"]`` on :func:`loss_fn`."""
    loss = loss_fn(modules["model"], batch)
    optimizers["model"].zero_grad()
    loss.backward()
    optimizers["model"].step()
    return {"loss": loss.item()}


def fit(model, crops, *, epochs, batch_size=16, lr=1e-3, seed=0, checkpoint=None, resume=None,
        device="cpu", progress=True, log=None, until=None, step=loss_step, augment=augment):
    """Train on ``crops`` (a dict of tensors with a common first axis, e.g.
    :func:`crops_from_triplets`); returns each epoch's mean losses (a float per epoch when
    ``step`` reports one loss, else a dict of them).

    ``model`` is a module or a dict ``name -> module`` (``"model"`` first), each with its own
    Adam and cosine schedule; ``step(modules, optimizers, batch) -> {loss name: float}`` runs
    one optimisation step on a batch made by ``augment(batch, rng)``. Checkpoints (modules,
    optimizers, schedules, epoch, generator states) are written atomically to ``checkpoint``
    after every epoch; ``resume`` continues from one; ``until`` stops after that epoch (as an
    interrupted run would)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    modules = model if isinstance(model, dict) else {"model": model}
    optimizers = {k: torch.optim.Adam(m.to(device).train().parameters(), lr=lr)
                  for k, m in modules.items()}
    n = len(next(iter(crops.values())))
    steps = max(1, n // batch_size)
    schedulers = {k: torch.optim.lr_scheduler.CosineAnnealingLR(o, epochs * steps, lr / 20)
                  for k, o in optimizers.items()}
    start, losses = 0, []
    if resume is not None:
        state = torch.load(resume, weights_only=False)
        for k in modules:
            modules[k].load_state_dict(state["modules"][k])
            optimizers[k].load_state_dict(state["optimizers"][k])
            schedulers[k].load_state_dict(state["schedulers"][k])
        start, losses = state["epoch"], state["losses"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    for epoch in range(start, epochs if until is None else min(until, epochs)):
        order = rng.permutation(n)
        totals = {}
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   file=sys.stderr, leave=False)
        for i in bar:
            idx = torch.from_numpy(order[i * batch_size:(i + 1) * batch_size])
            batch = augment({k: v[idx].float().to(device) for k, v in crops.items()}, rng)
            values = step(modules, optimizers, batch)
            for scheduler in schedulers.values():
                scheduler.step()
            for k, v in values.items():
                totals[k] = totals.get(k, 0.0) + v
            bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()})
        means = {k: v / steps for k, v in totals.items()}
        losses.append(means["loss"] if list(means) == ["loss"] else means)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: mean " + ", ".join(f"{k} {v:.5f}" for k, v in means.items()))
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"modules": {k: m.state_dict() for k, m in modules.items()},
                            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                            "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
                            "epoch": epoch + 1, "losses": losses, "rng": rng.bit_generator.state,
                            "torch_rng": torch.get_rng_state()}, tmp)
    return losses


def training_crops(data, cache, make, *, seed, threads, log, nothing):
    """Set torch's threads, find the sources under ``data`` and return them with the training
    crops: from the file ``cache`` if it exists, else ``make(sources, rng)`` (a dict of
    tensors with key ``"truth"``, rng seeded with ``seed``) written there atomically; none
    made is ``ValueError("--data: <nothing> found in <sources>")``."""
    torch.set_num_threads(threads)
    began = time.perf_counter()
    sources = find_sources(data)
    cache = Path(cache)
    if cache.is_file():
        crops = torch.load(cache, weights_only=True)
        log(f"{len(crops['truth'])} crops from the cache {cache}")
        return sources, crops
    crops = make(sources, np.random.default_rng(seed))
    if not crops:
        raise ValueError(f"--data: {nothing} found in {', '.join(map(str, sources))}")
    with atomic_path(cache) as tmp:
        torch.save(crops, tmp)
    log(f"{len(crops['truth'])} crops in {time.perf_counter() - began:.0f} s, cached in {cache}")
    return sources, crops


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
    def make(sources, rng):
        found = sample_triplets(sources, count=triplets, shrink=shrink, rng=rng)
        return crops_from_triplets(found, crop=crop, per_triplet=per_triplet, rng=rng)

    began = time.perf_counter()
    sources, crops = training_crops(data, cache or str(out) + ".cache.pt", make, seed=seed,
                                    threads=threads, log=log,
                                    nothing=f"no triplet of at least {crop}x{crop} pixels with motion")
    model = interp_refine.InterpRefine()
    losses = fit(model, crops, epochs=epochs, batch_size=batch, lr=lr, seed=seed, device=device,
                 checkpoint=str(out) + ".ckpt", resume=resume, progress=progress, log=log)
    meta = {"model": "interp-refine", "training_data": [str(s) for s in sources],
            "command": command, "crops": len(crops["truth"]), "epochs": epochs,
            "losses": [round(v, 5) for v in losses],
            "wall_seconds": round(time.perf_counter() - began), "threads": threads}
    return save_weights(model.cpu(), out, meta)
