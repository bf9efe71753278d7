"""flowkit.models: the registry, weights loading and its errors, the interp-refine network
inside interpolate(method="learned"), training. Torch tests skip when torch is absent; the
torch-less error is tested in a subprocess that hides torch."""

import dataclasses
import json
import os
import re
import stat

import numpy as np
import pytest

import flowkit
from flowkit import models
from flowkit.models import _api

from cases import error_under_file_limit, run_without_torch

try:
    import torch
except ImportError:  # pragma: no cover - the torch-less CI venv
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason='torch not installed (pip install "flowkit-cv[torch]")')


def _pair(h=48, w=64, shift=2, seed=0):
    """A smooth random RGB texture and the same shifted ``shift`` px right (uint8)."""
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w + shift, 3)).astype(np.float32), (0, 0), 2.0)
    base = (base - base.min()) / (base.max() - base.min())
    frames = [np.ascontiguousarray(base[:, shift - k:shift - k + w]) for k in (0, shift // 2, shift)]
    return [np.rint(255 * f).astype(np.uint8) for f in frames]


# --- registry (no torch needed) ---

def test_registry_lists_the_builtin_model_with_its_metadata():
    assert "interp-refine" in models.list_models()
    weights = models.get_weights("interp-refine")
    assert weights.path.is_file() and weights.path.suffix == ".safetensors"
    meta = weights.meta
    for key in ("training_data", "command", "scores", "num_params", "file_size", "sha256"):
        assert key in meta, key
    assert meta["num_params"] <= 1_000_000
    assert meta["file_size"] == weights.path.stat().st_size <= 5 * 2**20
    assert meta["sha256"] == _api.sha256(weights.path)
    assert all("video_train" in p or "/video/" in p for p in meta["training_data"])


def test_weights_repr_is_short():
    # a notebook cell ending in get_weights(...) printed the whole metadata (scores, losses,
    # notes: 2.6 kB); the repr names the file and the metadata's keys
    weights = models.get_weights("interp-refine")
    assert repr(weights) == (f"Weights(path={weights.path!r}, meta=<{len(weights.meta)} keys: "
                             f"{', '.join(weights.meta)}>)")
    assert len(repr(weights)) < 300
    assert repr(models.Weights(_api.Path("w.safetensors"))) == \
        f"Weights(path={_api.Path('w.safetensors')!r}, meta={{}})"


def test_every_shipped_weights_json_carries_its_scores():
    # docs/models.md: "a JSON beside each: training data, the exact command, scores, ..."; the
    # colorize JSON had no scores although docs/models.md reports them
    import json

    for path in sorted(_api._WEIGHTS_DIR.glob("*.safetensors")):
        meta = json.loads(path.with_suffix(".json").read_text())
        for key in ("training_data", "command", "scores", "num_params", "file_size", "sha256"):
            assert key in meta, (path.name, key)
    scores = models.get_weights("colorize").meta["scores"]
    assert "eval_translation.py --frames 60 --clips colorize" in scores["eval"]
    assert (scores["chroma_error"], scores["gray_output_chroma_error"]) == (0.0834, 0.0269)
    assert scores["warping_error"]["temporally_consistent_blend"] == 0.0014


def test_register_and_get_round_trip_and_errors():
    name = "test-tiny-model"
    try:
        models.register_model(name, lambda: torch.nn.Linear(2, 3))
        assert name in models.list_models()
        with pytest.raises(ValueError, match="name: expected a name not yet registered as a model"):
            models.register_model(name, lambda: None)
        if torch is not None:
            m = models.get_model(name, weights=None)
            assert isinstance(m, torch.nn.Linear) and not m.training
    finally:
        _api._REGISTRY.pop(name, None)
    with pytest.raises(ValueError, match="name: expected one of .*interp-refine.*got 'nope'"):
        models.get_model("nope")
    with pytest.raises(ValueError, match=r"weights: expected a weights name of model 'interp-refine' \('default'\)"):
        models.get_weights("interp-refine", "best")
    with pytest.raises(TypeError, match="builder: expected a callable"):
        models.register_model("x", 5)
    with pytest.raises(TypeError, match="^name: expected a string, got 3$"):  # as estimators'
        models.register_model(3, lambda: None)


@needs_torch
def test_get_model_takes_a_builder_that_does_not_hash():
    # get_model asked whether the builder was flowkit's own by looking it up in a set: a
    # callable that defines __eq__ and so no hash (a dataclass instance) raised "TypeError:
    # unhashable type: 'Builder'"; a user's model keeps the dtype its builder gives
    @dataclasses.dataclass
    class Builder:
        features: int = 3

        def __call__(self):
            return torch.nn.Linear(2, self.features, dtype=torch.float64)

    name = "test-unhashable-builder"
    try:
        models.register_model(name, Builder())
        net = models.get_model(name)
        assert net.out_features == 3 and net.weight.dtype == torch.float64
    finally:
        _api._REGISTRY.pop(name, None)


def test_register_model_replace_for_a_rerun_cell():
    # re-running a notebook cell that registers a model raised "expected a name not yet
    # registered" with no way to replace it (register_estimator has replace=True)
    name = "test-replaced-model"
    try:
        models.register_model(name, lambda: torch.nn.Linear(2, 3))
        with pytest.raises(ValueError, match=r"not yet registered as a model \(registered: .*\), "
                                             r"got 'test-replaced-model'; replace=True replaces it$"):
            models.register_model(name, lambda: torch.nn.Linear(2, 4))
        if torch is not None:
            assert _api.cached_model(name).out_features == 3

        @models.register_model(name, replace=True)
        def build():
            return torch.nn.Linear(2, 4)
        assert _api._REGISTRY[name][0] is build
        if torch is not None:  # generate(model=name)'s cache does not keep the one before
            assert _api.cached_model(name).out_features == 4
    finally:
        _api._REGISTRY.pop(name, None)
        _api._cached_model.cache_clear()
    with pytest.raises(ValueError, match="it is flowkit's own, which replace=True does not"):
        models.register_model("interp-refine", lambda: None, replace=True)
    with pytest.raises(TypeError, match="^replace: "):
        models.register_model(name, lambda: None, replace="yes")
    assert name not in models.list_models()


def test_register_model_checks_its_weights_table():
    # {"default": "w.safetensors"} was registered and get_model then raised "AttributeError:
    # 'str' object has no attribute 'path'"; a list raised dict()'s own ValueError
    for weights, given in (({"default": "w.safetensors"}, "{'default': 'w.safetensors'}"),
                           (["a"], "['a']")):
        with pytest.raises(TypeError, match=r"^weights: expected None or a dict of str -> "
                                            r"flowkit\.models\.Weights \(Weights\(path, meta\)\), "
                                            rf"got {re.escape(given)}$"):
            models.register_model("test-bad-weights", lambda: None, weights=weights)
        assert "test-bad-weights" not in models.list_models()


@needs_torch
def test_get_model_takes_a_weights_object():
    # as torchvision's get_model takes its weights enums (a TypeError before: "give its .path")
    import torch

    w = models.get_weights("interp-refine")
    by_object = models.get_model("interp-refine", weights=w).state_dict()
    by_name = models.get_model("interp-refine").state_dict()
    assert all(torch.equal(by_object[k], by_name[k]) for k in by_name)
    with pytest.raises(ValueError, match=r"^weights: "):  # another model's: its file refused
        models.get_model("interp-refine", weights=models.get_weights("colorize"))


@needs_torch
def test_get_model_errors_are_short_and_name_the_parameter():
    # a state dict printed every tensor; a builder returning no module raised
    # "AttributeError: 'int' object has no attribute 'to'"
    state = models.get_model("interp-refine", weights=None).state_dict()
    with pytest.raises(TypeError) as info:
        models.get_model("interp-refine", weights=state)
    assert len(str(info.value)) < 120 and "\n" not in str(info.value), str(info.value)
    name = "test-not-a-module"
    try:
        models.register_model(name, lambda: 5)
        with pytest.raises(TypeError, match=rf"^builder: expected the builder of '{name}' to "
                                            r"return a torch\.nn\.Module, got 5$"):
            models.get_model(name)
    finally:
        _api._REGISTRY.pop(name, None)


def test_a_model_registered_without_weights_builds_by_default():
    # get_model(name) said "expected one of (none), a path ... got 'default'"; torchvision
    # builds with weights=None by default, and so does a model without registered weights
    name = "test-no-weights"
    try:
        models.register_model(name, lambda: torch.nn.Linear(2, 3))
        with pytest.raises(ValueError, match=rf"weights: model '{name}' was registered without "
                                             r"weights; pass weights=None .*got 'best'"):
            models.get_model(name, weights="best")
        with pytest.raises(ValueError, match="registered without weights; pass weights=None"):
            models.get_weights(name)
        if torch is not None:
            m = models.get_model(name)
            assert isinstance(m, torch.nn.Linear) and not m.training
    finally:
        _api._REGISTRY.pop(name, None)


@needs_torch
def test_weights_that_are_a_folder_are_named_as_one(tmp_path, monkeypatch):
    # it said "no such file" for a folder that exists
    with pytest.raises(IsADirectoryError, match=r"weights: '.*' is a folder; expected a "
                                                r"\.safetensors file"):
        models.get_model("interp-refine", weights=tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(IsADirectoryError, match="weights: 'runs' is a folder"):
        models.get_model("colorize", weights="runs")


@needs_torch
@pytest.mark.parametrize("call", [
    lambda f, model: flowkit.interpolate(f, f, method="learned", model=model),
    lambda f, model: flowkit.predict(np.stack([f, f, f]), 1, method="gan", model=model),
    lambda f, model: flowkit.generate("a red circle moves left", model=model),
], ids=["interpolate", "predict", "generate"])
def test_a_model_file_that_cannot_be_loaded_names_model(tmp_path, call):
    # model= is the caller's parameter: the loader's errors said "weights: no such file ..."
    f = _pair()[0]
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(FileNotFoundError, match=rf"^model: no such file '{missing}'$"):
        call(f, missing)
    folder = tmp_path / "runs.safetensors"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"^model: '.*runs\.safetensors' is a folder"):
        call(f, folder)
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"^model: '.*bad\.safetensors' is not a readable"):
        call(f, tmp_path / "bad.safetensors")
    os.mkfifo(tmp_path / "pipe.safetensors")  # it said 'no such file' of an existing FIFO
    with pytest.raises(ValueError, match=r"^model: '.*pipe\.safetensors' is a FIFO, not a regular "
                                         r"file; expected a \.safetensors file$"):
        call(f, tmp_path / "pipe.safetensors")


@needs_torch
@pytest.mark.parametrize("command", ["retime", "predict", "generate"])
def test_cli_a_missing_model_file_names_the_flag(tmp_path, capsys, command):
    # it said "flowkit: error: weights: no such file ...", the library's parameter
    import cv2
    from flowkit.cli import main

    missing = tmp_path / "absent.safetensors"
    if command == "generate":
        args = ["generate", "a red circle moves left", "-o", str(tmp_path / "g.mp4")]
    else:
        folder = tmp_path / "frames"
        folder.mkdir()
        for k, frame in enumerate(_pair()):
            cv2.imwrite(str(folder / f"f{k}.png"), frame)
        with flowkit.VideoWriter(tmp_path / "in.mkv", 10) as writer:
            for frame in _pair():
                writer.write(frame)
        args = (["retime", str(tmp_path / "in.mkv"), str(tmp_path / "o.mkv"), "--factor", "2",
                 "--method", "learned"] if command == "retime" else
                ["predict", str(folder), str(tmp_path / "o.mp4"), "--horizon", "1", "--method", "gan"])
    assert main([*args, "--model", str(missing), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flowkit: error: --model: no such file '{missing}'"]
    assert not any(p.suffix in (".mp4", ".mkv") and p.name != "in.mkv" for p in tmp_path.iterdir())


def test_without_torch_the_error_names_the_extra(tmp_path):
    weights = tmp_path / "w.pt"  # RAFT's weights file is checked (it exists) before torch is
    weights.write_bytes(b"")
    code = ("import numpy as np, flowkit\n"
            "from flowkit.models import get_model, list_models\n"
            "assert 'interp-refine' in list_models()\n"
            "for call in (lambda: get_model('interp-refine'),\n"
            "             lambda: flowkit.interpolate(np.zeros((8, 8)), np.zeros((8, 8)), method='learned'),\n"
            f"             lambda: flowkit.predict(np.zeros((2, 8, 8)), 1, flow='raft', flow_options={{'weights': {str(weights)!r}}})):\n"
            "    try:\n"
            "        call()\n"
            "    except ImportError as exc:\n"
            "        print(exc)\n")
    lines = run_without_torch(tmp_path, code)
    assert len(lines) == 3
    assert all('pip install "flowkit-cv[torch]"' in line for line in lines)


@needs_torch
def test_without_safetensors_the_error_comes_first_and_names_the_extra(tmp_path):
    """torch installed but not safetensors (``pip install torch`` then ``pip install -e .``):
    the error names the extra before any work, not when trained weights are saved."""
    code = ("from flowkit.models import get_model\n"
            "try:\n"
            "    get_model('interp-refine')\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    lines = run_without_torch(tmp_path, code, module="safetensors")
    assert lines == ["flowkit's learned models need safetensors, which is not installed: "
                     'pip install "flowkit-cv[torch]" (from a git checkout: pip install -e ".[torch]")']


def test_without_torch_the_command_line_names_the_install_of_a_release_and_of_a_checkout(tmp_path):
    # the README installs from a git checkout (pip install -e .), where the extra is
    # pip install -e ".[torch]": the one error line names both installs
    code = ("import contextlib, io\n"
            "from flowkit.cli import main\n"
            "err = io.StringIO()\n"
            "with contextlib.redirect_stderr(err):\n"
            "    status = main(['train', 'interp-refine', '--data', 'd', '--out', 'w.safetensors'])\n"
            "print(status)\n"
            "print(err.getvalue(), end='')\n")
    assert run_without_torch(tmp_path, code) == [
        "1", "flowkit: error: flowkit's learned models need PyTorch, which is not installed: "
             'pip install "flowkit-cv[torch]" (from a git checkout: pip install -e ".[torch]")']



def test_without_torch_method_learned_is_refused_before_any_work_naming_the_flag(tmp_path):
    # interpolate and retime --method learned: at once, before reading the inputs (which do
    # not exist here), naming the flag
    code = ("import contextlib, io\n"
            "from flowkit.cli import main\n"
            "for args in (['interpolate', 'a.png', 'b.png', 'm.png', '--method', 'learned'],\n"
            "             ['retime', 'in.mp4', 'out.mp4', '--factor', '2', '--method', 'learned']):\n"
            "    err = io.StringIO()\n"
            "    with contextlib.redirect_stderr(err):\n"
            "        status = main(args)\n"
            "    print(status)\n"
            "    print(err.getvalue(), end='')\n")
    message = ("flowkit: error: --method learned: flowkit's learned models need PyTorch, which is "
               'not installed: pip install "flowkit-cv[torch]" (from a git checkout: pip install -e ".[torch]")')
    assert run_without_torch(tmp_path, code) == ["1", message, "1", message]


# --- weights ---

@needs_torch
def test_shipped_weights_and_a_user_file_load_the_same(tmp_path):
    from flowkit.models.train import save_weights

    shipped = models.get_model("interp-refine")
    path = tmp_path / "mine.safetensors"
    save_weights(shipped, path, {"note": "copy"})
    mine = models.get_model("interp-refine", weights=path)
    for (k, a), (_, b) in zip(shipped.state_dict().items(), mine.state_dict().items()):
        assert torch.equal(a, b), k
    assert json.loads(path.with_suffix(".json").read_text())["sha256"] == _api.sha256(path)


@needs_torch
def test_empty_weights_string_is_no_path():
    # Path("") is ".": it said "weights: '.' is a folder" (IsADirectoryError)
    with pytest.raises(ValueError, match=r"weights: expected a weights name of model "
                                         r"'interp-refine' \('default'\), .*got ''"):
        models.get_model("interp-refine", weights="")


@needs_torch
def test_a_weights_file_rewritten_in_place_is_loaded_again(tmp_path, monkeypatch):
    # the model of a path was cached by the string: interpolate(model="w.safetensors") after
    # the file was retrained in place (or after a chdir) ran the weights loaded before
    from flowkit.models.train import save_weights

    net = models.get_model("interp-refine")
    f0, _, f1 = _pair()
    monkeypatch.chdir(tmp_path)
    save_weights(net, tmp_path / "w.safetensors", {})
    before = flowkit.interpolate(f0, f1, method="learned", model="w.safetensors")
    with torch.no_grad():
        net.head.bias[1:] += 0.2  # a brighter residual: +0.2 of full scale
    save_weights(net, tmp_path / "w.safetensors", {})
    os.utime(tmp_path / "w.safetensors", ns=(1, 1))  # another mtime even on a coarse clock
    after = flowkit.interpolate(f0, f1, method="learned", model="w.safetensors")
    expected = flowkit.interpolate(f0, f1, method="learned", model=net)
    assert np.array_equal(after, expected)
    assert after.astype(int).mean() > before.astype(int).mean() + 20


@needs_torch
def test_weights_path_with_the_platforms_separator(monkeypatch):
    # a missing path written with Windows' separator (os.sep "\\", os.altsep "/" there) is
    # "no such file", as "models/absent.pth" is, not "unknown weights name"
    monkeypatch.setattr(os, "sep", "\\")
    monkeypatch.setattr(os, "altsep", "/")
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        models.get_model("interp-refine", weights="models\\absent.pth")


@needs_torch
def test_weights_are_read_not_mapped_and_a_file_too_large_is_refused(tmp_path, monkeypatch):
    # a mapped file (safetensors' load_file) cut short by another process while in use killed
    # the process with SIGBUS: the bytes are read, and a file larger than any weights of the
    # architecture can be (8 bytes per weight + the 100 MB header limit) is refused unread
    from flowkit.models import _api
    from safetensors import torch as safetensors_torch

    monkeypatch.setattr(safetensors_torch, "load_file", None)  # not used
    model = models.get_model("interp-refine")  # loads the shipped weights from bytes
    huge = tmp_path / "huge.safetensors"
    with open(huge, "wb") as file:
        file.truncate(200 * 2**20)  # sparse: no disk used
    with pytest.raises(ValueError, match=r"weights: .*huge.safetensors' is 200.0 MiB, more "
                                         r"than weights of InterpRefine can take "
                                         r"\(9\d\.\d MiB at most\)"):
        _api.load_state(model, huge)


@needs_torch
def test_corrupt_and_wrong_shape_weights_are_clear_errors(tmp_path):
    from safetensors.torch import save_file

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ValueError, match="weights: .*corrupt.safetensors' is not a readable safetensors file"):
        models.get_model("interp-refine", weights=corrupt)
    state = {k: v.contiguous() for k, v in models.get_model("interp-refine", weights=None).state_dict().items()}
    state["head.bias"] = torch.zeros(7)
    wrong = tmp_path / "wrong.safetensors"
    save_file(dict(state), str(wrong))
    with pytest.raises(ValueError, match=r"head.bias expected shape \(4,\), got \(7,\)"):
        models.get_model("interp-refine", weights=wrong)
    del state["head.bias"]
    save_file(dict(state), str(wrong))
    with pytest.raises(ValueError, match=r"does not fit InterpRefine: missing head.bias$"):
        models.get_model("interp-refine", weights=wrong)
    # another model's file: only the lists that hold something (it printed "missing []")
    with pytest.raises(ValueError, match=r"does not fit InterpRefine: unexpected .*\(and \d+ more\)$"):
        models.get_model("interp-refine", weights=models.get_weights("colorize").path)
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        models.get_model("interp-refine", weights=tmp_path / "absent.safetensors")
    # NaN weights (a diverged run) loaded silently, and interpolate(method="learned") returned
    # black frames with a RuntimeWarning from the cast
    state = {k: v.contiguous() for k, v in models.get_model("interp-refine", weights=None).state_dict().items()}
    state["enc1.0.weight"] = state["enc1.0.weight"].clone()
    state["enc1.0.weight"][0, 0, 0, 0] = float("nan")
    nan = tmp_path / "nan.safetensors"
    save_file(state, str(nan))
    with pytest.raises(ValueError, match=r"^weights: '.*nan\.safetensors' holds NaN or infinite "
                                         r"values in enc1\.0\.weight; expected finite weights$"):
        models.get_model("interp-refine", weights=nan)


@needs_torch
@pytest.mark.parametrize("name", ["interp-refine", "colorize", "predict-gan",
                                  "text2video-shapes"])
def test_state_dict_saves_with_safetensors_save_file_and_loads_back(tmp_path, name):
    # the U-Nets held their parameters channels-last, so safetensors' documented
    # save_file(model.state_dict(), path) refused them ("You are trying to save a non
    # contiguous tensor: `enc1.0.weight`"): a fine-tuned model could not be saved as is
    from safetensors.torch import save_file

    net = models.get_model(name)
    path = tmp_path / "mine.safetensors"
    save_file(net.state_dict(), str(path))
    again = models.get_model(name, weights=path)
    for (key, value), other in zip(net.state_dict().items(), again.state_dict().values()):
        assert torch.equal(value, other), key


@needs_torch
def test_learned_functions_run_under_a_float64_default_dtype():
    # after torch.set_default_dtype(torch.float64) (a host's numerical code) flowkit's networks
    # were built in float64 and met float32 input: "Input type (float) and bias type (double)
    # should be the same" from interpolate(method="learned"), predict(method="gan"),
    # colorize_frame and generate, after the classical pipeline had run
    from flowkit.models.colorize import colorize_frame

    frame0, _, frame1 = _pair(h=24, w=32)
    calls = (lambda: flowkit.interpolate(frame0, frame1, method="learned"),
             lambda: flowkit.predict([frame0, frame1], 1, method="gan"),
             lambda: colorize_frame(frame0),
             lambda: flowkit.generate("a red circle moves left", frames=2, seed=0))
    _api._cached_model.cache_clear()
    expected = [call() for call in calls]
    default = torch.get_default_dtype()
    try:
        _api._cached_model.cache_clear()  # the models are built again under float64
        torch.set_default_dtype(torch.float64)
        got = [call() for call in calls]
        assert next(models.get_model("interp-refine").parameters()).dtype == torch.float32
    finally:
        torch.set_default_dtype(default)
        _api._cached_model.cache_clear()
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


@needs_torch
def test_untrained_models_draw_a_float32_defaults_weights_under_a_float64_default():
    # get_model(weights=None) built in float64 then cast: a seed drew other initial weights
    # than under float32 (the trainers already drew a float32 default's)
    import torch

    def initial(name):
        torch.manual_seed(0)
        return models.get_model(name, weights=None).state_dict()

    for name in ("interp-refine", "predict-gan"):
        want = initial(name)
        torch.set_default_dtype(torch.float64)
        try:
            got = initial(name)
        finally:
            torch.set_default_dtype(torch.float32)
        for key, value in got.items():
            assert value.dtype == want[key].dtype, (name, key)
            assert torch.equal(value, want[key]), (name, key)


@needs_torch
def test_weights_that_are_a_broken_symbolic_link_say_so(tmp_path):
    # a dangling link or a loop of links (ls lists them) was "no such file"
    (tmp_path / "a.safetensors").symlink_to("b.safetensors")
    (tmp_path / "b.safetensors").symlink_to("a.safetensors")
    (tmp_path / "gone.safetensors").symlink_to(tmp_path / "removed.safetensors")
    for name, target in (("a", "b.safetensors"), ("gone", str(tmp_path / "removed.safetensors"))):
        with pytest.raises(FileNotFoundError, match=rf"^weights: '.*{name}\.safetensors' is a "
                                                    rf"symbolic link to '{re.escape(target)}', "
                                                    r"which leads to no file \(a missing"):
            models.get_model("interp-refine", weights=tmp_path / f"{name}.safetensors")


@needs_torch
def test_integer_weights_are_refused_and_other_float_precisions_load(tmp_path):
    # an int32 or bool file of the right shapes loaded silently (load_state_dict casts): a
    # quantised file without its scales gave garbage weights; float16 and float64 files load,
    # cast to the model's float32 (float16: the same values within its precision, 2^-11)
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in models.get_model("interp-refine").state_dict().items()}
    for dtype in (torch.int32, torch.uint8, torch.bool):
        path = tmp_path / f"{str(dtype)[6:]}.safetensors"
        save_file({k: (v * 100).to(dtype) for k, v in state.items()}, str(path))
        with pytest.raises(ValueError, match=rf"^weights: '.*{path.name}' does not fit "
                                             rf"InterpRefine: enc1\.0\.weight expected a "
                                             rf"floating-point tensor, got {str(dtype)[6:]}$"):
            models.get_model("interp-refine", weights=path)
    for dtype, rtol in ((torch.float16, 2.0 ** -11), (torch.float64, 0)):
        path = tmp_path / f"{str(dtype)[6:]}.safetensors"
        save_file({k: v.to(dtype) for k, v in state.items()}, str(path))
        net = models.get_model("interp-refine", weights=path)
        for key, value in net.state_dict().items():
            assert value.dtype == torch.float32
            torch.testing.assert_close(value, state[key], rtol=rtol, atol=1e-7)


@needs_torch
def test_weights_past_float32_or_of_float8_are_checked_as_the_model_holds_them(tmp_path):
    # float64 weights of 1e39 are finite in the file and inf in the float32 model: they loaded,
    # and interpolate(method="learned") returned NaN frames; a float8 file raised torch's
    # NotImplementedError ('"isfinite" not implemented for 'Float8_e4m3fn'')
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in models.get_model("interp-refine").state_dict().items()}
    big = dict(state, **{"enc1.0.weight": state["enc1.0.weight"].double() * 0 + 1e39})
    save_file(big, str(tmp_path / "big.safetensors"))
    with pytest.raises(ValueError, match=r"^weights: '.*big\.safetensors' holds NaN or infinite "
                                         r"values in enc1\.0\.weight \(as float32, the model's "
                                         r"type\); expected finite weights$"):
        models.get_model("interp-refine", weights=tmp_path / "big.safetensors")
    small = {k: v.to(torch.float8_e4m3fn) for k, v in state.items()}
    save_file(small, str(tmp_path / "f8.safetensors"))
    net = models.get_model("interp-refine", weights=tmp_path / "f8.safetensors")
    for key, value in net.state_dict().items():  # float8: 3 bits of mantissa, 2^-4
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, state[key], rtol=2.0 ** -4, atol=2.0 ** -9)


