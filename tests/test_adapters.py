"""Adapters of flowkit.models: a user's torch module as interpolate(method=NAME) and
predict(method=NAME), torchvision's RAFT as the estimator "raft", and the DLPack conversions
(tested with NumPy and CPU tensors: no GPU here). Torch tests skip without torch, RAFT tests
without torchvision."""

import numpy as np
import pytest

import flowkit
from cases import run_without_torch
from flowkit import models
from flowkit._estimators import estimator_options, get_estimator

try:
    import torch
except ImportError:  # pragma: no cover - the torch-less CI venv
    torch = None
try:
    import torchvision  # noqa: F401
except (ImportError, RuntimeError):  # PyPI's torchvision does not import beside torch 2.13.0 CPU
    torchvision = None

needs_torch = pytest.mark.skipif(torch is None, reason='torch not installed (pip install "flowkit-cv[torch]")')
needs_torchvision = pytest.mark.skipif(
    torch is None or torchvision is None,
    reason="torchvision not installed or not importable beside this torch (RAFT adapter); "
           "tested in a venv with torch 2.14.1 + torchvision 0.29.1")


@pytest.fixture
def registered():
    """Names registered by a test, removed afterwards."""
    names = []
    yield names
    for kind, name in names:
        models.adapters.unregister(kind, name)


if torch is not None:
    class Blend(torch.nn.Module):
        """The documented interpolator signature: a cross-fade (1 - t) frame0 + t frame1."""

        def forward(self, frame0, frame1, t):
            t = t.view(-1, 1, 1, 1)
            return (1 - t) * frame0 + t * frame1

    class Repeat(torch.nn.Module):
        """The documented predictor signature: the last frame, brightened by 0.1 per step."""

        def __init__(self):
            super().__init__()
            self.step = torch.nn.Parameter(torch.tensor(0.1))

        def forward(self, frames, horizon):
            last = frames[:, -1:]
            k = torch.arange(1, horizon + 1, dtype=frames.dtype).view(1, -1, 1, 1, 1)
            return last + self.step * k


def _frames(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 200, shape).astype(np.uint8)


@needs_torch
@pytest.mark.parametrize("shape", [(12, 16), (12, 16, 3), (2, 12, 16, 3)])
def test_a_registered_interpolator_runs_as_a_method(registered, shape):
    models.register_interpolator("xfade", Blend())
    registered.append(("interpolator", "xfade"))
    assert "xfade" in models.list_adapters("interpolator")
    a, b = _frames(shape), _frames(shape, 1)
    out = flowkit.interpolate(a, b, [0.25, 0.5], method="xfade")
    # float64 reference of the cross-fade, rounded: float32 arithmetic differs by < 0.5 level
    for i, t in enumerate((0.25, 0.5)):
        expected = np.rint((1 - t) * a.astype(np.float64) + t * b)
        got = out[:, i] if len(shape) == 4 else out[i]
        assert got.dtype == np.uint8
        assert np.abs(got.astype(float) - expected).max() <= 1
    single = flowkit.interpolate(a.astype(np.float32) / 255, b.astype(np.float32) / 255, 0.5,
                                 method="xfade")
    assert single.shape == a.shape and single.dtype == np.float32
    # flow options do not apply to a module that estimates no flow: refused, not ignored
    for option, value in [("flow", "farneback"), ("flow_options", {"levels": 2}),
                          ("flow01", np.zeros(a.shape[-3:-1] + (2,), np.float32)),
                          ("occlusion", False), ("return_aux", True)]:
        with pytest.raises(ValueError, match=f"^{option}: not available with the registered "
                                             f"interpolator method='xfade'"):
            flowkit.interpolate(a, b, 0.5, method="xfade", **{option: value})
    # device does not apply to the module, but an unknown one is refused as predict refuses it
    for device in ("gpu", "cuda:0", 0):
        with pytest.raises(ValueError, match="^device: expected one of 'cpu', 'cuda' or None"):
            flowkit.interpolate(a, b, 0.5, method="xfade", device=device)


