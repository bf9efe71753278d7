"""Training of the registry's models (``flowkit train MODEL``): samples drawn from videos or
frame folders, random crops computed once and cached, flips (and for ``"interp-refine"`` time
reversal), Adam with cosine decay, atomic checkpoints and resume, fixed seeds
(:func:`train_model` and :func:`fit`, shared: one module or several, e.g. a generator and its
discriminator, each with its own optimizer). ``"interp-refine"``: triplets, the classical
pipeline's parts, a per-crop log-MSE (PSNR) loss; ``"colorize"``: single frames, luma ->
chroma, an L1 loss; ``"predict-gan"``: clips, on this loop from
:mod:`flowkit.models.train_gan`. See docs/models.md for the runs that made the shipped
weights."""

import functools
import itertools
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .._atomic import atomic_path, check_folder, special_file
from .._validate import check_path
from . import interp_refine
from ._api import check_device, sha256
from ._float32 import float32_module

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v"}
GAPS = (2, 4, 8)  # interp-refine's triplet gaps (frames between the outer two)
_SWAP = (("frame0", "frame1"), ("s0", "s1"), ("a", "b"), ("occ0", "occ1"), ("flow0", "flow1"))


def keeps_torch_state(train):
    """``train`` (a ``flowkit train`` entry point) called from Python leaves the caller's
    torch as it was: it seeds the random generators and sets the thread count for its run
    (``seed``, ``threads``), which stayed set in the caller's process (a later
    ``torch.rand`` drew the training's sequence, a caller at 8 threads went on at 2)."""

    @functools.wraps(train)
    def run(*args, **kwargs):
        threads = torch.get_num_threads()
        devices = range(torch.cuda.device_count()) if torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=devices):
            try:
                return train(*args, **kwargs)
            finally:
                torch.set_num_threads(threads)

    return run


def find_sources(paths):
    """Video files and frame folders under ``paths`` (files, or folders: their videos, or the
    folder itself when it holds images), sorted; one path (str or os.PathLike) is a list of
    one (a str was read as a list of one-character paths)."""
    import os

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    sources = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"data: no such file or folder {str(p)!r}")
        if p.is_dir():
            # not hidden files (macOS's ._clip.mp4), as batch and image folders skip them
            videos = sorted(f for f in p.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES
                            and not f.name.startswith("."))
            sources += videos or [p]
        else:
            sources.append(p)
    return sources


def data_stamp(sources):
    """SHA-256 (hex) of the size and modification time of every file of ``sources`` (a video
    file, or each file of a frame folder): the crop cache's and checkpoints' identity of the
    data, which the paths alone are not (a clip replaced in place kept its old crops)."""
    import hashlib

    digest = hashlib.sha256()
    for source in sources:
        files = sorted(source.iterdir()) if source.is_dir() else [source]
        for path in files:
            info = path.stat()
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _check_folders(sources):
    """A folder among ``sources`` (:func:`find_sources`: one with no video file) that holds no
    image file either is a ``ValueError`` naming ``data`` (the command line's ``--data``)
    and both kinds of file (it said "the folder holds no image files" of a folder of videos
    of another extension)."""
    from ..video import IMAGE_EXTENSIONS, is_folder_image

    for source in sources:
        if source.is_dir() and not any(is_folder_image(f) for f in source.iterdir()):
            raise ValueError(f"data: the folder {source} holds no video file "
                             f"({', '.join(sorted(VIDEO_SUFFIXES))}) and no image file "
                             f"({', '.join(sorted(IMAGE_EXTENSIONS))})")


def triplet_parts(frame0, frame1, t=0.5):
    """The classical pipeline's parts at ``t`` for one pair (uint8 RGB), as tensors in [0, 1]
    (:func:`interp_refine.parts_tensors`): the same path as ``interpolate(method="learned")``."""
    from .. import _interpolate
    from .._estimators import get_estimator

    estimate = get_estimator("dis", None)
    f01 = estimate(frame0, frame1).astype(np.float32)
    f10 = estimate(frame1, frame0).astype(np.float32)
    state = _interpolate._prepare(frame0, frame1, f01, f10, True, "learned")
    state["interpolation"] = _interpolate.check_interpolation(None, "learned")
    f0, f1 = frame0.astype(np.float32) / 255, frame1.astype(np.float32) / 255
    parts = _interpolate._learned_parts(f0, f1, t, state, None)
    return interp_refine.parts_tensors(f0, f1, t, parts, state)


def add_crops(crops, sample, *, crop, count, rng):
    """Append ``count`` random ``crop`` x ``crop`` windows of ``sample`` (a dict of tensors
    ``(..., H, W)``, one window for all of them; ``(N,)`` tensors whole), as float16, to the
    lists of the dict ``crops`` (the samplers' shared cropping)."""
    h, w = next(v for v in sample.values() if v.ndim > 1).shape[-2:]
    for _ in range(count):
        y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
        for key, value in sample.items():
            part = value if value.ndim == 1 else value[..., y:y + crop, x:x + crop]
            crops.setdefault(key, []).append(part.half())


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
        add_crops(crops, parts, crop=crop, count=per_triplet, rng=rng)
    return {key: torch.cat(value) for key, value in crops.items()}