# --- interpolate(method="learned") ---

@needs_torch
@pytest.mark.parametrize("kind", ["uint8 rgb", "float32 gray"])
def test_untrained_refiner_reproduces_the_classical_output_exactly(kind):
    # zero log-weight and zero residual (the untrained network's zero last layer): the fusion
    # gives what it refines, method="project"'s result, bit for bit (for either sampling)
    frame0, _, frame1 = _pair()
    if kind == "float32 gray":
        frame0, frame1 = (f.mean(-1).astype(np.float32) / 255 for f in (frame0, frame1))
    model = models.get_model("interp-refine", weights=None)
    for t, interpolation in ((0.3, None), (0.5, None), (0.5, "linear")):
        classical = flowkit.interpolate(frame0, frame1, t, interpolation=interpolation)
        learned = flowkit.interpolate(frame0, frame1, t, method="learned", model=model,
                                      interpolation=interpolation)
        assert learned.dtype == classical.dtype and learned.shape == classical.shape
        np.testing.assert_array_equal(learned, classical)
    # the flows at t it reports are those of what it refines, also for RGBA and t = 0, 1
    pairs = [(frame0, frame1)]
    if frame0.ndim == 3:
        pairs.append([np.concatenate([f, f[..., :1]], -1) for f in (frame0, frame1)])
    for pair in pairs:
        _, aux = flowkit.interpolate(*pair, [0.0, 0.3, 1.0], method="learned", model=model,
                                     return_aux=True)
        _, expected = flowkit.interpolate(frame0, frame1, [0.0, 0.3, 1.0], return_aux=True)
        for key in ("flow_t0", "flow_t1"):
            assert aux[key].shape == (3,) + frame0.shape[:2] + (2,)
            np.testing.assert_array_equal(aux[key], expected[key])