@needs_torch
@pytest.mark.parametrize("shape", [(3, 10, 14), (3, 10, 14, 3), (2, 3, 10, 14)])
def test_a_registered_predictor_runs_as_a_method(registered, shape):
    models.register_predictor("brighten", Repeat())
    registered.append(("predictor", "brighten"))
    clip = _frames(shape).astype(np.float32) / 255
    out = flowkit.predict(clip, 2, method="brighten")
    last = clip[:, -1] if len(shape) == 4 and shape[-1] > 4 else clip[-1]
    horizon_axis = 1 if out.ndim == 4 and len(shape) == 4 and shape[-1] > 4 else 0
    for k in range(2):
        got = np.take(out, k, axis=horizon_axis)
        np.testing.assert_allclose(got, last + 0.1 * (k + 1), rtol=0, atol=1e-6)


@needs_torch
def test_adapter_registration_errors(registered):
    with pytest.raises(ValueError, match=r"name: expected a name not yet registered as an "
                                         r"interpolator method \(registered: project, .*\), got "
                                         r"'splat'; it is flowkit's own, which replace=True"):
        models.register_interpolator("splat", Blend())
    with pytest.raises(ValueError, match="name: expected a name not yet registered as a predictor "
                                         "method"):
        models.register_predictor("gan", Repeat())
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module"):
        models.register_predictor("x", 3)
    # a name of another type was a ValueError here and a TypeError for register_estimator
    with pytest.raises(TypeError, match="^name: expected a string, got 3$"):
        models.register_interpolator(3, Blend())
    with pytest.raises(ValueError, match="^name: expected a non-empty string, got ''"):
        models.register_predictor("", Repeat())
    models.register_predictor("wrong", lambda frames, horizon: frames)  # returns the wrong shape
    registered.append(("predictor", "wrong"))
    with pytest.raises(ValueError, match=r"method='wrong': the registered module returned \(1, 3"):
        flowkit.predict(_frames((3, 8, 8)), 1, method="wrong")
    with pytest.raises(ValueError, match="return_flow: not available"):
        flowkit.predict(_frames((3, 8, 8)), 1, method="wrong", return_flow=True)
    with pytest.raises(ValueError, match="method: expected one of"):
        flowkit.predict(_frames((3, 8, 8)), 1, method="nope")
    with pytest.raises(ValueError, match="method: expected one of"):
        flowkit.interpolate(_frames((8, 8)), _frames((8, 8)), method="nope")


def test_an_adapter_is_replaced_with_replace_true(registered):
    # re-running a notebook cell that registers an adapter raised "expected a name that is
    # not yet an interpolator method", with no replace as register_estimator's
    first, second = (lambda frame0, frame1, t: frame0), (lambda frame0, frame1, t: frame1)
    models.register_interpolator("rerun", first)
    registered.append(("interpolator", "rerun"))
    with pytest.raises(ValueError, match="got 'rerun'; replace=True replaces it$"):
        models.register_interpolator("rerun", second)
    assert models.register_interpolator("rerun", second, replace=True) is second
    assert models.adapters._ADAPTERS["interpolator"]["rerun"] is second
    with pytest.raises(ValueError, match="got 'splat'; it is flowkit's own, which replace=True "
                                         "does not replace"):
        models.register_interpolator("splat", second, replace=True)  # never a built-in
    models.register_predictor("rerun", first)
    registered.append(("predictor", "rerun"))
    models.register_predictor("rerun", second, replace=True)
    assert models.adapters._ADAPTERS["predictor"]["rerun"] is second
    with pytest.raises(TypeError, match="^replace: "):
        models.register_predictor("rerun", second, replace=1)


@needs_torch
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_an_adapter_whose_output_is_not_finite_is_an_error(registered, bad):
    # cast to uint8 such an output was zeros, silently (a NumPy RuntimeWarning only)
    models.register_interpolator("broken", lambda frame0, frame1, t: frame0 * bad)
    models.register_predictor("broken", lambda frames, horizon: frames[:, -1:].repeat(
        1, horizon, 1, 1, 1) * bad)
    registered.extend([("interpolator", "broken"), ("predictor", "broken")])
    a, b = _frames((8, 8)) + 1, _frames((8, 8), 1) + 1  # no zero: 0 * inf is NaN anyway
    with pytest.raises(ValueError, match=r"method='broken': the registered module's output is "
                                         r"not finite \(64 of 64 values"):
        flowkit.interpolate(a, b, 0.5, method="broken")
    with pytest.raises(ValueError, match=r"method='broken': .* not finite \(128 of 128"):
        flowkit.predict(_frames((3, 8, 8)) + 1, 2, method="broken")
    # float frames with NaN pixels of their own may carry them through
    nan_frame = a.astype(np.float32) / 255
    nan_frame[0, 0] = np.nan
    models.register_interpolator("carry", lambda frame0, frame1, t: frame0)
    registered.append(("interpolator", "carry"))
    out = flowkit.interpolate(nan_frame, b.astype(np.float32) / 255, 0.5, method="carry")
    assert np.isnan(out[0, 0]) and np.isfinite(out[1:]).all()


