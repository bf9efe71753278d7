"""The "predict-gan" model: registry and shipped weights, the untrained generator equal to the
classical prediction bit for bit, its losses against NumPy references, training (loss falls,
seeds, resume), predict(method="gan") and its errors, the command line, and the torch-less
error. Torch tests skip when torch is absent."""

import json

import numpy as np
import pytest

import flowkit
from flowkit import metrics, models

from cases import run_without_torch

try:
    import torch
except ImportError:  # pragma: no cover - the torch-less CI venv
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason='torch not installed (pip install "flowkit-cv[torch]")')


def _clip(frames=8, h=40, w=56, speed=1, seed=0):
    """A smooth random gray texture moving ``speed`` px per frame to the right (uint8)."""
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w + speed * frames)).astype(np.float32), (0, 0), 2.0)
    base = (base - base.min()) / (base.max() - base.min())
    clip = np.stack([base[:, speed * (frames - k):speed * (frames - k) + w] for k in range(frames)])
    return np.rint(255 * clip).astype(np.uint8)


# --- registry and weights ---

def test_registry_lists_predict_gan_with_both_weights_and_metadata():
    assert "predict-gan" in models.list_models()
    for name in ("default", "l1"):
        w = models.get_weights("predict-gan", name)
        assert w.path.is_file() and w.path.stat().st_size <= 5 * 2**20
        meta = w.meta
        assert meta["model"] == "predict-gan"
        assert meta["command"].startswith("flowkit train predict-gan ")
        assert "video_train" in " ".join(meta["training_data"])
        assert meta["file_size"] == w.path.stat().st_size
        assert meta["sha256"] == models._api.sha256(w.path)
        assert "scores" in meta
        # the classical prediction they refine, every option spelled out, and the pixel loss
        assert set(meta["classical_base"]) == {"flow", "context", "average", "scheme",
                                               "speed_spread", "advect_flow"}
        assert meta["pixel_loss"] in ("l1", "l2")
    assert models.get_weights("predict-gan", "l1").meta["adversarial_weight"] == 0
    assert models.get_weights("predict-gan").meta["adversarial_weight"] > 0


@needs_torch
def test_shipped_weights_load_and_differ_from_the_untrained_network():
    net = models.get_model("predict-gan")
    l1 = models.get_model("predict-gan", weights="l1")
    fresh = models.get_model("predict-gan", weights=None)
    assert not net.training
    assert torch.count_nonzero(fresh.head.weight) == 0
    assert torch.count_nonzero(net.head.weight) > 0
    assert not torch.equal(net.head.weight, l1.head.weight)
    assert sum(p.numel() for p in net.parameters()) == models.get_weights("predict-gan").meta["num_params"]


# --- the generator ---

@needs_torch
@pytest.mark.parametrize("kind", ["uint8 gray", "float32 rgb", "float64 gray batch", "uint16 rgb"])
def test_untrained_generator_reproduces_the_classical_prediction_exactly(kind):
    clip = _clip(frames=5)
    if "rgb" in kind:
        clip = np.stack([clip, clip[:, :, ::-1], 255 - clip], axis=-1)
    if kind.startswith("float32"):
        clip = clip.astype(np.float32) / 255
    if kind.startswith("float64"):
        clip = np.stack([clip, clip[:, ::-1]]).astype(np.float64) / 255
    if kind.startswith("uint16"):
        clip = clip.astype(np.uint16) * 257
    model = models.get_model("predict-gan", weights=None)
    classical = flowkit.predict(clip, 3)
    refined = flowkit.predict(clip, 3, method="gan", model=model)
    assert refined.dtype == classical.dtype and refined.shape == classical.shape
    np.testing.assert_array_equal(refined, classical)  # tolerance 0: the residual is exactly 0