@needs_torch
def test_fusion_with_a_fixed_mask_moves_the_base_along_the_two_splats():
    # d = log(2) doubles frame0's weight: base + m(2a, b/2) - m(a, b) + r with
    # m(wa, wb) = (wa S0 + wb S1) / (wa + wb), 0 where no splat landed; float64 reference
    from flowkit.models.interp_refine import fuse

    rng = np.random.default_rng(1)
    parts = {k: torch.from_numpy(rng.random((1, 3, 5, 6)).astype(np.float32))
             for k in ("s0", "s1", "base")}
    parts["a"] = torch.from_numpy(rng.random((1, 1, 5, 6)).astype(np.float32))
    parts["b"] = torch.from_numpy(rng.random((1, 1, 5, 6)).astype(np.float32))
    parts["a"][..., 0, 0] = 0
    parts["b"][..., 0, 0] = 0  # a hole: the base
    parts["b"][..., 1, 1] = 0  # only S0 landed: reweighting moves nothing
    d = torch.full((1, 1, 5, 6), float(np.log(2.0)))
    r = torch.full((1, 3, 5, 6), 0.01)
    out = fuse(parts, d, r).double().numpy()
    p = {k: v.double().numpy() for k, v in parts.items()}

    def m(wa, wb):
        total = wa + wb
        return np.where(total > 0, (wa * p["s0"] + wb * p["s1"]) / np.where(total > 0, total, 1), 0)

    ref = p["base"] + m(2 * p["a"], 0.5 * p["b"]) - m(p["a"], p["b"]) + 0.01
    assert np.allclose(ref[..., 0, 0], p["base"][..., 0, 0] + 0.01)
    assert np.allclose(ref[..., 1, 1], p["base"][..., 1, 1] + 0.01)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)  # float32 rounding
    zero = fuse(parts, torch.zeros_like(d), torch.zeros_like(r))
    assert torch.equal(zero, parts["base"])  # d = r = 0: the base, bit for bit


