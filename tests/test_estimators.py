"""flowkit.register_estimator and the flowkit.estimators entry points: user estimators looked
up by name by predict, interpolate and the command line, options checked by their signature,
results checked; a plugin package found by importlib.metadata in another process."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import flowkit
from flowkit import _estimators
from cases import textured_image


@pytest.fixture
def registered():
    """Names a test registers are removed afterwards (the registry is per process)."""
    before, plugins = dict(_estimators._USER), set(_estimators._PLUGINS)
    yield
    _estimators._USER.clear()
    _estimators._USER.update(before)
    _estimators._PLUGINS.clear()
    _estimators._PLUGINS.update(plugins)


def _shift(frame0, frame1, *, u=1.0, v=0.0):
    """A constant flow (u, v), whatever the frames (the caller's options reach it)."""
    flow = np.empty(frame0.shape[:2] + (2,), np.float32)
    flow[..., 0], flow[..., 1] = u, v
    return flow


def test_a_registered_name_is_used_as_a_built_in_one(registered):
    assert flowkit.register_estimator("shift-test", _shift) is _shift
    assert "shift-test" in flowkit.list_estimators()
    assert _estimators.estimator_options("shift-test") == ["u", "v"]
    a = (textured_image(24, 32, seed=1) * 255).astype(np.uint8)
    got = flowkit.predict(np.stack([a, a]), 1, flow="shift-test", flow_options={"u": 2.0},
                          context=2)
    same = flowkit.predict(np.stack([a, a]), 1, flow=_shift, flow_options={"u": 2.0},
                           context=2)
    np.testing.assert_array_equal(got, same)
    middle, aux = flowkit.interpolate(a, a, 0.5, flow="shift-test", flow_options={"v": 1.0},
                                      return_aux=True)
    np.testing.assert_array_equal(aux["flow01"], _shift(a, a, v=1.0))
    with pytest.raises(ValueError, match=r"flow_options: 'w' is not an option of shift-test; "
                                         r"its options are u, v"):
        flowkit.predict(np.stack([a, a]), 1, flow="shift-test", flow_options={"w": 1})


def test_decorator_kwargs_and_returned_flow_checked(registered):
    @flowkit.register_estimator("anything-test")
    def anything(frame0, frame1, **options):
        return np.zeros(frame0.shape[:2] + (3,), np.float32)  # not a flow

    assert callable(anything)
    estimate = _estimators.get_estimator("anything-test", {"whatever": 1})  # **kwargs: any name
    frame = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match=r"flow: the estimator 'anything-test' returned "
                                         r"ndarray of shape \(8, 8, 3\)"):
        estimate(frame, frame)
    # the result described once, then what was expected (it was "...returned ndarray of shape
    # (4, 4, 2) and dtype float32; flow: expected shape (8, 8, 2), got (4, 4, 2)")
    small = _estimators.get_estimator(lambda a, b: np.zeros((4, 4, 2), np.float32), {})
    with pytest.raises(ValueError) as error:
        small(frame, frame)
    assert str(error.value) == ("flow: the callable returned ndarray of shape (4, 4, 2) and dtype "
                                "float32; expected shape (8, 8, 2)")


def test_an_estimator_returning_a_torch_tensor_is_read_as_an_array(registered):
    # a user's (RAFT-like) estimator returning a torch tensor failed in the check of what it
    # returned with "Cannot interpret 'torch.float32' as a data type", though warp and predict
    # take torch flows (found trying register_estimator as a new user)
    torch = pytest.importorskip("torch")
    flowkit.register_estimator("torch-test", lambda f0, f1, *, u=1.0: torch.from_numpy(
        _shift(f0, f1, u=u)))
    a = (textured_image(24, 32, seed=1) * 255).astype(np.uint8)
    got = flowkit.predict(np.stack([a, a]), 1, flow="torch-test", context=2)
    same = flowkit.predict(np.stack([a, a]), 1, flow=_shift, context=2)
    np.testing.assert_array_equal(got, same)
    grad = lambda f0, f1: torch.zeros(f0.shape[:2] + (2,), requires_grad=True)  # noqa: E731
    with pytest.raises(TypeError, match=r"^flow: the callable returned Tensor of shape "
                                        r"\(24, 32, 2\).*; expected an array, got a "
                                        r"torch.Tensor that requires grad"):
        flowkit.predict(np.stack([a, a]), 1, flow=grad, context=2)