@needs_torch
def test_an_adapter_that_returns_no_tensor_is_a_type_error(registered):
    # a NumPy array of the right shape raised "AttributeError: 'numpy.ndarray' object has no
    # attribute 'movedim'"; a list was a ValueError "returned list, expected shape"
    models.register_interpolator("numpy-out", lambda frame0, frame1, t: frame0.numpy())
    models.register_predictor("list-out", lambda frames, horizon: [frames])
    registered.extend([("interpolator", "numpy-out"), ("predictor", "list-out")])
    with pytest.raises(TypeError, match=r"^method='numpy-out': the registered module returned "
                                        r"ndarray of shape \(1, 1, 8, 8\) and dtype float32, "
                                        r"expected a torch\.Tensor of shape \(1, 1, 8, 8\)$"):
        flowkit.interpolate(_frames((8, 8)), _frames((8, 8), 1), 0.5, method="numpy-out")
    with pytest.raises(TypeError, match=r"^method='list-out': the registered module returned "
                                        r"a builtins\.list, expected a torch\.Tensor of shape "
                                        r"\(1, 2, 1, 8, 8\)$"):
        flowkit.predict(_frames((3, 8, 8)), 2, method="list-out")


def test_list_adapters_without_kind_lists_all(registered):
    # kind was required (a TypeError without it) and an unknown kind a bare KeyError
    models.register_interpolator("a-interp", lambda frame0, frame1, t: frame0)
    models.register_predictor("b-pred", lambda frames, horizon: frames)
    models.register_predictor("a-interp", lambda frames, horizon: frames)
    registered.extend([("interpolator", "a-interp"), ("predictor", "b-pred"),
                       ("predictor", "a-interp")])
    assert models.list_adapters() == ["a-interp", "b-pred"]
    assert models.list_adapters("interpolator") == ["a-interp"]
    assert models.list_adapters("predictor") == ["a-interp", "b-pred"]
    with pytest.raises(ValueError, match="kind: expected None, 'interpolator' or 'predictor', "
                                         "got 'interpolators'"):
        models.list_adapters("interpolators")
    # unregister said "name: expected a registered interpolators, got 'a-interp'"
    with pytest.raises(ValueError, match="^kind: expected 'interpolator' or 'predictor', got "
                                         "'interpolators'$"):
        models.adapters.unregister("interpolators", "a-interp")
    with pytest.raises(ValueError, match="^name: expected a registered interpolator, got 'b-pred'$"):
        models.adapters.unregister("interpolator", "b-pred")


# --- DLPack ---

@needs_torch
def test_dlpack_conversions_share_memory():
    from flowkit.models._arrays import like, to_dtype, to_tensor

    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = to_tensor(x)
    assert t.data_ptr() == x.ctypes.data  # no copy
    back = like(t, x)
    assert np.shares_memory(back, x) and back.flags.writeable
    u16 = np.arange(6, dtype=np.uint16).reshape(2, 3)
    assert to_tensor(u16).dtype == torch.uint16
    flipped = x[:, ::-1]  # negative strides: copied, values kept
    np.testing.assert_array_equal(to_tensor(flipped).numpy(), flipped)
    np.testing.assert_array_equal(to_dtype(np.array([-1.0, 2.5, 3.5, 300.0], np.float32), np.uint8),
                                  [0, 2, 4, 255])


# --- RAFT ---

def test_raft_is_a_registered_estimator_with_a_weights_option():
    assert "raft" in flowkit.list_estimators()
    assert estimator_options("raft") == ["weights", "small", "num_flow_updates", "device"]
    with pytest.raises(ValueError, match="weights: expected the path of a local RAFT state dict"):
        get_estimator("raft")(_frames((32, 32)), _frames((32, 32)))


@pytest.mark.skipif(torch is None or torchvision is not None,
                    reason="needs torch without an importable torchvision")