@needs_torch
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_learned_method_takes_rgba(dtype):
    """RGBA: the RGB channels are the RGB pair's result bit for bit (the estimators read RGBA
    as RGB, the network sees the RGB channels), alpha is method="splat"'s alpha of the RGBA
    pair (whose splat metrics also come from the RGB channels), exactly; batches and the end
    times too."""
    frame0, _, frame1 = _pair(shift=4)
    rng = np.random.default_rng(2)
    alpha0 = rng.integers(0, 256, frame0.shape[:2] + (1,), np.uint8)
    alpha1 = np.roll(alpha0, 4, axis=1)
    rgba0, rgba1 = np.concatenate([frame0, alpha0], -1), np.concatenate([frame1, alpha1], -1)
    if dtype == np.float32:
        frame0, frame1, rgba0, rgba1 = (f.astype(np.float32) / 255
                                        for f in (frame0, frame1, rgba0, rgba1))
    times = [0.0, 0.3, 0.5, 1.0]
    rgb = flowkit.interpolate(frame0, frame1, times, method="learned")
    out = flowkit.interpolate(rgba0, rgba1, times, method="learned")
    assert out.shape == (4,) + rgba0.shape and out.dtype == dtype
    np.testing.assert_array_equal(out[..., :3], rgb)
    np.testing.assert_array_equal(out[..., 3], flowkit.interpolate(rgba0, rgba1, times, method="splat")[..., 3])
    np.testing.assert_array_equal(out[0], rgba0)
    np.testing.assert_array_equal(out[3], rgba1)
    ends = flowkit.interpolate(rgba0, rgba1, [0.0, 1.0], method="learned")  # no flow estimated
    np.testing.assert_array_equal(ends, np.stack([rgba0, rgba1]))
    batch = flowkit.interpolate(np.stack([rgba0, rgba1]), np.stack([rgba1, rgba0]), 0.5, method="learned")
    np.testing.assert_array_equal(batch[0], out[2])


@needs_torch
def test_learned_method_errors():
    frame = np.zeros((16, 16, 2), np.uint8)
    with pytest.raises(ValueError, match="frame0: expected gray, RGB or RGBA frames for method='learned', got 2 channels"):
        flowkit.interpolate(frame, frame, method="learned", flow01=np.zeros((16, 16, 2), np.float32),
                            flow10=np.zeros((16, 16, 2), np.float32))
    frame = np.zeros((16, 16, 4), np.uint8)
    with pytest.raises(TypeError, match="model: expected None, a weights path or a torch.nn.Module"):
        flowkit.interpolate(frame[..., :3], frame[..., :3], method="learned", model=5)
    with pytest.raises(ValueError, match="model: expected None unless method='learned'"):
        flowkit.interpolate(frame[..., :3], frame[..., :3], model=5)
    # a module is named by its class: its repr printed the whole network over 35 lines
    with pytest.raises(ValueError) as raised:
        flowkit.interpolate(frame[..., :3], frame[..., :3],
                            model=models.get_model("interp-refine", weights=None))
    assert str(raised.value) == ("model: expected None unless method='learned', got a "
                                 "flowkit.models.interp_refine.InterpRefine with method='project'")


@needs_torch
def test_shipped_refiner_runs_and_stays_close_to_the_classical_output():
    frame0, truth, frame1 = _pair(shift=4)
    learned = flowkit.interpolate(frame0, frame1, method="learned")
    classical = flowkit.interpolate(frame0, frame1)  # what it refines: method="project"
    assert learned.shape == classical.shape and learned.dtype == np.uint8
    # a refinement, not a new image: within a few levels of the classical frame on a pure shift
    assert np.abs(learned.astype(int) - classical).mean() < 3


@needs_torch
def test_learned_method_scales_float_frames_as_their_range():
    # the network was trained on [0, 1]: float frames in [0, 255] are scaled as uint8 frames
    # (they were fed unscaled, and differed from the uint8 result by up to 22 levels)
    frame0, _, frame1 = _pair(shift=4)
    as_uint8 = flowkit.interpolate(frame0, frame1, method="learned")
    floats = [flowkit.interpolate(frame0.astype(np.float32) * k, frame1.astype(np.float32) * k,
                                  method="learned") for k in (1.0, 1 / 255)]
    np.testing.assert_allclose(floats[0], as_uint8, atol=0.5 + 1e-3)  # uint8 rounding
    np.testing.assert_allclose(floats[1] * 255, floats[0], atol=5e-3)


@needs_torch
def test_learned_model_of_another_class_is_a_type_error_before_anything_runs(monkeypatch):
    # another network leaked torch's "Given groups=1, weight of size ..." after the flows and
    # the classical pipeline had run (a new user's trial); predict(method="gan") shares the check
    class Tiny(torch.nn.Module):
        pass

    def never(*args, **kwargs):
        raise AssertionError("the flows were estimated")

    from flowkit import _interpolate

    monkeypatch.setattr(_interpolate, "get_estimator", never)
    frame0, _, frame1 = _pair()
    for model, name in ((Tiny(), "Tiny"), (models.get_model("colorize", weights=None), "Colorize")):
        with pytest.raises(TypeError, match=rf"model: expected a flowkit.models.interp_refine."
                                            rf"InterpRefine .*, got \S*{name}$"):
            flowkit.interpolate(frame0, frame1, method="learned", model=model)


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_a_module_of_another_precision_is_a_type_error_before_anything_runs(monkeypatch, dtype):
    # model.double() / .half() failed inside torch ("Input type (float) and bias type (double)
    # should be the same") after the flows and the classical pipeline had run
    def never(*args, **kwargs):
        raise AssertionError("the flows were estimated")

    from flowkit import _interpolate, _predict

    monkeypatch.setattr(_interpolate, "get_estimator", never)
    monkeypatch.setattr(_predict, "get_estimator", never)
    message = (rf"^model: expected a module with float32 parameters \(model.float\(\)\), "
               rf"got {dtype} parameters$")
    frame0, _, frame1 = _pair()
    calls = {
        "interp-refine": lambda m: flowkit.interpolate(frame0, frame1, method="learned", model=m),
        "predict-gan": lambda m: flowkit.predict([frame0, frame1], 1, method="gan", model=m),
        "text2video-shapes": lambda m: flowkit.generate("a red circle moves left", model=m)}
    for name, call in calls.items():
        model = models.get_model(name, weights=None).to(getattr(torch, dtype))
        with pytest.raises(TypeError, match=message):
            call(model)
        assert _api.check_float32(model.float()) is model  # the same module in float32


# --- training ---

def _crops(seed=0):
    from flowkit.models.train import crops_from_triplets

    triplets = [_pair(h=40, w=40, shift=s, seed=k) for k, s in enumerate((2, 4, 6))]
    # the classical pipeline is near exact on pure shifts: a brighter truth leaves the network
    # something to learn (a residual of +25 levels)
    triplets = [(a, np.clip(m.astype(int) + 25, 0, 255).astype(np.uint8), b) for a, m, b in triplets]
    return crops_from_triplets(triplets, crop=32, per_triplet=2, rng=np.random.default_rng(seed))


@needs_torch
def test_a_few_training_steps_lower_the_loss_and_are_deterministic(tmp_path):
    from flowkit.models.interp_refine import InterpRefine
    from flowkit.models.train import fit, loss_fn

    torch.set_num_threads(1)
    crops = _crops()
    assert crops["truth"].shape == (6, 3, 32, 32) and crops["frame0"].shape == (6, 3, 32, 32)
    batch = {k: v.float() for k, v in crops.items()}
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = InterpRefine()
        with torch.no_grad():
            before = loss_fn(model, batch).item()
        fit(model, crops, epochs=8, batch_size=3, lr=3e-3, seed=5, progress=False,
            checkpoint=tmp_path / "ckpt.pt")
        model.eval()
        with torch.no_grad():
            runs.append((before, loss_fn(model, batch).item(), model.state_dict()))
    (before, after, state), (_, after2, state2) = runs
    # the loss is log10 of the crops' MSE: -0.3 is 3 dB more PSNR (the +25-level residual
    # alone puts the untrained network near -2, i.e. 20 dB)
    assert -2.2 < before < -1.8
    assert after < before - 0.3
    assert after == after2
    assert all(torch.equal(state[k], state2[k]) for k in state)