@needs_torch
def test_generator_adds_its_residual_per_channel_and_horizon():
    from flowkit.models import predict_gan

    class Constant(torch.nn.Module):  # residual = horizon / 4 * 0.01 (its input's last channel)
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return 0.01 * x[:, -1:]

    clip = _clip(frames=3).astype(np.float32) / 255
    classical, motion = flowkit.predict(clip, 4, return_flow=True)
    out = predict_gan.refine_arrays(Constant(), clip, classical, motion)
    for k in range(4):  # float64 reference of classical + 0.01 k / 4, float32 rounding: 1e-6
        np.testing.assert_allclose(out[k], classical[k].astype(np.float64) + 0.01 * (k + 1) / 4,
                                   rtol=0, atol=1e-6)
    batch, scale = predict_gan.clip_tensors(clip, classical, motion)
    assert scale == 1.0 and batch["context"].shape == (4, predict_gan.CONTEXT, 40, 56)
    # the 3-frame clip's oldest frame is repeated to fill the context of 4
    np.testing.assert_array_equal(batch["context"][0, 0].numpy(), clip[0])
    np.testing.assert_array_equal(batch["context"][0, 1].numpy(), clip[0])
    np.testing.assert_array_equal(batch["context"][2, 3].numpy(), clip[2])
    # displacement k * motion, (u, v) channels
    np.testing.assert_allclose(batch["displacement"][2].permute(1, 2, 0).numpy(), 3 * motion,
                               rtol=1e-6)


@needs_torch
def test_networks_take_any_size():
    from flowkit.models import predict_gan

    net, disc = predict_gan.PredictRefine(), predict_gan.Discriminator3D()
    torch.nn.init.normal_(net.head.weight)
    x = torch.rand(2, predict_gan.IN_CHANNELS, 21, 35)
    assert net(x).shape == (2, 1, 21, 35)
    assert disc(torch.rand(3, 1, predict_gan.CONTEXT + 1, 21, 35)).shape == (3,)


@needs_torch
def test_gradient_difference_loss_matches_numpy():
    from flowkit.models.predict_gan import gradient_difference

    rng = np.random.default_rng(1)
    a, b = rng.random((2, 1, 9, 11)), rng.random((2, 1, 9, 11))

    def ref(out, truth):  # Mathieu et al. eq. 5, alpha = 1, as means over the differences
        dx = np.abs(np.abs(np.diff(out, axis=-1)) - np.abs(np.diff(truth, axis=-1))).mean()
        dy = np.abs(np.abs(np.diff(out, axis=-2)) - np.abs(np.diff(truth, axis=-2))).mean()
        return dx + dy

    got = gradient_difference(torch.from_numpy(a), torch.from_numpy(b)).item()
    assert got == pytest.approx(ref(a, b), rel=1e-12)
    assert gradient_difference(torch.from_numpy(a), torch.from_numpy(a)).item() == 0


@needs_torch
def test_pixel_losses_are_the_mean_squared_and_absolute_errors():
    from flowkit.models.predict_gan import pixel_loss

    rng = np.random.default_rng(2)
    a, b = rng.random((3, 1, 7, 9)), rng.random((3, 1, 7, 9))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert pixel_loss(ta, tb).item() == pytest.approx(((a - b) ** 2).mean(), rel=1e-12)
    assert pixel_loss(ta, tb, "l1").item() == pytest.approx(np.abs(a - b).mean(), rel=1e-12)
    # analytic: a constant offset c costs c^2 (L2) and |c| (L1)
    assert pixel_loss(tb + 0.25, tb, "l2").item() == pytest.approx(0.0625, rel=1e-12)
    assert pixel_loss(tb - 0.25, tb, "l1").item() == pytest.approx(0.25, rel=1e-12)
    # their optima over a constant prediction of samples {0, 0, 1}: the mean 1/3 for L2, the
    # median 0 for L1 (why an L1-trained residual stays at the sharp classical frame)
    truth = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    grid = torch.linspace(0, 1, 301, dtype=torch.float64)
    best = {kind: grid[int(np.argmin([pixel_loss(g.expand(3), truth, kind).item() for g in grid]))].item()
            for kind in ("l2", "l1")}
    assert best == {"l2": pytest.approx(1 / 3, abs=1e-12), "l1": 0.0}
    with pytest.raises(ValueError, match="pixel_loss: expected one of"):
        pixel_loss(ta, tb, "l3")