def test_raft_without_torchvision_names_what_to_install(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"")
    with pytest.raises(ImportError, match="pip install torchvision"):
        flowkit.predict(_frames((2, 32, 32)), 1, flow="raft", flow_options={"weights": str(weights)})
    # found missing with the options, before any frame: flowkit batch checks them on the
    # client, and the workers no longer fail one after another (and are not rerun)
    with pytest.raises(ImportError, match="pip install torchvision"):
        get_estimator("raft", {"weights": str(weights)})
    # named as the caller passed it, as the other option errors (flowkit batch said
    # "-O weights: no such file" of -O "flow_options={'weights': ...}", an option it has not)
    with pytest.raises(FileNotFoundError,
                       match=r"^flow_options\['weights'\]: no such file .*absent.pt"):
        flowkit.predict(_frames((2, 32, 32)), 1, flow="raft",
                        flow_options={"weights": str(tmp_path / "absent.pt")})


@pytest.fixture(scope="module")
def raft_weights(tmp_path_factory):
    """A randomly initialised raft_small state dict saved to a local file (nothing downloaded)."""
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("raft") / "raft_small.pt"
    torch.save(raft_small(weights=None).state_dict(), path)
    return path


@needs_torchvision
def test_raft_loads_local_weights_and_follows_the_flow_convention(raft_weights):
    from torchvision.models.optical_flow import raft_small

    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (37, 133, 3)).astype(np.uint8)  # padded to 128 x 136
    b = np.roll(a, 1, axis=1)
    flow = flowkit.predict(np.stack([a, b]), 1, flow="raft", flow_options={"weights": str(raft_weights)},
                           return_flow=True)[1]
    assert flow.shape == (37, 133, 2) and flow.dtype == np.float32
    # the same network called directly on the padded [-1, 1] pair: u from channel 0, v from 1
    net = raft_small(weights=None)
    net.load_state_dict(torch.load(raft_weights, weights_only=True))
    net.eval()

    def prep(x):
        t = torch.from_numpy(x).float().permute(2, 0, 1)[None] / 255 * 2 - 1
        return torch.nn.functional.pad(t, (0, 3, 0, 128 - 37), mode="replicate")

    with torch.no_grad():
        ref = net(prep(a), prep(b), num_flow_updates=12)[-1][0, :, :37, :133].permute(1, 2, 0).numpy()
    direct = get_estimator("raft", {"weights": str(raft_weights)})(a, b)
    np.testing.assert_allclose(direct, ref, rtol=0, atol=1e-5)  # float32, same ops: 1e-5
    # predict's motion is -estimate(last, previous)
    np.testing.assert_allclose(flow, -get_estimator("raft", {"weights": str(raft_weights)})(b, a),
                               rtol=0, atol=1e-5)


@needs_torchvision
def test_raft_weight_errors(tmp_path, raft_weights):
    bad = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(3)}, bad)
    f = _frames((32, 32))
    with pytest.raises(ValueError, match=r"flow_options\['weights'\]: .*is not a state dict of torchvision's raft_small"):
        get_estimator("raft", {"weights": str(bad)})(f, f)
    with pytest.raises(FileNotFoundError, match=r"flow_options\['weights'\]: no such file"):
        get_estimator("raft", {"weights": str(tmp_path / "none.pt")})(f, f)
    with pytest.raises(ValueError, match="is not a state dict of torchvision's raft_large"):
        get_estimator("raft", {"weights": str(raft_weights), "small": False})(f, f)