@needs_torch
def test_resume_continues_where_the_checkpoint_left(tmp_path):
    from flowkit.models.interp_refine import InterpRefine
    from flowkit.models.train import fit

    torch.set_num_threads(1)
    crops = _crops()
    torch.manual_seed(0)
    straight = InterpRefine()
    fit(straight, crops, epochs=4, batch_size=3, seed=2, progress=False)
    torch.manual_seed(0)
    part = InterpRefine()
    fit(part, crops, epochs=4, batch_size=3, seed=2, progress=False, checkpoint=tmp_path / "c.pt",
        until=2)  # interrupted after epoch 2
    state = torch.load(tmp_path / "c.pt", weights_only=True)  # no code runs: no pickled objects
    assert state["epoch"] == 2
    torch.manual_seed(0)
    resumed = InterpRefine()
    fit(resumed, crops, epochs=4, batch_size=3, seed=2, progress=False, resume=tmp_path / "c.pt")
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0)



@needs_torch
def test_resume_on_another_thread_count_agrees_to_rounding(tmp_path):
    """docs/models.md: a resume may take another --threads; torch's CPU kernels then sum in
    another order, so the weights agree with the uninterrupted run's to rounding (4e-8 here),
    not bit for bit."""
    from flowkit.models.interp_refine import InterpRefine
    from flowkit.models.train import fit

    crops = _crops()
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        torch.manual_seed(0)
        straight = InterpRefine()
        fit(straight, crops, epochs=4, batch_size=3, seed=2, progress=False)
        torch.manual_seed(0)
        part = InterpRefine()
        fit(part, crops, epochs=4, batch_size=3, seed=2, progress=False,
            checkpoint=tmp_path / "c.pt", until=2)
        torch.set_num_threads(2)
        torch.manual_seed(0)
        resumed = InterpRefine()
        fit(resumed, crops, epochs=4, batch_size=3, seed=2, progress=False,
            resume=tmp_path / "c.pt")
    finally:
        torch.set_num_threads(old)
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=1e-5)

@needs_torch
def test_cli_train_writes_loadable_weights_with_metadata(tmp_path, capsys):
    import cv2
    from flowkit.cli import main

    folder = tmp_path / "frames"
    folder.mkdir()
    a, _, _ = _pair(h=40, w=60, shift=0)
    for k in range(7):  # a texture moving 2 px per frame
        cv2.imwrite(str(folder / f"f{k}.png"), np.roll(a, 2 * k, axis=1)[..., ::-1])
    out = tmp_path / "w.safetensors"
    args = ["train", "interp-refine", "--data", str(folder), "--out", str(out), "--epochs", "2",
            "--crop", "32", "--triplets", "3", "--crops-per-triplet", "2", "--batch", "2",
            "--shrink", "1", "--threads", "1", "-q"]
    umask = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(umask)
    # every file written has a plain open()'s mode (safetensors' save_file makes its own 0600)
    for path in (out, out.with_suffix(".json"), tmp_path / "w.safetensors.ckpt",
                 tmp_path / "w.safetensors.cache.pt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["command"] == ("flowkit train interp-refine --data " + str(folder) + " --out "
                               + str(out) + " --epochs 2 --crop 32 --batch 2 --lr 0.001 --triplets 3 "
                               "--crops-per-triplet 2 --shrink 1 --threads 1 --device cpu --seed 0")
    assert len(meta["losses"]) == 2 and meta["sha256"] == _api.sha256(out)
    assert (tmp_path / "w.safetensors.ckpt").is_file() and (tmp_path / "w.safetensors.cache.pt").is_file()
    models.get_model("interp-refine", weights=out)
    assert "wrote" in capsys.readouterr().out
    # --seed fixes the initial weights too: a second run from another RNG state is identical
    from safetensors.torch import load_file

    torch.rand(7)
    again = tmp_path / "again.safetensors"
    assert main([str(again) if a == str(out) else a for a in args]) == 0
    first, second = load_file(out), load_file(again)
    assert first.keys() == second.keys()
    # to float rounding: the first training in a process can end 7.5e-7 away from later ones
    # (seen when it was also torch's first use there); unseeded initial weights differ by ~0.1
    for k in first:
        torch.testing.assert_close(second[k], first[k], rtol=0, atol=1e-5)
    # the cache is reused by a run with the same data and crop options (not written again) ...
    cache = tmp_path / "w.safetensors.cache.pt"
    made = cache.stat().st_mtime_ns
    assert main(args[:-1] + ["--epochs", "1", "-q"]) == 0
    assert cache.stat().st_mtime_ns == made
    # ... and made again when they differ (a new user's second run trained on the old crops)
    crop_at = args.index("--crop") + 1
    assert main(args[:crop_at] + ["24"] + args[crop_at + 1:]) == 0
    stored = torch.load(cache, weights_only=True)
    assert stored["key"]["crop"] == 24
    assert all(t.shape[-1] == 24 for t in stored["crops"].values() if t.ndim >= 3)
    # ... and when it is damaged (a raw torch error before)
    cache.write_bytes(cache.read_bytes()[:1000])
    assert main(args[:crop_at] + ["24"] + args[crop_at + 1:]) == 0
    assert torch.load(cache, weights_only=True)["key"]["crop"] == 24
    # ... and when a frame is replaced in place (the paths are the same, the crops were not)
    made = cache.stat().st_mtime_ns
    cv2.imwrite(str(folder / "f3.png"), np.roll(a, 5, axis=1)[..., ::-1])
    os.utime(folder / "f3.png", ns=(made + 10**9, made + 10**9))  # a time the clock resolves
    assert main(args[:crop_at] + ["24"] + args[crop_at + 1:]) == 0
    assert cache.stat().st_mtime_ns != made


def test_cli_train_errors_are_one_line(tmp_path, capsys):
    from flowkit.cli import main

    assert main(["train", "interp-refine", "--data", str(tmp_path / "absent"), "--out",
                 str(tmp_path / "w.safetensors")]) != 0
    err = capsys.readouterr().err.strip()
    expected = "no such file or folder" if torch is not None else 'pip install "flowkit-cv[torch]"'
    assert len(err.splitlines()) == 1 and expected in err


# --- flowkit train --out and --resume: every model's checks, before any work ---

_TRAIN_OPTIONS = {  # tiny runs of each model
    "interp-refine": ["--epochs", "2", "--crop", "32", "--triplets", "3", "--crops-per-triplet",
                      "2", "--batch", "2", "--shrink", "1"],
    "colorize": ["--epochs", "1", "--crop", "32", "--triplets", "2", "--batch", "2"],
    "predict-gan": ["--epochs", "1", "--crop", "32", "--clips", "2", "--batch", "2"],
    "text2video-shapes": ["--steps", "2", "--batch", "2"],
}


def _train_args(model, data, out, *extra):
    data = [] if model == "text2video-shapes" else ["--data", str(data)]
    return ["train", model, *data, "--out", str(out), *_TRAIN_OPTIONS[model], "--threads", "1",
            "-q", *extra]


@needs_torch
@pytest.mark.parametrize("model", list(_TRAIN_OPTIONS))
def test_cli_train_missing_out_folder_names_out(tmp_path, capsys, model):
    from flowkit.cli import main

    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "missing" / "w.safetensors"
    assert main(_train_args(model, data, out)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flowkit: error: --out: output folder does not exist: {out.parent} (for {out})"]


@needs_torch
@pytest.mark.parametrize("model", list(_TRAIN_OPTIONS))
def test_cli_train_usage_error_points_at_the_models_help(tmp_path, capsys, model):
    # the command's own usage errors ended "(see flowkit train --help)", a page that lists the
    # models and none of their options (--out, --data, ...); argparse's own errors there name
    # the model's page (argument --epochs: ... (see flowkit train MODEL --help)), as these do now
    from flowkit.cli import main

    data = tmp_path / "data"
    data.mkdir()
    assert main(_train_args(model, data, tmp_path / "w.txt")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flowkit: error: --out: expected a .safetensors path, got "
                   f"{str(tmp_path / 'w.txt')!r} (see flowkit train {model} --help)"]


@needs_torch
@pytest.mark.parametrize("model", list(_TRAIN_OPTIONS))
def test_cli_train_out_that_is_a_folder_names_out_before_any_work(tmp_path, capsys, model):
    # the run trained, then failed to save: "flowkit: error: w.safetensors: Is a directory"
    from flowkit.cli import main

    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "w.safetensors"
    out.mkdir()
    assert main(_train_args(model, data, out)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flowkit: error: --out: {out} is a folder; expected a .safetensors file to "
                   "write"]
    assert sorted(tmp_path.iterdir()) == [data, out]


@needs_torch
@pytest.mark.parametrize("model, sample", [("interp-refine", "triplet of frames"),
                                           ("predict-gan", "clip of 8 frames"), ("colorize", None)])
def test_cli_train_on_a_single_image(tmp_path, capsys, model, sample):
    # a single image holds no frame sequence: the models of triplets and clips say so before
    # any work (they said "no triplet of at least 128x128 pixels with motion found" of a
    # 584x388 image); colorize's samples are single frames, and it trains on one image
    import cv2

    from flowkit.cli import main

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), flowkit.sample_pair(96, 128)[0][..., ::-1])
    out = tmp_path / "w.safetensors"
    status = main(_train_args(model, image, out))
    err = capsys.readouterr().err.strip()
    if sample is None:
        assert status == 0 and out.is_file(), err
        return
    assert status == 2 and err == (f"flowkit: error: --data: {image} is a single image, which "
                                   f"holds no {sample}: {model} trains on video files or folders "
                                   f"of frames (see flowkit train {model} --help)")
    assert not list(tmp_path.glob("w.*"))