def test_sharpness_metric_analytic_and_errors():
    ramp = np.tile(np.arange(16, dtype=np.float64) / 16, (12, 1))
    assert metrics.sharpness(ramp / 2, ramp) == pytest.approx(0.5, rel=1e-12)
    assert metrics.sharpness(np.stack([ramp] * 3, -1), np.stack([ramp] * 3, -1)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="reference"):
        metrics.sharpness(ramp, ramp[:5])
    with pytest.raises(ValueError, match="image: expected one image"):
        metrics.sharpness(np.zeros((2, 3, 4, 3)), np.zeros((2, 3, 4, 3)))


# --- training ---

def _crops(fade=0.0):
    """Crops of two moving textures; with ``fade``, frame k is brightened by ``fade * k`` (of
    full scale), which the classical prediction misses and the network can learn."""
    from flowkit.models import train_gan

    rng = np.random.default_rng(0)
    clips = [np.clip(_clip(seed=s, speed=1 + s) * 0.6 + 255 * fade * np.arange(8)[:, None, None],
                     0, 255).astype(np.uint8) for s in range(2)]
    return train_gan.crops_from_clips(clips, crop=24, per_clip=2, rng=rng)


@needs_torch
def test_clip_crops_hold_the_classical_prediction_and_truth():
    crops = _crops()
    n = 2 * 2 * 4  # clips x crops x horizons
    assert crops["context"].shape == (n, 4, 24, 24) and crops["truth"].shape == (n, 1, 24, 24)
    assert crops["horizon"].tolist()[:4] == [1, 2, 3, 4]
    # the classical prediction of a steadily moving texture is close to the truth
    err = (crops["classical"].float() - crops["truth"].float()).abs().mean().item()
    assert err < 0.03
    # a fade of 3 % a frame: the truth at horizon k is ~3k % above the classical frame
    faded = _crops(fade=0.03)
    gap = (faded["truth"].float() - faded["classical"].float()).mean((1, 2, 3))
    np.testing.assert_allclose(gap.numpy(), 0.03 * faded["horizon"].numpy(), atol=0.01)


@needs_torch
@pytest.mark.parametrize("weight, pixel", [(0.01, "l2"), (0.0, "l2"), (0.0, "l1")])
def test_a_few_training_steps_lower_the_loss_and_are_deterministic(tmp_path, weight, pixel):
    from flowkit.models import predict_gan, train_gan

    torch.set_num_threads(1)
    crops = _crops(fade=0.03)
    batch = {k: v.float() for k, v in crops.items()}
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        modules = {"model": predict_gan.PredictRefine()}
        if weight:
            modules["disc"] = predict_gan.Discriminator3D()
        with torch.no_grad():
            _, lp, gdl = train_gan.generator_losses(modules["model"], batch, pixel)
            before = (lp + gdl).item()
        losses = train_gan.fit(modules, crops, epochs=6, batch_size=4, lr=3e-3, seed=5,
                               progress=False, checkpoint=tmp_path / "ckpt.pt",
                               step=train_gan.make_step(weight, pixel), augment=train_gan.augment)
        modules["model"].eval()
        with torch.no_grad():
            _, lp, gdl = train_gan.generator_losses(modules["model"], batch, pixel)
        runs.append((before, (lp + gdl).item(), modules["model"].state_dict(), losses))
    (before, after, state, losses), (_, after2, state2, losses2) = runs
    assert after < 0.8 * before
    assert set(losses[0]) == ({"loss", pixel, "gdl", "adv", "disc"} if weight else {"loss", pixel, "gdl"})
    assert after == after2 and losses == losses2
    assert all(torch.equal(state[k], state2[k]) for k in state)


@needs_torch
def test_resume_continues_where_the_checkpoint_left(tmp_path):
    from flowkit.models import predict_gan, train_gan

    torch.set_num_threads(1)
    crops = _crops()

    def run(**kw):
        torch.manual_seed(0)
        modules = {"model": predict_gan.PredictRefine(), "disc": predict_gan.Discriminator3D()}
        train_gan.fit(modules, crops, epochs=3, batch_size=4, seed=2, progress=False,
                      step=train_gan.make_step(0.05), augment=train_gan.augment, **kw)
        return modules

    straight = run()
    run(checkpoint=tmp_path / "c.pt", until=1)
    resumed = run(resume=tmp_path / "c.pt")
    for name in ("model", "disc"):
        for k, v in straight[name].state_dict().items():
            torch.testing.assert_close(resumed[name].state_dict()[k], v, rtol=0, atol=0)