def test_an_error_of_a_users_estimator_names_it(registered, tmp_path, capsys):
    # an error raised inside a user's estimator reached the caller as if flowkit had raised it
    # (a RuntimeError with the function's words only); now the same exception, with a note
    from flowkit.cli import main  # imported before the registration: the command sees it

    def broken(frame0, frame1, *, u=1.0):
        raise RuntimeError("the model is not loaded")

    def refuses(frame0, frame1, *, u=1.0):
        raise ValueError("u: expected a positive speed")

    flowkit.register_estimator("broken-test", broken)
    flowkit.register_estimator("refuses-test", refuses)
    a = (textured_image(24, 32, seed=1) * 255).astype(np.uint8)
    clip = np.stack([a, a])
    with pytest.raises(RuntimeError) as raised:
        flowkit.predict(clip, 1, flow="broken-test", context=2)
    assert str(raised.value) == "the model is not loaded"
    assert raised.value.__notes__ == ["raised by the estimator 'broken-test'"]
    assert raised.traceback[-1].name == "broken"  # its own traceback, not a re-raise
    with pytest.raises(RuntimeError) as raised:
        flowkit.interpolate(a, a, 0.5, flow=broken)
    assert raised.value.__notes__ == [
        "raised by the callable test_an_error_of_a_users_estimator_names_it.<locals>.broken "
        "given as flow"]
    # an option it names is the caller's (flow_options['u']), the note kept
    with pytest.raises(ValueError) as raised:
        flowkit.predict(clip, 1, flow="refuses-test", flow_options={"u": -1}, context=2)
    assert str(raised.value) == "flow_options['u']: expected a positive speed"
    assert raised.value.__notes__ == ["raised by the estimator 'refuses-test'"]
    with pytest.raises(ValueError) as raised:  # flowkit's own estimators: no note
        flowkit.predict(clip, 1, flow="dis", flow_options={"patch_size": 100}, context=2)
    assert not hasattr(raised.value, "__notes__")
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), a)
    assert main(["flow", str(tmp_path / "a.png"), str(tmp_path / "a.png"), "-o",
                 str(tmp_path / "f.flo"), "--method", "broken-test"]) == 1
    assert capsys.readouterr().err.strip() == ("flowkit: error: the model is not "
                                               "loaded (raised by the estimator 'broken-test')")


def test_registration_errors(registered):
    with pytest.raises(ValueError, match=r"name: expected a name not yet registered as an "
                                         r"estimator \(registered: .*dis.*\), got 'dis'; it is "
                                         r"flowkit's own, which replace=True does not replace: "
                                         r"choose another name$"):
        flowkit.register_estimator("dis", _shift)
    # built in: never replaced, and said so (it was only "registered already", as without
    # replace=True)
    with pytest.raises(ValueError, match=r"got 'dis'; it is "
                                         r"flowkit's own, which replace=True does not replace"):
        flowkit.register_estimator("dis", _shift, replace=True)
    flowkit.register_estimator("mine-test", _shift)
    with pytest.raises(ValueError, match=r"got 'mine-test'; replace=True replaces it$"):
        flowkit.register_estimator("mine-test", _shift)
    other = lambda frame0, frame1: _shift(frame0, frame1, u=3.0)  # noqa: E731
    flowkit.register_estimator("mine-test", other, replace=True)  # a notebook cell run again
    frame = np.zeros((4, 5), np.float32)
    assert _estimators.get_estimator("mine-test")(frame, frame)[0, 0, 0] == 3.0
    for bad in ("", "a b", "-x", "a:b", "ü"):
        with pytest.raises(ValueError, match="name: expected letters, digits"):
            flowkit.register_estimator(bad, _shift)
    with pytest.raises(TypeError, match="name: expected a string, got 3"):
        flowkit.register_estimator(3, _shift)
    # replace="no" was taken as true and replaced the registration (a new user's trial)
    with pytest.raises(TypeError, match="^replace: expected a bool, got 'no'$"):
        flowkit.register_estimator("mine-test", _shift, replace="no")
    with pytest.raises(TypeError, match="^replace: expected a bool, got 1$"):
        flowkit.register_estimator("flag-test", replace=1)
    with pytest.raises(TypeError, match="function: expected a callable .*got 'farneback'"):
        flowkit.register_estimator("text-test", "farneback")
    # a function that cannot take the two frames was registered and failed on the first pair
    # with Python's "<lambda>() takes 1 positional argument but 2 were given" (a new user's
    # trial); options with defaults, *args and keyword-only options are fine
    with pytest.raises(TypeError, match=r"^function: expected a callable \(frame0, frame1, "
                                        r"\*\*options\) -> flow, got <lambda>\(frame\)$"):
        flowkit.register_estimator("one-test", lambda frame: frame)
    with pytest.raises(TypeError, match=r"got three\(frame0, frame1, scale\)$"):
        def three(frame0, frame1, scale):
            return _shift(frame0, frame1)
        flowkit.register_estimator("three-test", three)
    for fine in (lambda f0, f1, scale=1: None, lambda *frames: None, _shift):
        flowkit.register_estimator("fine-test", fine, replace=True)