@needs_torch
@pytest.mark.parametrize("model", ["interp-refine", "predict-gan", "colorize"])
def test_cli_train_on_a_folder_without_videos_or_images(tmp_path, capsys, model):
    # a folder with neither (here a video of an extension not read) said "the folder X holds
    # no image files (...)", not naming --data nor the video files looked for
    from flowkit.cli import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "clip.mpg").write_bytes(b"\0" * 64)
    out = tmp_path / "w.safetensors"
    assert main(_train_args(model, data, out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flowkit: error: --data: the folder {data} holds no video file "
                          "(.avi, .m4v, .mkv, .mov, .mp4, .webm) and no image file (.bmp, "), err
    assert "\n" not in err and not list(tmp_path.glob("w.*"))


@needs_torch
@pytest.mark.parametrize("model, nothing", [
    ("interp-refine", "no triplet of at least 32x32 pixels with motion"),
    ("predict-gan", "no clip of 8 frames of at least 32x32 pixels with motion"),
    ("colorize", "no colour frame of at least 32x32 pixels")])
def test_cli_train_shrink_beyond_the_frame_size_finds_nothing(tmp_path, capsys, model, nothing):
    # --shrink 100 of 60x40 frames asked OpenCV's resize for a size of 0: "flowkit: error:
    # OpenCV: inv_scale_x > 0 in function 'resize'", exit 1; the frames are now smaller than
    # the crop, as frames too small for it are, and nothing is found
    from flowkit.cli import main

    data = _moving_frames(tmp_path / "frames", n=8)  # not too short for predict-gan's clips
    out = tmp_path / "w.safetensors"
    assert main(_train_args(model, data, out, "--shrink", "100")) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"flowkit: error: --data: {nothing} found in {data} (see flowkit train "
                   f"{model} --help)")
    assert not list(tmp_path.glob("w.*"))


@needs_torch
@pytest.mark.parametrize("model, nothing, sample, frames", [
    ("interp-refine", "triplet", "triplet of frames", 3),
    ("predict-gan", "clip of 8 frames", "clip of 8 frames", 8)])
def test_train_data_errors_name_data_and_a_video_too_short(tmp_path, capsys, model, nothing,
                                                           sample, frames):
    # the training functions' data errors named the command line's --data, not their parameter
    # data; a video shorter than a sample was skipped without a word: "no triplet of at least
    # 32x32 pixels with motion found in short.mp4"
    from flowkit.cli import main
    from flowkit.models.train import train_interp_refine
    from flowkit.models.train_gan import train_predict_gan

    train = {"interp-refine": train_interp_refine, "predict-gan": train_predict_gan}[model]
    short = tmp_path / "short.mp4"
    a, _, _ = _pair(h=40, w=60, shift=0)
    with flowkit.VideoWriter(short, 10) as writer:
        for k in range(frames - 1):
            writer.write(np.ascontiguousarray(np.roll(a, 2 * k, axis=1)))
    out = tmp_path / "w.safetensors"
    with pytest.raises(FileNotFoundError, match="^data: no such file or folder '.*absent'$"):
        train(tmp_path / "absent", out, progress=False)
    expected = (f"data: no {nothing} of at least 32x32 pixels with motion found in {short}; too "
                f"short for a {sample}: {short} ({frames - 1} frames)")
    with pytest.raises(ValueError, match="^" + re.escape(expected) + "$"):
        train(short, out, crop=32, threads=1, progress=False, log=lambda line: None)
    assert main(_train_args(model, short, out)) == 2
    assert capsys.readouterr().err.strip() == (f"flowkit: error: --{expected} (see flowkit train "
                                               f"{model} --help)")
    assert not list(tmp_path.glob("w.*"))


@needs_torch
def test_train_data_may_be_a_single_path(tmp_path):
    # a str was iterated character by character ("--data: no such file or folder 'w'" for
    # "/work/..."), a Path raised "TypeError: 'PosixPath' object is not iterable"
    from flowkit.models import train

    folder = _moving_frames(tmp_path / "frames")
    assert train.find_sources(str(folder)) == train.find_sources(folder) == [folder]
    out = tmp_path / "w.safetensors"
    meta = train.train_interp_refine(folder, out, epochs=1, crop=32, triplets=3, per_triplet=1,
                                     batch=2, shrink=1, threads=1, progress=False,
                                     log=lambda line: None)
    assert meta["training_data"] == [str(folder)] and out.is_file()


@needs_torch
def test_train_log_none_is_silent(tmp_path, capsys):
    # fit and train_text2video take log=None; the other trainers called it:
    # "TypeError: 'NoneType' object is not callable" once the crops were made
    from flowkit.models import train

    out = tmp_path / "w.safetensors"
    train.train_interp_refine(_moving_frames(tmp_path / "frames"), out, epochs=1, crop=32,
                              triplets=3, per_triplet=1, batch=2, shrink=1, threads=1,
                              progress=False, log=None)
    assert out.is_file() and capsys.readouterr() == ("", "")


@needs_torch
def test_train_data_folder_skips_hidden_videos(tmp_path):
    # a folder of videos with macOS's ._clip.mp4 beside clip.mp4 (AppleDouble, no video):
    # train failed "cannot open .../._clip.mp4 as a video", where batch and image folders
    # skip hidden files (a new user's trial)
    from flowkit.models import train

    folder = tmp_path / "videos"
    folder.mkdir()
    with flowkit.VideoWriter(folder / "clip.mp4", 10) as writer:
        for k in range(3):
            writer.write(np.full((16, 16, 3), 60 * k, np.uint8))
    (folder / "._clip.mp4").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (folder / ".hidden.webm").write_bytes(b"")
    assert train.find_sources(folder) == [folder / "clip.mp4"]


@needs_torch
def test_training_builds_and_feeds_float32_whatever_the_default_dtype(tmp_path):
    # after torch.set_default_dtype(torch.float64) the trainers built float64 networks:
    # colorize, predict-gan and text2video-shapes failed ("Input type (float) and bias type
    # (double)"), interp-refine trained and wrote float64 weights (its flips' signs were a
    # float64 tensor); now float32, the weights of a float32 default's run
    import torch
    from safetensors.torch import load_file

    from flowkit.models import train, train_gan, train_text2video

    folder = _moving_frames(tmp_path / "frames", n=8)
    common = dict(threads=1, progress=False, log=None)
    small = dict(epochs=1, crop=32, batch=2, shrink=1, **common)
    runs = {
        "interp": lambda out: train.train_interp_refine(folder, out, triplets=3, per_triplet=1,
                                                        **small),
        "colorize": lambda out: train.train_colorize(folder, out, frames=3, per_frame=1, **small),
        "gan": lambda out: train_gan.train_predict_gan(folder, out, clips=2, per_clip=1,
                                                       **small),
        "t2v": lambda out: train_text2video.train_text2video(out, steps=1, batch=2, **common),
    }
    for name, run in runs.items():
        run(tmp_path / f"{name}32.safetensors")
    torch.set_default_dtype(torch.float64)
    try:
        for name, run in runs.items():
            run(tmp_path / f"{name}64.safetensors")
    finally:
        torch.set_default_dtype(torch.float32)
    for name in runs:
        want = load_file(tmp_path / f"{name}32.safetensors")
        got = load_file(tmp_path / f"{name}64.safetensors")
        assert want.keys() == got.keys()
        for key, value in got.items():
            assert value.dtype == torch.float32, (name, key)
            assert torch.equal(value, want[key]), (name, key)


@needs_torch
def test_a_training_call_leaves_torch_as_it_was(tmp_path):
    # the trainers seed torch and set its thread count for their run: both stayed set in the
    # caller's process
    import torch

    from flowkit.models import train

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(123)
        state = torch.get_rng_state()
        train.train_interp_refine(_moving_frames(tmp_path / "frames"), tmp_path / "w.safetensors",
                                  epochs=1, crop=32, triplets=3, per_triplet=1, batch=2,
                                  shrink=1, threads=1, seed=7, progress=False,
                                  log=lambda line: None)
        assert torch.get_num_threads() == 2
        assert torch.equal(torch.get_rng_state(), state)
    finally:
        torch.set_num_threads(threads)


@needs_torch
@pytest.mark.parametrize("option, value, error, message", [
    ("epochs", 0, ValueError, "epochs: expected an integer >= 1, got 0"),
    ("batch", 0, ValueError, "batch: expected an integer >= 1, got 0"),
    ("threads", 0, ValueError, "threads: expected an integer >= 1, got 0"),
    ("epochs", 1.5, TypeError, "epochs: expected an integer, got 1.5"),
    ("lr", -1, ValueError, "lr: expected a number in (0, inf], got -1.0"),
    ("steps", 0, ValueError, "steps: expected an integer >= 1, got 0")])
def test_train_functions_check_their_numbers_before_any_work(tmp_path, option, value, error,
                                                            message):
    # batch=0 was a ZeroDivisionError after the crops, epochs=0 wrote untrained weights,
    # threads=0 and lr=-1 were torch's errors ("set_num_threads expects a positive integer")
    from flowkit.models import train
    from flowkit.models.train_text2video import train_text2video

    out = tmp_path / "w.safetensors"
    if option == "steps" or option == "lr":
        with pytest.raises(error, match="^" + re.escape(message) + "$"):
            train_text2video(out, **{option: value}, progress=False, log=None)
    if option != "steps":
        with pytest.raises(error, match="^" + re.escape(message) + "$"):
            train.train_interp_refine(_moving_frames(tmp_path / "frames"), out,
                                      **{option: value}, progress=False)
    assert not list(tmp_path.glob("w.*"))