# --- predict(method="gan") and the command line ---

@needs_torch
def test_shipped_gan_prediction_stays_close_to_the_classical_one():
    clip = _clip(frames=4, h=48, w=64)
    classical = flowkit.predict(clip, 2)
    refined = flowkit.predict(clip, 2, method="gan")
    assert refined.shape == classical.shape and refined.dtype == np.uint8
    # a refinement, not a new image: within a few levels on average on a plain moving texture
    assert np.abs(refined.astype(int) - classical).mean() < 4


def test_gan_method_errors():
    clip = _clip(frames=3)
    with pytest.raises(ValueError, match="method: expected one of 'flow', 'gan'"):
        flowkit.predict(clip, 1, method="learned")
    with pytest.raises(ValueError, match="model: expected None unless method='gan'"):
        flowkit.predict(clip, 1, model="w.safetensors")


@needs_torch
def test_gan_model_errors(tmp_path):
    clip = _clip(frames=3)
    with pytest.raises(TypeError, match="model: expected None, a weights path or a torch.nn.Module"):
        flowkit.predict(clip, 1, method="gan", model=3)
    with pytest.raises(FileNotFoundError, match="^model: no such file"):  # said "weights: "
        flowkit.predict(clip, 1, method="gan", model=str(tmp_path / "none.safetensors"))


@needs_torch
def test_gan_model_of_another_class_is_a_type_error_before_anything_runs(monkeypatch):
    # torch's "Given groups=1, weight of size ..." (another network) and "missing the required
    # forward" (a bare module) leaked before; now a TypeError naming both classes, raised
    # before the classical prediction runs
    import torch

    class Tiny(torch.nn.Module):
        pass

    def never(*args, **kwargs):
        raise AssertionError("the prediction ran")

    from flowkit import _predict

    monkeypatch.setattr(_predict, "get_estimator", never)
    clip = _clip(frames=3)
    for model, name in ((Tiny(), "Tiny"), (models.get_model("colorize", weights=None), "Colorize")):
        with pytest.raises(TypeError, match=rf"model: expected a flowkit.models.predict_gan."
                                            rf"PredictRefine .*, got \S*{name}$"):
            flowkit.predict(clip, 1, method="gan", model=model)


@needs_torch
def test_cli_train_and_predict_with_the_trained_weights(tmp_path, capsys):
    import cv2
    from flowkit.cli import main

    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(_clip(frames=12, h=40, w=60, speed=2)):
        cv2.imwrite(str(folder / f"f{k:02d}.png"), frame)
    out = tmp_path / "g.safetensors"
    assert main(["-q", "train", "predict-gan", "--data", str(folder), "--out", str(out),
                 "--epochs", "1", "--crop", "32", "--batch", "4", "--clips", "3",
                 "--crops-per-clip", "1", "--shrink", "1", "--threads", "1",
                 "--base", "speed_spread=0.1"]) == 0
    assert "wrote" in capsys.readouterr().out
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["model"] == "predict-gan" and "--adversarial-weight 0.01" in meta["command"]
    # the pixel loss (default l2) and the classical base, every option spelled out
    assert meta["pixel_loss"] == "l2" and "--pixel-loss l2" in meta["command"]
    assert meta["command"].endswith("--base speed_spread=0.1")
    from flowkit.models.train_gan import BASE
    assert meta["classical_base"] == {**BASE, "speed_spread": 0.1}
    predicted = tmp_path / "pred"
    assert main(["-q", "predict", str(folder), "--horizon", "2", "-o", str(predicted),
                 "--method", "gan", "--model", str(out)]) == 0
    assert f"refined by predict-gan weights {out}" in capsys.readouterr().out
    assert len(list(predicted.glob("*.png"))) == 2
    # the shipped weights: the printed line says they change next to nothing
    assert main(["-q", "predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "p2"),
                 "--method", "gan"]) == 0
    assert ("then predict-gan (its shipped weights change < 0.1 grey level: docs/models.md)"
            in capsys.readouterr().out)