def _plugin(tmp_path, body):
    """A package 'flowplug' with a flowkit.estimators entry point 'plug-shift', installed the
    way pip leaves one (a .dist-info folder beside it) in ``tmp_path``."""
    (tmp_path / "flowplug.py").write_text(textwrap.dedent(body))
    info = tmp_path / "flowplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flowplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[flowkit.estimators]\nplug-shift = flowplug:shift\n")
    return tmp_path


PLUGIN = """
    import numpy as np

    def shift(frame0, frame1, *, u=1.0):
        flow = np.zeros(frame0.shape[:2] + (2,), np.float32)
        flow[..., 0] = u
        return flow
"""


def test_an_entry_point_is_found_by_the_command_line(tmp_path):
    # another process: flowkit flow --method plug-shift -O u=2.5 writes the plugin's flow
    import cv2

    (tmp_path / "site").mkdir()
    folder = _plugin(tmp_path / "site", PLUGIN)
    a = (textured_image(24, 32, seed=2) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), a)
    cv2.imwrite(str(tmp_path / "b.png"), a)
    out = tmp_path / "out.flo"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from flowkit.cli import main; "
            "sys.exit(main(sys.argv[2:]))")
    args = [sys.executable, "-c", code, str(folder), "flow", str(tmp_path / "a.png"),
            str(tmp_path / "b.png"), "-o", str(out), "--method", "plug-shift", "-O", "u=2.5"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    flow = flowkit.read_flo(out)
    assert flow.shape == (24, 32, 2) and np.all(flow[..., 0] == 2.5) and np.all(flow[..., 1] == 0)
    help_text = subprocess.run(args[:5] + ["flow", "--help"], capture_output=True, text=True,
                               timeout=300).stdout
    # argparse may wrap the help at the name's hyphen: compared without whitespace
    assert "flowkit.estimators:plug-shift" in "".join(help_text.split())


def test_entry_points_are_listed_lazily_and_a_broken_one_is_named(tmp_path, monkeypatch,
                                                                  registered):
    folder = _plugin(tmp_path, "raise RuntimeError('the plugin is broken')\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(_estimators, "_plugins_found", False)
    assert "plug-shift" in flowkit.list_estimators()  # listed without importing it
    assert "flowplug" not in sys.modules
    with pytest.raises(ValueError, match=r"got 'plug-shift'; it is an entry point's, which "
                                         r"replace=True does not replace"):
        flowkit.register_estimator("plug-shift", _shift, replace=True)  # an entry point's
    frame = np.zeros((8, 8), np.float32)
    with pytest.raises(ImportError, match=r"flow: the estimator 'plug-shift' \(entry point "
                                          r"flowplug:shift of group flowkit.estimators\) could "
                                          r"not be imported: the plugin is broken"):
        flowkit.predict(np.stack([frame, frame]), 1, flow="plug-shift")


def test_unknown_names_and_options_say_where_registered_names_and_options_go():
    # a name registered in the process that called flowkit.batch was unknown on the workers,
    # and flowkit flow's -O u=3 given to batch flow an unknown job option, with no hint (from
    # the new-user trial)
    with pytest.raises(ValueError, match=r"got 'mine-unknown' \(a name of "
                                         r"flowkit\.register_estimator exists in the process that "
                                         r"registered it; .*entry points of flowkit\.estimators"):
        _estimators.get_estimator("mine-unknown")
    with pytest.raises(ValueError, match=r"job_options: u: unknown option; .*; an estimator's own "
                                         r"options go in flow_options \(flowkit batch: -O "
                                         r"\"flow_options=\{'u': VALUE\}\"\)"):
        flowkit.batch("flow", [__file__], "out-unused", u=3)