def shrink_frame(frame, shrink):
    """``frame`` shrunk by ``shrink`` (area averaging), to at least 1x1: a ``--shrink`` larger
    than the frame asked OpenCV for a size of 0 ("inv_scale_x > 0 in function 'resize'"); such
    a frame is now smaller than any crop, and skipped as they are."""
    import cv2

    if shrink <= 1:
        return frame
    size = (max(1, frame.shape[1] // shrink), max(1, frame.shape[0] // shrink))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def read_frames(source, shrink=1):
    """All frames of a video file or frame folder (uint8 RGB), shrunk by ``shrink`` (area
    averaging, :func:`shrink_frame`)."""
    from ..video import iter_frames

    return [shrink_frame(f, shrink) for f in iter_frames(source)]


def moving(a, b):
    """Whether two frames are neither static (mean absolute difference under 1 level) nor a
    cut (over 40 levels)."""
    return 1.0 <= np.abs(a.astype(np.int16) - b).mean() <= 40.0


def sample_triplets(sources, *, count, gaps=GAPS, shrink=2, rng):
    """About ``count`` triplets ``(frame k, frame k + gap / 2, frame k + gap)`` spread evenly over
    the sources (frames shrunk by ``shrink``, area averaging), skipping static ones (mean
    absolute difference of the end frames under 1 level) and cuts (over 40 levels). Gaps
    longer than a source are not drawn for it."""
    per_source = max(1, count // max(1, len(sources)))
    for source in sources:
        frames = read_frames(source, shrink)
        fits = [g for g in gaps if g < len(frames)]
        if not fits:
            continue
        starts = np.linspace(0, len(frames) - 1 - max(fits), per_source).astype(int)
        for k in starts:
            gap = int(rng.choice(fits))
            a, m, b = frames[k], frames[k + gap // 2], frames[k + gap]
            if moving(a, b):
                yield a, m, b


def flip(batch, rng, flow_keys=()):
    """Horizontal and vertical flips of every ``(N, C, H, W)`` (or ``(N, C, T, H, W)``) tensor
    of ``batch``, each with probability 1/2 (one draw per batch); ``(N,)`` tensors (per-sample
    scalars) stay; the u (v) components of ``flow_keys`` change sign."""
    batch = dict(batch)
    for axis, sign in ((-1, (-1.0, 1.0)), (-2, (1.0, -1.0))):
        if rng.random() < 0.5:
            batch = {k: (v if v.ndim == 1 else v.flip(axis)) for k, v in batch.items()}
            for k in flow_keys:
                batch[k] = batch[k] * torch.tensor(sign, dtype=batch[k].dtype,
                                                   device=batch[k].device).view(1, 2, 1, 1)
    return batch


def augment(batch, rng):
    """Flips (flow signs follow) and time reversal (the roles of the two frames swap), one
    draw per batch."""
    batch = flip(batch, rng, ("flow0", "flow1"))
    if rng.random() < 0.5:
        for x, y in _SWAP:
            batch[x], batch[y] = batch[y], batch[x]
    return batch


def loss_fn(model, batch):
    """The mean over crops of ``log10`` of each crop's mean squared error against the truth
    (intensities in [0, 1], plus 1e-5): minus a tenth of the crops' mean PSNR, the measure the
    refiner is scored by. A loss pooled over all pixels (the Charbonnier loss before) is ruled
    by the few crops where the flow failed, and its corrections (blur, brightening) cost the
    many good crops more PSNR than they win (docs/models.md)."""
    out = interp_refine.run(model, batch)
    return torch.log10(((out - batch["truth"]) ** 2).mean((1, 2, 3)) + 1e-5).mean()


def loss_step(loss=loss_fn):
    """A training step for :func:`fit`: one Adam step of ``modules["model"]`` on
    ``loss(model, batch)`` (default :func:`loss_fn`), reported as ``{"loss": value}``."""
    def step(modules, optimizers, batch):
        value = loss(modules["model"], batch)
        optimizers["model"].zero_grad()
        value.backward()
        optimizers["model"].step()
        return {"loss": value.item()}

    return step


def fit(model, crops, *, epochs, batch_size=16, lr=1e-3, seed=0, checkpoint=None, resume=None,
        device="cpu", progress=True, log=None, until=None, loss=loss_fn, step=None,
        augment=augment, run=None):
    """Train on ``crops`` (a dict of tensors with a common first axis, e.g.
    :func:`crops_from_triplets`); returns each epoch's mean losses (a float per epoch when
    ``step`` reports one loss, else a dict of them).

    ``model`` is a module or a dict ``name -> module`` (``"model"`` first), each with its own
    Adam and cosine schedule; ``step(modules, optimizers, batch) -> {loss name: float}`` runs
    one optimisation step on a batch made by ``augment(batch, rng)`` (default
    ``loss_step(loss)``: ``"model"`` alone on ``loss(model, batch)``). Checkpoints (modules,
    optimizers, schedules, epoch, generator states) are written atomically to ``checkpoint``
    after every epoch, with ``run`` (the record of the run, :func:`read_checkpoint`);
    ``resume`` (a path, or a checkpoint :func:`read_checkpoint` returned) continues from one;
    ``until`` stops after that epoch (as an interrupted run would)."""
    from tqdm import tqdm

    check_device(device)
    step = loss_step(loss) if step is None else step
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
    parts = fit_entries(modules, optimizers, schedulers)
    if resume is not None:
        state = load_checkpoint(resume, parts, rng, run)
        start, losses = state["epoch"], state["losses"]
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
            log(f"epoch {epoch + 1}/{epochs}: mean "
                + ", ".join(f"{k} {v:.5f}" for k, v in means.items()))
        if checkpoint is not None:
            save_checkpoint(checkpoint, parts, rng, run=run, epoch=epoch + 1, losses=losses)
    return losses


def fit_entries(modules, optimizers=None, schedulers=None):
    """The entries of :func:`fit`'s checkpoints: ``module:K``, ``optimizer:K`` and
    ``scheduler:K`` for each module ``K`` (``None`` for the optimizers and schedules not
    given: what :func:`read_checkpoint` checks before they exist)."""
    return {f"{kind}:{k}": (group or {}).get(k) for kind, group in
            (("module", modules), ("optimizer", optimizers), ("scheduler", schedulers))
            for k in modules}


class _WriteRecorder:
    """A file for ``torch.save`` that keeps the ``OSError`` of a failed write: torch's zip
    writer reports it as "[enforce fail at inline_container.cc:672] . unexpected pos 29632
    vs 29520", without the cause or the file (`ulimit -f`, a full disk)."""

    def __init__(self, file):
        self.file, self.error = file, None

    def write(self, data):
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self):
        self.file.flush()


def torch_save(obj, path):
    """``torch.save(obj, path)``, a write error raised as the ``OSError`` it is (inside
    :func:`atomic_path`, which names the output)."""
    with open(path, "wb") as file:
        recorder = _WriteRecorder(file)
        try:
            torch.save(obj, recorder)
        except RuntimeError:
            if recorder.error is None:
                raise
            raise recorder.error from None


def save_checkpoint(path, parts, rng, *, run=None, **progress):
    """Write a checkpoint atomically: the state of each of ``parts`` (a dict of name -> module,
    optimizer or scheduler), the NumPy generator ``rng``'s and torch's random states, ``run``
    (the record of the run that :func:`read_checkpoint` checks a resume against) and
    ``progress`` (epoch or step, losses): tensors, numbers, strings, lists, tuples and dicts
    only (NumPy's PCG64 state is a dict of Python integers), so that ``torch.load(path,
    weights_only=True)`` reads it (no code runs)."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(progress, run=run, rng=rng.bit_generator.state, torch_rng=torch.get_rng_state())
    with atomic_path(path) as tmp:
        torch_save(state, tmp)


# a run record's entries (train_model's, train_text2video's) -> the flag that sets them, for
# the errors of a resume (others are named as they are)
_FLAGS = {"sources": "--data", "seed": "--seed", "crop": "--crop", "triplets": "--triplets",
          "frames": "--triplets", "per_triplet": "--crops-per-triplet",
          "per_frame": "--crops-per-triplet", "clips": "--clips", "per_clip": "--crops-per-clip",
          "shrink": "--shrink", "base": "--base", "classical_base": "--base",
          "epochs": "--epochs", "steps": "--steps", "batch": "--batch", "lr": "--lr",
          "adversarial_weight": "--adversarial-weight", "pixel_loss": "--pixel-loss"}


def _option(key, value):
    """``--crop 32``: a run record's entry as the command line gives it."""
    return f"{_FLAGS.get(key, key)} {' '.join(value) if key == 'sources' else value}"


def _not_a_torch_file(path):
    """What ``path`` is when it is no ``torch.save`` file (safetensors weights, another
    file), in a few words; None for a ``torch.save`` file (zip, or a legacy pickle)."""
    with open(path, "rb") as f:
        head = f.read(9)
    if (len(head) == 9 and head[8:9] == b"{"
            and int.from_bytes(head[:8], "little") < Path(path).stat().st_size):
        return "safetensors weights (a checkpoint is the OUT.ckpt written beside them)"
    if not head.startswith((b"PK\x03\x04", b"\x80")):
        return "a file that is not a torch.save file"
    return None


def _unreadable(exc):
    """Why ``torch.load(weights_only=True)`` could not read a ``torch.save`` file."""
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        return ("a file holding other objects than tensors, numbers, strings, lists and "
                "dicts (loading it could run code: torch.load(weights_only=True) refuses it)")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(first) > 120:  # torch's messages run on: up to the last word that fits
        first = first[:120].rsplit(" ", 1)[0] + " ..."
    return f"a damaged or truncated file ({first})"


def read_checkpoint(path, run, parts):
    """Open the checkpoint ``path`` of ``--resume`` and check it, before any work: a file that
    ``torch.load(weights_only=True)`` reads (no code runs), written by :func:`save_checkpoint`
    for the model ``run["model"]`` with the same ``run`` record (data, seed, crop options,
    epochs or steps, batch, learning rate, ...: a resume continues the same run; of a
    finished run it trains nothing and writes the weights again), holding every entry of
    ``parts`` (name -> module, or anything else (``None``): only its presence is
    checked) with each module's keys and shapes. ``run=None`` (:func:`fit` called without
    one): the entries alone are checked. Returns the checkpoint (tensors on the CPU).

    Raises ``FileNotFoundError("--resume: no such checkpoint '<path>'")`` (exit status 1 on
    the command line, as a missing ``--data``) or a one-line ``ValueError("--resume: <path>:
    expected a checkpoint of flowkit train <model>, got ...")`` (the first mismatch only)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"--resume: no such checkpoint {str(path)!r}")
    model = run["model"] if run else None
    prefix = f"--resume: {path}: expected a checkpoint of " + (
        f"flowkit train {model}" if model else f"these modules ({', '.join(parts)})")

    def error(got):
        return ValueError(f"{prefix}, got {got}")

    if Path(path).is_dir():
        raise error("a folder")
    special = special_file(path)
    if special:  # opening a FIFO waited for a writer for ever
        raise error(f"{special}, not a regular file")
    other = _not_a_torch_file(path)  # torch.load reads some (safetensors) as torch files
    if other:
        raise error(other)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every reason a file is not a checkpoint
        raise error(_unreadable(exc)) from None
    if not isinstance(state, dict) or "torch_rng" not in state:
        raise error(f"a torch.save file of a {type(state).__name__} that no flowkit train wrote")
    if run is not None:
        done = state.get("run")
        if not isinstance(done, dict) or "model" not in done:
            raise error("a checkpoint without the record of its run (written before flowkit "
                        "recorded it: train again without --resume)")
        if done["model"] != model:
            raise error(f"one of flowkit train {done['model']}")
        for key, value in run.items():
            if key == "data" and done.get(key) != value:
                raise ValueError(f"--resume: {path}: expected a checkpoint of this run, got one "
                                 "of a run whose --data files had other sizes or times (or "
                                 "were not recorded): the data changed; train without --resume")
            if key != "model" and (key not in done or done[key] != value):
                given = _option(key, value)
                held = _option(key, done[key]) if key in done else f"no {_FLAGS.get(key, key)}"
                raise ValueError(f"--resume: {path}: expected a checkpoint of this run, got one "
                                 f"of a run with {held}, not {given} (a resume continues the "
                                 "same run: give the same data and options, or train without "
                                 "--resume)")
    for name, part in parts.items():
        if name not in state:
            raise error(f"one without {name!r}")
        if isinstance(part, torch.nn.Module):
            mine, theirs = part.state_dict(), state[name]
            if not isinstance(theirs, dict):
                raise error(f"a {type(theirs).__name__} for {name}")
            for key in list(mine) + [k for k in theirs if k not in mine]:
                if key not in theirs:
                    raise error(f"one without {name} {key}")
                if key not in mine:
                    raise error(f"one with {name} {key}, which the model does not have")
                shape = tuple(getattr(theirs[key], "shape", ()))
                if shape != tuple(mine[key].shape):
                    raise error(f"{name} {key} of shape {shape}, the model's is "
                                f"{tuple(mine[key].shape)}")
                if not (isinstance(theirs[key], torch.Tensor) and theirs[key].is_floating_point()
                        == mine[key].is_floating_point()):  # load_state_dict casts int32
                    raise error(f"{name} {key} of {_kind(theirs[key])}, the model's is "
                                f"{str(mine[key].dtype).removeprefix('torch.')}")
        elif name.startswith(("optimizer:", "scheduler:")) and not isinstance(state[name], dict):
            raise error(f"a {type(state[name]).__name__} for {name}")
        elif name.startswith("optimizer:") and isinstance(parts.get(f"module:{name[10:]}"),
                                                            torch.nn.Module):
            try:  # fit's Adam, tried on a copy: its state for these parameters
                module = parts[f"module:{name[10:]}"]
                torch.optim.Adam(module.parameters()).load_state_dict(state[name])
            except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
                raise error(f"{name} that Adam cannot restore ({type(exc).__name__}: "
                            f"{str(exc)[:120]})") from None
    _check_progress(state, run, error)
    return state  # a finished run trains nothing more and writes its weights again


def _kind(value):
    return (str(value.dtype).removeprefix("torch.") if isinstance(value, torch.Tensor)
            else type(value).__name__)


def _check_progress(state, run, error):
    """The entries :func:`fit` restores besides the modules: the epoch (or step) done, an
    integer from 0 to the run's, the losses a list, the random states NumPy's PCG64 and
    torch's take (a file edited by hand, or another tool's, failed after the crops were made
    with 'str' object cannot be interpreted as an integer, or trained 7 epochs of 2 from
    epoch -5)."""
    done = next((key for key in ("epoch", "step") if key in state), None)
    total = (run or {}).get("epochs" if done == "epoch" else "steps")
    if done is not None:
        value = state[done]
        if not isinstance(value, int) or isinstance(value, bool) or not (
                0 <= value <= (value if total is None else total)):
            bound = f" from 0 to {total}" if total is not None else " >= 0"
            raise error(f"one whose {done} is {value!r}, not an integer{bound}")
        if not isinstance(state.get("losses"), list):
            raise error(f"one whose losses are {_kind(state.get('losses'))}, not a list")
    try:
        np.random.PCG64().state = state.get("rng")
    except (TypeError, ValueError, KeyError) as exc:
        raise error(f"one whose NumPy random state cannot be restored ({exc})") from None
    mine = torch.get_rng_state()
    theirs = state["torch_rng"]
    if not (isinstance(theirs, torch.Tensor) and theirs.dtype == mine.dtype
            and theirs.shape == mine.shape):
        raise error(f"one whose torch random state is {_kind(theirs)} of shape "
                    f"{tuple(getattr(theirs, 'shape', ()))}, not uint8 of shape "
                    f"{tuple(mine.shape)}")


def load_checkpoint(checkpoint, parts, rng, run=None):
    """Restore ``parts`` and the random states from a :func:`save_checkpoint` file
    (``checkpoint``: its path, checked by :func:`read_checkpoint` against ``run``, or what
    :func:`read_checkpoint` returned); returns the whole checkpoint dict (its progress
    entries)."""
    state = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint, run, parts)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    return state


def save_weights(model, path, meta):
    """The model's tensors to ``path`` (safetensors, atomic) and ``meta`` with the file's size,
    sha256 and parameter count to ``path`` with suffix ``.json``."""
    from safetensors.torch import save

    path = Path(path)
    # encoded here and written by Python: save_file's failed write was "Error while
    # serializing: I/O error: File too large (os error 27)", naming no file
    data = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    meta = {**meta, "num_params": sum(p.numel() for p in model.parameters()),
            "file_size": path.stat().st_size, "sha256": sha256(path)}
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def check_numbers(lr, **counts):
    """Every training's ``lr`` (a number > 0) and counts (``epochs``, ``batch``, ``threads``,
    ``steps``: integers >= 1), checked before any work: ``batch=0`` was a ZeroDivisionError,
    ``epochs=0`` wrote untrained weights, ``threads=0`` and ``lr=-1`` torch's own errors."""
    from .._validate import check_float, check_int

    for name, value in counts.items():
        check_int(name, value, min_value=1)
    check_float("lr", lr, low=0, low_open=True)


def check_start(out, device, resume, run, parts):
    """What every ``flowkit train MODEL`` checks before any work: ``device``
    (:func:`check_device`), that ``out`` is no folder and the folder of ``out`` exists (the
    errors name ``out``, not the checkpoint or cache beside it) and, with ``resume``, the
    checkpoint
    (:func:`read_checkpoint` against ``run`` and ``parts``). Returns the checkpoint read, or
    None."""
    check_path("out", out)
    check_device(device)
    if Path(out).is_dir():  # found when the weights were saved, after the training
        raise IsADirectoryError(f"out: {out} is a folder; expected a .safetensors file to write")
    check_folder(out, "out")
    return None if resume is None else read_checkpoint(resume, run, parts)


def _too_short(sources, frames, sequence):
    """``"; too short for a SEQUENCE: A (2 frames), ..."``: the sources with fewer than
    ``frames`` frames (the samplers skip them without a word; at most ``frames`` of each are
    decoded), or ``""``."""
    from ..video import iter_frames

    short = []
    for source in sources if frames > 1 else ():
        count = sum(1 for _ in itertools.islice(iter_frames(source), frames))
        if count < frames:
            short.append(f"{source} ({count} frame{'s' if count != 1 else ''})")
    return f"; too short for a {sequence}: {', '.join(short)}" if short else ""


def _rounded(loss):
    return round(loss, 5) if isinstance(loss, float) else {k: round(v, 5) for k, v in loss.items()}


def train_model(name, model, data, out, *, make_crops, augment, epochs, batch, lr, device,
                resume, seed, threads, cache, command, progress, log, per_sample, nothing,
                crop_options, loss=loss_fn, step=None, meta=None, sequence=None,
                sequence_frames=1):
    """What ``flowkit train`` runs for every model: find the sources under ``data``, make the
    crops with ``make_crops(sources, rng)`` (or load them from ``cache``, default
    ``OUT.cache.pt``, when it was made from the same sources (paths, and :func:`data_stamp`:
    their files' sizes and times), seed and ``crop_options``, the
    options ``make_crops`` uses; else it is made again; none made is
    ``ValueError("data: <nothing> found in <sources>")``, naming the sources with fewer than
    the ``sequence_frames`` frames of a sample, :func:`_too_short`),
    :func:`fit` ``model`` (a module, or a dict of modules whose ``"model"`` is saved) with
    ``loss`` or ``step``, write ``out`` and its metadata (``meta`` added). Returns the
    metadata. Before the crops are made: ``device``, the folder of ``out`` and the checkpoint
    ``resume`` (:func:`read_checkpoint`: the same model, cache key, ``epochs``, ``batch``,
    ``lr`` and ``meta``, unfinished) are checked. A model whose sample is a ``sequence`` of
    frames (``"triplet of frames"``) refuses an image file among the sources first
    (``ValueError``: a single image holds none); a folder with neither video nor image files
    is a ``ValueError`` naming ``data`` (the command line's ``--data``) before the crops are
    made. ``log`` None: no lines (as :func:`fit`'s)."""
    log = log or (lambda line: None)
    sources = find_sources(data)
    if sequence is not None:
        from ..video import IMAGE_EXTENSIONS

        for source in sources:
            if source.is_file() and source.suffix.lower() in IMAGE_EXTENSIONS:
                raise ValueError(f"data: {source} is a single image, which holds no {sequence}: "
                                 f"{name} trains on video files or folders of frames")
    key = {"sources": [str(Path(s).resolve()) for s in sources], "data": data_stamp(sources),
           "seed": seed, **crop_options}
    modules = model if isinstance(model, dict) else {"model": model}
    run = {"model": name, **key, "epochs": epochs, "batch": batch, "lr": lr, **(meta or {})}
    check_numbers(epochs=epochs, batch=batch, threads=threads, lr=lr)
    resume = check_start(out, device, resume, run, fit_entries(modules))
    _check_folders(sources)
    torch.set_num_threads(threads)
    began = time.perf_counter()
    cache = Path(cache) if cache else Path(str(out) + ".cache.pt")
    stored, damaged = {}, False
    if cache.is_file():
        try:
            stored = torch.load(cache, weights_only=True)
        except Exception:  # noqa: BLE001 - a cache cut short (Ctrl-C before atomic writes, a full disk)
            damaged = True
    if isinstance(stored, dict) and stored.get("key") == key:
        crops = stored["crops"]
        log(f"{len(next(iter(crops.values())))} crops from the cache {cache}")
    else:
        if damaged or stored:
            log(f"the cache {cache} was " + ("damaged or not a crop cache" if damaged else
                                             "made from other data or options") + ": made again")
        crops = make_crops(sources, np.random.default_rng(seed))
        if not crops:
            raise ValueError(f"data: {nothing} found in {', '.join(map(str, sources))}"
                             + _too_short(sources, sequence_frames, sequence))
        with atomic_path(cache) as tmp:
            torch_save({"key": key, "crops": crops}, tmp)
        count = len(next(iter(crops.values())))
        log(f"{count} crops of {count // per_sample} samples in "
            f"{time.perf_counter() - began:.0f} s, cached in {cache}")
    losses = fit(model, crops, epochs=epochs, batch_size=batch, lr=lr, seed=seed, device=device,
                 checkpoint=str(out) + ".ckpt", resume=resume, progress=progress, log=log,
                 loss=loss, step=step, augment=augment, run=run)
    info = {"model": name, "training_data": [str(s) for s in sources],
            "command": command, "crops": len(next(iter(crops.values()))), "epochs": epochs,
            **(meta or {}), "losses": [_rounded(v) for v in losses],
            "wall_seconds": round(time.perf_counter() - began), "threads": threads}
    return save_weights((model["model"] if isinstance(model, dict) else model).cpu(), out, info)


@keeps_torch_state
def train_interp_refine(data, out, *, epochs=10, crop=128, batch=16, lr=1e-3, device="cpu", resume=None,
                        seed=0, triplets=240, per_triplet=4, shrink=2, threads=2, cache=None,
                        command="", progress=True, log=print):
    """What ``flowkit train interp-refine`` runs: sample triplets from ``data``, compute (or
    load from ``cache``) the classical parts of random crops, train, write ``out`` and its
    metadata.

    Parameters
    ----------
    data : str, Path or sequence of them
        Video files (.mp4, .avi, .mkv, .webm, .mov, .m4v), folders of such videos, or
        folders of frames (image files, in name order).
    out : str or Path
        The ``.safetensors`` file to write (atomically, replacing one); its metadata goes
        beside it as ``.json`` and a checkpoint to ``OUT.ckpt`` after each epoch.
    epochs : int
        Passes over the crops (>= 1).
    crop : int
        Side of the square crops, in pixels of the shrunk frames.
    batch : int
        Crops per optimisation step (>= 1).
    lr : float
        Adam's learning rate (> 0), decayed to ``lr / 20`` on a cosine over the run.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    resume : str or Path, optional
        A checkpoint ``OUT.ckpt`` of this same run (same data, seed and options; see
        :func:`read_checkpoint`) to continue from; checked before any work.
    seed : int
        Seeds the sampling of triplets and crops, the initial weights and the order of the batches.
    triplets : int
        About how many triplets (three frames, the outer two 2, 4 or 8 frames apart) to
        sample over the sources.
    per_triplet : int
        Random crops of each triplet.
    shrink : int
        The frames are shrunk by this factor (area averaging) before cropping.
    threads : int
        torch's CPU threads for the run (>= 1); the caller's count is restored after.
    cache : str or Path, optional
        Where the crops' classical inputs (flows, warped frames, occlusion masks) are cached
        (default ``OUT.cache.pt``), reused when made from the same files (paths, sizes,
        times), seed and crop options.
    command : str
        The command line recorded in the metadata (``flowkit train`` passes its own).
    progress : bool
        Progress bars on stderr.
    log : callable or None
        Called with each progress line (a str: the crops made or loaded, each epoch's mean
        losses); default ``print``; None: no lines.

    Returns
    -------
    dict
        The metadata written beside ``out``: ``model``, ``training_data``, ``command``,
        ``crops``, ``epochs``, ``losses`` (the mean loss of each epoch),
        ``wall_seconds``, ``threads``, ``num_params``, ``file_size`` (bytes), ``sha256``.

    Raises
    ------
    FileNotFoundError
        A path of ``data`` that does not exist, a missing folder for ``out``, or a ``resume``
        checkpoint that does not exist.
    IsADirectoryError
        ``out`` is a folder.
    TypeError
        ``epochs``, ``batch`` or ``threads`` not an integer, ``lr`` not a real number.
    ValueError
        ``epochs``, ``batch`` or ``threads`` below 1, ``lr`` not > 0, an unknown ``device`` (or
        a CUDA one without a CUDA build of torch and a GPU), a ``resume`` checkpoint of
        another run or model, or, naming ``data``: an image file among the sources (a single
        image holds no triplet), a folder with neither video nor image files, or no triplet
        of at least ``crop`` x ``crop`` pixels with motion.
    """
    def make_crops(sources, rng):
        found = sample_triplets(sources, count=triplets, shrink=shrink, rng=rng)
        return crops_from_triplets(found, crop=crop, per_triplet=per_triplet, rng=rng)

    torch.manual_seed(seed)  # the initial weights too, as predict-gan's and text2video's
    return train_model("interp-refine", float32_module(interp_refine.InterpRefine), data, out,
                       make_crops=make_crops, loss=loss_fn, augment=augment, epochs=epochs,
                       batch=batch, lr=lr, device=device, resume=resume, seed=seed,
                       threads=threads, cache=cache, command=command, progress=progress,
                       log=log, per_sample=per_triplet,
                       crop_options=dict(crop=crop, triplets=triplets, per_triplet=per_triplet,
                                         shrink=shrink, gaps=list(GAPS),
                                         base=interp_refine.BASE_METHOD),
                       nothing=f"no triplet of at least {crop}x{crop} pixels with motion",
                       sequence="triplet of frames", sequence_frames=min(GAPS) + 1)


# --- colorize ------------------------------------------------------------------------------------

def sample_frames(sources, *, count, shrink=2):
    """About ``count`` RGB frames spread evenly over the sources (every k-th frame of each;
    shrunk by ``shrink``, area averaging), skipping nearly gray ones (mean distance of the
    channels from their mean under 2 levels)."""
    from ..video import iter_frames, probe_video

    per_source = max(1, count // max(1, len(sources)))
    for source in sources:
        # every step-th frame (streamed: a long video is not held in memory)
        total = probe_video(source).frame_count if source.is_file() else None
        step = max(1, (total or per_source) // per_source)
        for f in itertools.islice(iter_frames(source, step=step), per_source):
            f = shrink_frame(f, shrink)
            if np.abs(f.astype(np.int16) - f.mean(axis=2, keepdims=True)).mean() >= 2:
                yield f


def colorize_crops(frames, *, crop, per_frame, rng):
    """``per_frame`` random crops of each RGB frame: ``{"luma": (N, 1, crop, crop), "chroma":
    (N, 2, crop, crop)}`` float16 in [0, 1] (:func:`flowkit.models.colorize.split`)."""
    from .colorize import split

    crops = {}
    for frame in frames:
        h, w = frame.shape[:2]
        if h < crop or w < crop:
            continue
        y, cc = split(frame)
        add_crops(crops, {"luma": torch.from_numpy(y)[None, None],
                          "chroma": torch.from_numpy(cc).permute(2, 0, 1)[None]},
                  crop=crop, count=per_frame, rng=rng)
    return {k: torch.cat(v) for k, v in crops.items()}


def colorize_loss(model, batch):
    """Mean absolute chroma error, [0, 1] units."""
    return (model(batch["luma"].contiguous(memory_format=torch.channels_last))
            - batch["chroma"]).abs().mean()


@keeps_torch_state
def train_colorize(data, out, *, epochs=10, crop=128, batch=16, lr=1e-3, device="cpu",
                   resume=None, seed=0, frames=240, per_frame=4, shrink=2, threads=2, cache=None,
                   command="", progress=True, log=print):
    """What ``flowkit train colorize`` runs: sample colour frames from ``data``, random crops
    of their luma and chroma, train luma -> chroma, write ``out`` and its metadata.

    Parameters
    ----------
    data : str, Path or sequence of them
        Video files (.mp4, .avi, .mkv, .webm, .mov, .m4v), folders of such videos, or
        folders of frames (image files, in name order).
    out : str or Path
        The ``.safetensors`` file to write (atomically, replacing one); its metadata goes
        beside it as ``.json`` and a checkpoint to ``OUT.ckpt`` after each epoch.
    epochs : int
        Passes over the crops (>= 1).
    crop : int
        Side of the square crops, in pixels of the shrunk frames.
    batch : int
        Crops per optimisation step (>= 1).
    lr : float
        Adam's learning rate (> 0), decayed to ``lr / 20`` on a cosine over the run.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    resume : str or Path, optional
        A checkpoint ``OUT.ckpt`` of this same run (same data, seed and options; see
        :func:`read_checkpoint`) to continue from; checked before any work.
    seed : int
        Seeds the sampling of crops, the initial weights and the order of the batches.
    frames : int
        About how many frames to sample, spread evenly over the sources (nearly gray ones
        skipped).
    per_frame : int
        Random crops of each frame.
    shrink : int
        The frames are shrunk by this factor (area averaging) before cropping.
    threads : int
        torch's CPU threads for the run (>= 1); the caller's count is restored after.
    cache : str or Path, optional
        Where the crops are cached (default ``OUT.cache.pt``), reused when made from the
        same files (paths, sizes, times), seed and crop options.
    command : str
        The command line recorded in the metadata (``flowkit train`` passes its own).
    progress : bool
        Progress bars on stderr.
    log : callable or None
        Called with each progress line (a str: the crops made or loaded, each epoch's mean
        losses); default ``print``; None: no lines.

    Returns
    -------
    dict
        The metadata written beside ``out``: ``model``, ``training_data``, ``command``,
        ``crops``, ``epochs``, ``losses`` (the mean L1 chroma loss of each epoch),
        ``wall_seconds``, ``threads``, ``num_params``, ``file_size`` (bytes), ``sha256``.

    Raises
    ------
    FileNotFoundError
        A path of ``data`` that does not exist, a missing folder for ``out``, or a ``resume``
        checkpoint that does not exist.
    IsADirectoryError
        ``out`` is a folder.
    TypeError
        ``epochs``, ``batch`` or ``threads`` not an integer, ``lr`` not a real number.
    ValueError
        ``epochs``, ``batch`` or ``threads`` below 1, ``lr`` not > 0, an unknown ``device`` (or
        a CUDA one without a CUDA build of torch and a GPU), a ``resume`` checkpoint of
        another run or model, or, naming ``data``: a folder with neither video nor image
        files, or no colour frame of at least ``crop`` x ``crop`` pixels.
    """
    from .colorize import Colorize

    def make_crops(sources, rng):
        found = sample_frames(sources, count=frames, shrink=shrink)
        return colorize_crops(found, crop=crop, per_frame=per_frame, rng=rng)

    torch.manual_seed(seed)  # the initial weights too
    return train_model("colorize", float32_module(Colorize), data, out, make_crops=make_crops,
                       loss=colorize_loss, augment=flip, epochs=epochs, batch=batch, lr=lr,
                       device=device, resume=resume, seed=seed, threads=threads, cache=cache,
                       command=command, progress=progress, log=log, per_sample=per_frame,
                       crop_options=dict(crop=crop, frames=frames, per_frame=per_frame,
                                         shrink=shrink),
                       nothing=f"no colour frame of at least {crop}x{crop} pixels")