@needs_torch
def test_cli_train_unknown_base_option_is_one_line(tmp_path, capsys):
    from flowkit.cli import main

    assert main(["train", "predict-gan", "--data", str(tmp_path), "--out",
                 str(tmp_path / "g.safetensors"), "--base", "speed=0.1"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--base: expected options of flowkit.predict" in err[0]
    assert "'speed'" in err[0] and not (tmp_path / "g.safetensors.cache.pt").exists()


def test_cli_model_without_gan_is_a_usage_error(tmp_path, capsys):
    import cv2
    from flowkit.cli import main

    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(_clip(frames=3)):
        cv2.imwrite(str(folder / f"f{k}.png"), frame)
    assert main(["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "o"),
                 "--model", "x.safetensors"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--model needs --method gan" in err[0]


def test_without_torch_gan_errors_name_the_extra(tmp_path):
    code = ("import numpy as np, flowkit\n"
            "try:\n"
            "    flowkit.predict(np.zeros((3, 8, 8), np.uint8), 1, method='gan')\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    assert 'pip install "flowkit-cv[torch]"' in run_without_torch(tmp_path, code)[0]


@needs_torch
def test_float_output_stays_in_the_float_range():
    # a residual that pushes below 0 and above 1: clipped to [0, 1] as the classical
    # prediction's convex combinations never leave it; a float clip on a wider range keeps it
    from flowkit.models import predict_gan

    class Push(torch.nn.Module):
        def __init__(self, value):
            super().__init__()
            self.p, self.value = torch.nn.Parameter(torch.zeros(1)), value

        def forward(self, x):
            return torch.full_like(x[:, -1:], self.value)

    clip = _clip(frames=3).astype(np.float32) / 255
    classical, motion = flowkit.predict(clip, 2, return_flow=True)
    low = predict_gan.refine_arrays(Push(-2.0), clip, classical, motion)
    high = predict_gan.refine_arrays(Push(2.0), clip, classical, motion)
    assert low.dtype == np.float32 and low.min() == 0.0 and low.max() == 0.0
    assert high.max() == 1.0 and high.min() == 1.0
    wide = clip * 1.5 - 0.5  # [-0.5, 1]: its own range is the bound (full scale still 1)
    classical, motion = flowkit.predict(wide, 2, return_flow=True)
    out = predict_gan.refine_arrays(Push(-0.75), wide, classical, motion)
    np.testing.assert_allclose(out, np.maximum(classical - 0.75, wide.min()), rtol=0, atol=1e-6)
    assert flowkit.predict(clip, 2, method="gan").min() >= 0


@needs_torch
def test_gan_scales_float_clips_as_their_range():
    # the network was trained on [0, 1]: a float clip in [0, 255] is scaled as the uint8 clip,
    # as interpolate(method="learned") and colorize scale theirs (it was fed unscaled, so a
    # residual of 0.02 of full scale added 0.02 levels instead of 5.1)
    model = models.get_model("predict-gan", weights=None)
    with torch.no_grad():
        model.head.bias.fill_(0.02)
    clip = _clip(frames=4)
    as_uint8 = flowkit.predict(clip, 2, method="gan", model=model)
    np.testing.assert_allclose(as_uint8, np.minimum(flowkit.predict(clip, 2) + 5.1, 255),
                               rtol=0, atol=0.5)  # uint8 rounding
    for k in (1.0, 1 / 255):  # float32 arithmetic on values up to 255: 1e-4 levels
        floats = clip.astype(np.float32) * k
        classical = flowkit.predict(floats, 2).astype(np.float64)
        out = flowkit.predict(floats, 2, method="gan", model=model)
        np.testing.assert_allclose(out / k, np.minimum(classical / k + 5.1, 255), rtol=0,
                                   atol=1e-4)