@needs_torch
def test_interpolate_video_takes_a_registered_interpolator(registered):
    # interpolate_video passes interpolate's options on, method included: it refused a
    # registered method ("expected one of 'project', ...") that interpolate takes
    models.register_interpolator("xfade", Blend())
    registered.append(("interpolator", "xfade"))
    video = _frames((3, 12, 16, 3))
    out = list(flowkit.interpolate_video(video, factor=2, method="xfade"))
    assert len(out) == 5
    for k in (1, 3):
        expected = flowkit.interpolate(video[k // 2], video[k // 2 + 1], 0.5, method="xfade")
        np.testing.assert_array_equal(out[k], expected)


def test_an_adapter_without_torch_names_the_extra(tmp_path):
    # registering needs no torch, running does: the run was a bare "No module named 'torch'"
    code = ("import numpy as np, flowkit\n"
            "from flowkit import models\n"
            "models.register_interpolator('mine', lambda a, b, t: a)\n"
            "models.register_predictor('mine', lambda frames, horizon: frames)\n"
            "for call in (lambda: flowkit.interpolate(np.zeros((8, 8)), np.zeros((8, 8)), 0.5,\n"
            "                                         method='mine'),\n"
            "             lambda: flowkit.predict(np.zeros((2, 8, 8)), 1, method='mine')):\n"
            "    try:\n"
            "        call()\n"
            "    except ImportError as exc:\n"
            "        print(exc)\n")
    assert run_without_torch(tmp_path, code) == [
        "flowkit's learned models need PyTorch, which is not installed: pip install "
        '"flowkit-cv[torch]" (from a git checkout: pip install -e ".[torch]")'] * 2


@pytest.mark.parametrize("option, value, error, expected", [
    ("num_flow_updates", 0, ValueError, "an integer >= 1, got 0"),  # torch's IndexError
    ("num_flow_updates", 2.5, TypeError, "an integer, got 2.5"),  # ran 2 updates
    ("small", "no", TypeError, "a bool, got 'no'"),  # ran raft_small
])
def test_raft_option_values_are_checked_before_any_frame(tmp_path, option, value, error, expected):
    weights = tmp_path / "raft_small.pt"
    weights.write_bytes(b"")  # never read: the options are refused first
    with pytest.raises(error, match=rf"^flow_options\['{option}'\]: expected {expected}"):
        get_estimator("raft", {"weights": str(weights), option: value})


@needs_torchvision
def test_raft_weights_rewritten_in_place_are_loaded_again(tmp_path):
    # the network was cached by the path's string: a file retrained in place gave the flow of
    # the weights it had held before
    from torchvision.models.optical_flow import raft_small

    path = tmp_path / "raft_small.pt"
    a = _frames((40, 48))
    b = np.roll(a, 1, axis=1)
    flows = []
    for seed in (0, 1, 1):
        torch.manual_seed(seed)
        target = path if len(flows) < 2 else tmp_path / "fresh.pt"
        torch.save(raft_small(weights=None).state_dict(), target)
        flows.append(get_estimator("raft", {"weights": str(target)})(a, b))
    assert not np.array_equal(flows[0], flows[1])
    np.testing.assert_array_equal(flows[1], flows[2])


@needs_torch
@pytest.mark.parametrize("option, value", [
    ("flow", "farneback"), ("flow_options", {"levels": 2}), ("context", 3), ("average", "mean"),
    ("smooth", {"method": "gaussian", "size": 5}), ("scheme", "forward"), ("n_iter", 2),
    ("speed_spread", 0.0), ("advect_flow", False), ("scene_threshold", 20)])
def test_a_registered_predictor_refuses_the_flow_options(registered, option, value):
    # they were ignored (context=3 still handed the module every frame), where interpolate
    # refuses its flow options for a registered interpolator
    models.register_predictor("brighten", Repeat())
    registered.append(("predictor", "brighten"))
    clip = _frames((4, 10, 14)).astype(np.float32) / 255
    with pytest.raises(ValueError, match=f"^{option}: not available with the registered "
                                         f"predictor method='brighten'"):
        flowkit.predict(clip, 2, method="brighten", **{option: value})


@needs_torch
def test_a_module_in_training_mode_runs_in_eval_mode_and_keeps_its_mode(registered):
    # a user's module straight from its training loop: dropout made every call differ (from
    # a trial of issue 11's adapters); it runs in eval mode and is left in training mode
    class Dropped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = torch.nn.Dropout(0.5)

        def forward(self, frame0, frame1, t):
            return self.drop(0.5 * (frame0 + frame1))

    class DroppedPredictor(Dropped):
        def forward(self, frames, horizon):
            return self.drop(frames[:, -1:].expand(-1, horizon, -1, -1, -1))

    interpolator, predictor = Dropped(), DroppedPredictor()
    assert interpolator.training and predictor.training
    models.register_interpolator("dropped", interpolator)
    registered.append(("interpolator", "dropped"))
    models.register_predictor("dropped", predictor)
    registered.append(("predictor", "dropped"))
    a, b = _frames((12, 16)).astype(np.float32) / 255, _frames((12, 16), 1).astype(np.float32) / 255
    first = flowkit.interpolate(a, b, 0.5, method="dropped")
    np.testing.assert_allclose(first, 0.5 * (a + b), atol=1e-6)  # no unit dropped or scaled
    np.testing.assert_array_equal(flowkit.interpolate(a, b, 0.5, method="dropped"), first)
    future = flowkit.predict(np.stack([a, b]), 2, method="dropped")
    np.testing.assert_allclose(future, np.stack([b, b]), atol=1e-6)
    assert interpolator.training and predictor.training