@needs_torch
def test_train_out_that_is_not_a_path_names_out(tmp_path):
    # Path(None) said "expected str, bytes or os.PathLike object, not NoneType"
    from flowkit.models.train import train_interp_refine
    from flowkit.models.train_text2video import train_text2video

    with pytest.raises(TypeError, match=r"^out: expected a path \(str or os\.PathLike\), got None$"):
        train_text2video(None, steps=1, progress=False)
    with pytest.raises(TypeError, match=r"^out: expected a path \(str or os\.PathLike\), got None$"):
        train_interp_refine([tmp_path], None, epochs=1, progress=False)


def _moving_frames(folder, n=7):
    """``n`` PNG frames of a texture moving 2 px per frame in ``folder`` (created)."""
    import cv2

    folder.mkdir()
    a, _, _ = _pair(h=40, w=60, shift=0)
    for k in range(n):
        cv2.imwrite(str(folder / f"f{k}.png"), np.roll(a, 2 * k, axis=1)[..., ::-1])
    return folder


@needs_torch
def test_cli_train_interrupted_says_how_to_continue(tmp_path, capsys, monkeypatch):
    # Ctrl-C printed only "flowkit: interrupted": now which checkpoint holds the run and the
    # flag that continues it (a checkpoint from before this run is not mentioned)
    from flowkit.cli import main
    from flowkit.models import train

    folder = _moving_frames(tmp_path / "frames")
    out = tmp_path / "w.safetensors"
    checkpoint = tmp_path / "w.safetensors.ckpt"

    def interrupted(data, out, **options):
        if options.get("write"):
            checkpoint.write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    for write, note in ((True, True), (False, False)):
        monkeypatch.setattr(train, "train_interp_refine",
                            lambda data, out, **o: interrupted(data, out, write=write, **o))
        if not write:
            os.utime(checkpoint, (0, 0))  # written by an earlier run
        assert main(_train_args("interp-refine", folder, out)) == 130
        err = capsys.readouterr().err.strip().splitlines()
        expected = [f"flowkit: note: {checkpoint} holds the last finished epoch: the same "
                    f"command with --resume {checkpoint} continues the run"] if note else []
        assert err == expected + ["flowkit: interrupted"]


@needs_torch
def test_cli_train_interrupted_names_a_checkpoint_timed_before_the_run_started(
        tmp_path, capsys, monkeypatch):
    # a file's time is the kernel's coarse clock, which can lag time.time(): a checkpoint
    # written by this run, timed before the start read from time.time(), went unmentioned
    # (README's pytest, once); the clock 1 s ahead stands for that lag
    import time

    from flowkit import cli
    from flowkit.models import train

    folder = _moving_frames(tmp_path / "frames")
    out = tmp_path / "w.safetensors"
    checkpoint = tmp_path / "w.safetensors.ckpt"

    def interrupted(data, out, **options):
        checkpoint.write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train_interp_refine", interrupted)
    ahead = time.time() + 1
    monkeypatch.setattr(cli.time, "time", lambda: ahead)
    assert cli.main(_train_args("interp-refine", folder, out)) == 130
    assert capsys.readouterr().err.strip().splitlines()[0].startswith(
        f"flowkit: note: {checkpoint} holds the last finished epoch")


class _Runs:
    """Unpickling this runs code: ``os.mkdir(path)``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (str(self.path),)


@needs_torch
@pytest.mark.parametrize("model", list(_TRAIN_OPTIONS))
def test_cli_train_bad_resume_is_one_line_before_any_crop(tmp_path, capsys, model):
    from safetensors.torch import save_file
    from flowkit.cli import main
    from flowkit.models.colorize import Colorize
    from flowkit.models.interp_refine import InterpRefine
    from flowkit.models.train import save_checkpoint

    data = tmp_path / "data"
    data.mkdir()  # empty: the crops would find nothing, the checkpoint is refused first
    out = tmp_path / "w.safetensors"
    save_file({"w": torch.zeros(3)}, str(tmp_path / "weights.safetensors"))
    (tmp_path / "text.ckpt").write_text("epoch 3\n")
    torch.save({"w": torch.zeros(1000)}, tmp_path / "whole.ckpt")
    whole = (tmp_path / "whole.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(whole[:len(whole) // 2])
    marker = tmp_path / "ran"
    torch.save({"torch_rng": torch.get_rng_state(), "run": {"model": model}, "x": _Runs(marker)},
               tmp_path / "code.ckpt")
    other, module = ("colorize", Colorize()) if model == "interp-refine" else ("interp-refine",
                                                                             InterpRefine())
    save_checkpoint(tmp_path / "other.ckpt", {"module:model": module}, np.random.default_rng(0),
                    run={"model": other}, epoch=1, losses=[0.5])
    os.mkfifo(tmp_path / "pipe.ckpt")  # opening it waited for a writer for ever
    cases = {"weights.safetensors": "safetensors weights (a checkpoint is the OUT.ckpt",
             "pipe.ckpt": "a FIFO, not a regular file",
             "text.ckpt": "a file that is not a torch.save file",
             "truncated.ckpt": "a damaged or truncated file (",
             "code.ckpt": "(loading it could run code: torch.load(weights_only=True) refuses it)",
             "other.ckpt": f"one of flowkit train {other}",
             tmp_path: "a folder"}
    for name, got in cases.items():
        path = tmp_path / name
        assert main(_train_args(model, data, out, "--resume", str(path))) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith(f"flowkit: error: --resume: {path}: expected a checkpoint of "
                                 f"flowkit train {model}, got "), err[0]
        assert got in err[0], err[0]
    assert main(_train_args(model, data, out, "--resume", str(tmp_path / "none.ckpt"))) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flowkit: error: --resume: no such checkpoint '{tmp_path / 'none.ckpt'}'"]
    assert not marker.exists()  # the pickled call never ran
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("w.")) == []


@needs_torch
@pytest.mark.parametrize("writer", ["save_checkpoint", "save_weights"])
def test_training_file_that_cannot_be_written_names_it(tmp_path, writer):
    # under `ulimit -f` flowkit train said "[enforce fail at inline_container.cc:672] .
    # unexpected pos 29632 vs 29520" (torch.save of the checkpoint) and "Error while
    # serializing: I/O error: File too large (os error 27)" (safetensors' save_file): neither
    # named the file (a new user's trial); it is the OSError naming the output
    path = tmp_path / ("w.ckpt" if writer == "save_checkpoint" else "w.safetensors")
    path.write_bytes(b"precious")
    call = ("train.save_checkpoint(path, {'module:model': net}, np.random.default_rng(0))"
            if writer == "save_checkpoint" else "train.save_weights(net, path, {})")
    setup = ("import numpy as np, torch\nfrom flowkit.models import train\n"
             f"path = {str(path)!r}\nnet = torch.nn.Linear(100, 100)")
    assert error_under_file_limit(4000, setup, call) == f"OSError|27|{path}"
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@needs_torch
def test_checkpoint_of_other_shapes_is_refused_naming_the_first_mismatch(tmp_path):
    from flowkit.models.train import read_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "c.ckpt", {"module:model": torch.nn.Linear(2, 3)},
                    np.random.default_rng(0), epoch=1)
    with pytest.raises(ValueError, match=r"^--resume: .*c.ckpt: expected a checkpoint of these "
                                         r"modules \(module:model\), got module:model weight of "
                                         r"shape \(3, 2\), the model's is \(4, 2\)$"):
        read_checkpoint(tmp_path / "c.ckpt", None, {"module:model": torch.nn.Linear(2, 4)})
    with pytest.raises(ValueError, match=r"got one without 'module:disc'$"):
        read_checkpoint(tmp_path / "c.ckpt", None, {"module:model": torch.nn.Linear(2, 3),
                                                    "module:disc": torch.nn.Linear(2, 3)})


@needs_torch
def test_checkpoint_whose_progress_or_states_cannot_be_restored_is_refused(tmp_path):
    # a checkpoint edited by hand (or another tool's) with the run's record: fit failed after
    # the crops were made ("'str' object cannot be interpreted as an integer", "KeyError:
    # 'param_groups'", "state must be a dict"), trained 7 epochs of 2 from epoch -5, and
    # loaded int32 weights cast to float; now each is refused by read_checkpoint, before any work
    from flowkit.models.train import fit_entries, read_checkpoint, save_checkpoint

    net = torch.nn.Linear(2, 3)
    optimizer = torch.optim.Adam(net.parameters())
    parts = fit_entries({"model": net}, {"model": optimizer},
                        {"model": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 4)})
    run = {"model": "m", "epochs": 2}
    save_checkpoint(tmp_path / "c.ckpt", parts, np.random.default_rng(0), run=run, epoch=1,
                    losses=[0.5])
    good = torch.load(tmp_path / "c.ckpt", weights_only=True)
    weights = dict(good["module:model"], weight=good["module:model"]["weight"].int())
    cases = {"epoch": (-5, r"whose epoch is -5, not an integer from 0 to 2"),
             "losses": (None, r"whose losses are NoneType, not a list"),
             "rng": ({"state": 3}, r"whose NumPy random state cannot be restored \("),
             "torch_rng": ("x", r"whose torch random state is str of shape \(\), not uint8 "),
             "optimizer:model": ({"x": 1}, r"optimizer:model that Adam cannot restore "
                                           r"\(KeyError: 'param_groups'\)"),
             "module:model": (weights, r"module:model weight of int32, the model's is float32")}
    for key, (value, message) in cases.items():
        torch.save(dict(good, **{key: value}), tmp_path / "bad.ckpt")
        with pytest.raises(ValueError, match=r"^--resume: .*bad.ckpt: expected a checkpoint of "
                                             r"flowkit train m, got (one )?" + message):
            read_checkpoint(tmp_path / "bad.ckpt", run, parts)
    assert read_checkpoint(tmp_path / "c.ckpt", run, parts)["epoch"] == 1


@needs_torch
def test_cli_train_resume_continues_only_the_same_run(tmp_path, capsys):
    from safetensors.torch import load_file
    from flowkit.cli import main
    from flowkit.models import train

    folder = _moving_frames(tmp_path / "frames")
    other = _moving_frames(tmp_path / "other", n=9)
    out, ckpt = tmp_path / "w.safetensors", tmp_path / "w.safetensors.ckpt"

    class Stop(Exception):
        pass

    def stop_in_epoch_2(line):  # logged after an epoch's steps, before its checkpoint
        if line.startswith("epoch 2/2"):
            raise Stop

    with pytest.raises(Stop):  # an interrupted run: its checkpoint holds epoch 1 of 2
        train.train_interp_refine([str(folder)], out, epochs=2, crop=32, triplets=3,
                                  per_triplet=2, batch=2, shrink=1, threads=1, progress=False,
                                  log=stop_in_epoch_2)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    cache = tmp_path / "w.safetensors.cache.pt"
    made = cache.stat().st_mtime_ns
    args = _train_args("interp-refine", folder, out, "--resume", str(ckpt))
    held = lambda flag: args[args.index(flag) + 1]  # noqa: E731
    for flag, value in [("--epochs", "1"), ("--crop", "24"), ("--data", str(other)),
                        ("--batch", "3"), ("--lr", "0.01"), ("--shrink", "2"),
                        ("--crops-per-triplet", "1"), ("--seed", "1")]:
        changed = list(args)
        if flag in changed:
            changed[changed.index(flag) + 1] = value
        else:
            changed += [flag, value]
        assert main(changed) == 2, flag
        err = capsys.readouterr().err.strip().splitlines()
        before = held(flag) if flag in args else {"--lr": "0.001", "--seed": "0"}[flag]
        if flag == "--data":
            before, value = folder.resolve(), other.resolve()
        assert err == [f"flowkit: error: --resume: {ckpt}: expected a checkpoint of this run, got "
                       f"one of a run with {flag} {before}, not {flag} {value} (a resume "
                       "continues the same run: give the same data and options, or train "
                       "without --resume) (see flowkit train interp-refine --help)"]
        assert not out.exists() and cache.stat().st_mtime_ns == made  # no crop made, no weights
    # the same run resumed: the weights of the uninterrupted run, its losses (both epochs).
    # To 1e-6, not bit for bit: oneDNN's convolutions keep state between torch calls, and
    # what ran before in the process (the colorize tests before this one) moved the weights
    # of the first run after it by up to 7e-7 (bit for bit when this test runs alone). A
    # resume that lost the optimizer's state or the random draws moves them by ~1e-3.
    assert main(args) == 0
    assert main(_train_args("interp-refine", folder, tmp_path / "straight.safetensors")) == 0
    resumed, straight = load_file(out), load_file(tmp_path / "straight.safetensors")
    assert resumed.keys() == straight.keys()
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], rtol=0, atol=1e-6)
    meta = json.loads(out.with_suffix(".json").read_text())
    straight_losses = json.loads((tmp_path / "straight.json").read_text())["losses"]
    assert len(meta["losses"]) == len(straight_losses) == 2
    assert meta["losses"] == pytest.approx(straight_losses, rel=1e-6)
    # a finished run trains nothing more and writes its weights again (a user who lost them
    # had to train again: the resume was refused)
    out.unlink()
    out.with_suffix(".json").unlink()
    assert main(args) == 0
    again = load_file(out)
    assert all(torch.equal(again[k], resumed[k]) for k in straight)
    assert json.loads(out.with_suffix(".json").read_text())["losses"] == meta["losses"]
    # a frame of --data replaced in place: the same paths, other data (it resumed on it)
    frame = sorted(folder.iterdir())[0]
    frame.write_bytes(frame.read_bytes())
    os.utime(frame, ns=(made + 10**9, made + 10**9))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flowkit: error: --resume: {ckpt}: expected a checkpoint of this run, got one "
                   "of a run whose --data files had other sizes or times (or were not "
                   "recorded): the data changed; train without --resume (see flowkit train "
                   "interp-refine --help)"]


@needs_torch
def test_retime_learned_writes_the_video(tmp_path):
    a, _, _ = _pair(h=48, w=64, shift=0)
    clip = tmp_path / "clip.mkv"
    with flowkit.VideoWriter(clip, 10) as writer:
        for k in range(3):
            writer.write(np.roll(a, 2 * k, axis=1))
    reports = [flowkit.retime(clip, tmp_path / f"{m}.mp4", factor=2, method=m, progress=False)
               for m in ("project", "learned")]
    assert reports[0].interpolated == reports[1].interpolated > 0
    frames = [list(flowkit.iter_frames(tmp_path / f"{m}.mp4")) for m in ("project", "learned")]
    assert len(frames[0]) == len(frames[1])
    # the refinement stays near the classical frames (encoded with x264 crf 18 both)
    assert max(np.abs(x.astype(int) - y).mean() for x, y in zip(*frames)) < 4


# --- the one device check of the learned paths (get_model, generate, training, raft) ---

@needs_torch
def test_device_errors_name_the_parameter_expected_and_got():
    with pytest.raises(ValueError, match=r"device: expected None, \"cpu\", \"cuda\", \"cuda:N\" "
                                         r"or a torch.device of one of them, got 'tpu'"):
        models.get_model("colorize", device="tpu")
    with pytest.raises(ValueError, match="device: expected .* got 'meta'"):
        models.get_model("colorize", device=torch.device("meta"))
    with pytest.raises(TypeError, match="device: expected .* got int"):
        models.get_model("colorize", device=0)
    with pytest.raises(ValueError, match="device: expected .* got 'tpu'"):
        flowkit.generate("a red circle moves left", device="tpu")
    from flowkit.models import train, train_text2video
    from flowkit.models.interp_refine import InterpRefine
    from flowkit.models.text2video import Text2Video, VideoDiscriminator

    with pytest.raises(ValueError, match="device: expected .* got 'tpu'"):
        train.fit(InterpRefine(), {}, epochs=1, device="tpu", progress=False)
    with pytest.raises(ValueError, match="device: expected .* got 'tpu'"):
        train_text2video.fit_gan(Text2Video(), VideoDiscriminator(), steps=1, device="tpu",
                                 progress=False)
    assert _api.check_device(None) is None and _api.check_device("cpu") == "cpu"
    assert models.get_model("colorize", device=torch.device("cpu")) is not None


@needs_torch
@pytest.mark.skipif(torch is not None and torch.cuda.is_available(), reason="torch has CUDA here")
def test_cuda_without_a_cuda_torch_is_a_value_error(tmp_path, capsys):
    message = r"device: 'cuda' needs a CUDA build of torch and a GPU \(torch.cuda.is_available\(\) is False\)"
    with pytest.raises(ValueError, match=message):
        models.get_model("colorize", device="cuda")
    with pytest.raises(ValueError, match=message.replace("'cuda'", "'cuda:1'")):
        flowkit.generate("a red circle moves left", device="cuda:1")
    from flowkit.cli import main

    assert main(["generate", "a red circle moves left", "-o", str(tmp_path / "c.mp4"),
                 "--device", "cuda"]) != 0
    assert main(["train", "text2video-shapes", "--out", str(tmp_path / "c.safetensors"),
                 "--steps", "2", "--device", "cuda", "-q"]) != 0
    err = capsys.readouterr().err
    assert err.count("flowkit: error: --device: 'cuda' needs a CUDA build of torch") == 2
    assert "AssertionError" not in err
    assert not (tmp_path / "c.mp4").exists() and not (tmp_path / "c.safetensors").exists()


def test_list_models_filters_and_get_model_config_as_torchvision():
    # torchvision's list_models(include=, exclude=) and get_model(name, **config), names looked
    # up in lower case too (a trial of issue 11 found them missing)
    assert models.list_models(include="interp-*") == ["interp-refine"]
    assert "interp-refine" not in models.list_models(exclude=["interp-*", "x"])
    assert models.list_models(include=["colorize", "predict-*"], exclude="*gan") == ["colorize"]
    with pytest.raises(TypeError, match="include: expected a pattern string or a list of them, "
                                        "got 3"):
        models.list_models(include=[3])
    # a bare non-string was iterated: "'int' object is not iterable", bytes read as their codes
    with pytest.raises(TypeError, match="^include: expected a pattern string or a list of "
                                        "them, got 3$"):
        models.list_models(include=3)
    with pytest.raises(TypeError, match="^exclude: expected a pattern string or a list of "
                                        "them, got b'x'$"):
        models.list_models(exclude=b"x")
    assert models.get_weights("Interp-Refine").path == models.get_weights("interp-refine").path
    if torch is None:
        return
    name = "test-configurable"
    try:
        models.register_model(name, lambda width=2: torch.nn.Linear(2, width))
        assert models.get_model(name, width=5).out_features == 5
        assert models.get_model(name).out_features == 2
        with pytest.raises(TypeError, match=rf"^config: the builder of '{name}' does not take "
                                            r"'depth' \("):
            models.get_model(name, depth=3)
    finally:
        _api._REGISTRY.pop(name, None)
