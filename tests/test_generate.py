"""Text-to-video (issue 12): the captioned shapes data set and its analyser (NumPy only), the
"text2video-shapes" model, flowkit.generate, training and the command line. Torch tests skip
when torch is absent."""

import json

import numpy as np
import pytest

import flowkit
from flowkit.models import _api, shapes

try:
    import torch
except ImportError:  # pragma: no cover - the torch-less CI venv
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason='torch not installed (pip install "flowkit-cv[torch]")')


def _word_hash_encoder(text):
    """A deterministic str -> vector callable (16 numbers from the words' letters), standing in
    for a sentence-transformers model."""
    v = np.zeros(16, np.float32)
    for word in text.lower().split():
        for k, ch in enumerate(word):
            v[(ord(ch) * (k + 1)) % 16] += 1
    return v


# --- the data set (no torch) ---

def test_clips_are_rgb_uint8_deterministic_and_follow_the_caption():
    attrs = dict(colour="blue", shape="square", direction="down", size="big", speed="quickly")
    assert shapes.caption(attrs) == "a big blue square moves down quickly"
    z = np.random.default_rng(0).standard_normal(shapes.Z_DIM)
    clip = shapes.render(attrs, z)
    assert clip.shape == (shapes.FRAMES, shapes.SIZE, shapes.SIZE, 3) and clip.dtype == np.uint8
    np.testing.assert_array_equal(clip, shapes.render(attrs, z.copy()))
    # analytic answers: a 13 x 13 px square (half extent 6.5) of the palette colour, moving
    # 1 px per frame down; its coverage-weighted centroid follows the trajectory
    area = clip.astype(np.float64)[..., 2].sum((1, 2)) / shapes.COLOURS["blue"][2]
    np.testing.assert_allclose(area, 13 * 13, rtol=0.01)  # uint8 rounding of the edges
    ys = np.arange(shapes.SIZE) + 0.5
    w = clip[..., 2].astype(np.float64)
    cy = (w.sum(2) * ys).sum(1) / w.sum((1, 2))
    # 4x4 supersampling puts edges on quarter pixels: the centroid within 1/8 px
    np.testing.assert_allclose(cy, shapes.trajectory(attrs, z)[:, 1], atol=0.126)
    np.testing.assert_allclose(np.diff(cy), 1.0, atol=0.02)
    # the whole shape stays inside the frame for any z: nothing of its area is cut off
    for z0 in (-9.0, 9.0):
        edge = shapes.render(attrs, np.array([z0, -z0]))
        area = edge.astype(np.float64)[..., 2].sum((1, 2)) / shapes.COLOURS["blue"][2]
        np.testing.assert_allclose(area, 13 * 13, rtol=0.01)


def test_held_out_combinations_keep_every_word_pair_in_training():
    combos = shapes.combinations()
    assert len(combos) == 432
    held = [c for c in combos if shapes.is_held_out(c)]
    assert 0.15 < len(held) / len(combos) < 0.25
    train = [c for c in combos if not shapes.is_held_out(c)]
    seen = {(c["colour"], c["shape"], c["direction"]) for c in train}
    assert seen == {(c["colour"], c["shape"], c["direction"]) for c in combos}
    rng = np.random.default_rng(0)
    assert all(shapes.is_held_out(a) for a, _ in shapes.sample(rng, 50, held_out=True))
    assert not any(shapes.is_held_out(a) for a, _ in shapes.sample(rng, 50))


def test_analyser_decodes_ground_truth_clips():
    # the goal check's own validation: on 300 data-set clips (every size and speed) it decodes
    # colour, shape and direction; at least 99 % jointly (measured: 100 % of 2,000 in
    # benchmarks/eval_text2video.py)
    rng = np.random.default_rng(7)
    examples = shapes.sample(rng, 150) + shapes.sample(rng, 150, held_out=True)
    right = sum(shapes.describe(shapes.render(a, z)) == {k: a[k] for k in ("colour", "shape", "direction")}
                for a, z in examples)
    assert right >= 0.99 * len(examples)
    assert shapes.describe(np.zeros((4, 8, 8, 3), np.uint8)) == dict(colour=None, shape=None, direction=None)
    with pytest.raises(ValueError, match=r"clip: expected RGB frames \(T >= 2, H, W, 3\), got shape \(8, 8, 3\)"):
        shapes.describe(np.zeros((8, 8, 3), np.uint8))


def test_vocabulary_errors_name_the_unknown_words():
    assert shapes.parse_caption("A red circle moves left.")["colour"] == "red"
    np.testing.assert_array_equal(shapes.bag_of_words("a red circle")[[0, 4, 8]], [1, 1, 1])
    with pytest.raises(ValueError, match=r"caption: unknown words 'purple', 'hexagon' in "
                                         r"'a purple hexagon moves left'; the vocabulary is a, an, the, moves, red"):
        shapes.tokenize("a purple hexagon moves left")
    with pytest.raises(ValueError, match="caption: unknown word 'sideways' in"):
        flowkit.generate("a red circle moves sideways")  # before torch is needed
    with pytest.raises(ValueError, match="caption: expected words of the vocabulary"):
        shapes.tokenize("  ...")
    # a word with a letter outside a-z was split there: "rëd" gave "unknown words 'r', 'd'",
    # and "red2" passed as "red"
    with pytest.raises(ValueError, match=r"caption: unknown word 'rëd' in 'a rëd circle"):
        shapes.tokenize("a rëd circle moves left")
    with pytest.raises(ValueError, match=r"caption: unknown word 'red2' in"):
        shapes.tokenize("a red2 circle moves left")
    with pytest.raises(TypeError, match="caption: expected a string, got int"):
        shapes.tokenize(5)


# --- the model and flowkit.generate ---

@needs_torch
def test_generate_shape_dtype_and_determinism_by_seed():
    a = flowkit.generate("a red circle moves left", seed=3)
    assert a.shape == (16, shapes.SIZE, shapes.SIZE, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, flowkit.generate("a red circle moves left", seed=3))
    b = flowkit.generate("a red circle moves left", seed=4)
    assert np.abs(a.astype(int) - b).mean() > 0.5  # another start position
    assert flowkit.generate("a blue square moves up", frames=5, seed=0).shape == (5, 32, 32, 3)
    # a text vector instead of the caption: the same clip
    counts = shapes.bag_of_words("a red circle moves left")
    np.testing.assert_array_equal(flowkit.generate(counts, seed=3), a)


@needs_torch
def test_generate_errors():
    with pytest.raises(ValueError, match="frames: expected an integer >= 1, got 0"):
        flowkit.generate("a red circle moves left", frames=0)
    with pytest.raises(TypeError, match="seed: expected None or an integer >= 0, got 1.5"):
        flowkit.generate("a red circle moves left", seed=1.5)
    with pytest.raises(ValueError, match=r"caption_or_condition: expected a text vector of length 19 for this model, got 3"):
        flowkit.generate([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="caption_or_condition: expected a finite 1-D vector, got "
                                         "NaN or infinite values"):
        flowkit.generate(np.full(19, np.nan))
    with pytest.raises(ValueError, match=r"caption_or_condition: expected a finite 1-D vector, got "
                                         r"shape \(2, 3\)"):
        flowkit.generate(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="caption_or_condition: expected a caption"):
        flowkit.generate({"a": 1})
    # one number is neither a caption nor a text vector: a type error saying what is taken
    # (it said "expected a finite 1-D vector, got shape ()")
    with pytest.raises(TypeError, match=r"caption_or_condition: expected a caption \(str\) or a 1-D "
                                        r"vector of numbers, got int 42"):
        flowkit.generate(42)
    with pytest.raises(ValueError, match="model: expected a registered video generator's name"):
        flowkit.generate("a red circle moves left", model="interp-refine")
    with pytest.raises(ValueError, match=r"model: expected a registered video generator's name "
                                         r"\(text2video-shapes\), .*got 'nope'"):
        flowkit.generate("a red circle moves left", model="nope")
    with pytest.raises(TypeError, match="text_encoder: expected None or a callable"):
        flowkit.generate("a red circle moves left", text_encoder=5)


@needs_torch
def test_a_callers_module_is_neither_moved_nor_left_in_eval_mode():
    # generate(model=m) ran m.to(device or "cpu").eval(): a generator being trained came back
    # in eval mode, and one on a GPU (its optimizer's state there) on the CPU
    from flowkit import models

    net = models.get_model("text2video-shapes").train()
    moves = []
    net.to = lambda *args, **kwargs: moves.append(args) or net  # a spy: no move expected
    clip = flowkit.generate("a red circle moves left", seed=3, model=net)
    assert net.training and moves == []
    np.testing.assert_array_equal(clip, flowkit.generate("a red circle moves left", seed=3))
    assert flowkit.generate("a red circle moves left", seed=3, model=net.eval(),
                            device="cpu").shape == clip.shape
    assert not net.training
    with pytest.raises(TypeError, match="model: expected a registered video generator's name"):
        flowkit.generate("a red circle moves left", model=torch.nn.Linear(2, 2))


@needs_torch
def test_text_encoder_hook_feeds_any_callable():
    from flowkit.models.text2video import Text2Video

    torch.manual_seed(0)
    model = Text2Video(text_dim=16)
    a = flowkit.generate("a violet hexagon drifts", model=model, text_encoder=_word_hash_encoder, seed=1)
    assert a.shape == (16, 32, 32, 3)  # any words: the callable decides
    np.testing.assert_array_equal(a, flowkit.generate(_word_hash_encoder("a violet hexagon drifts"),
                                                      model=model, seed=1))
    b = flowkit.generate("something else entirely", model=model, text_encoder=_word_hash_encoder, seed=1)
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="text_encoder: expected a text vector of length 19 for this model, got 16"):
        flowkit.generate("a red circle", text_encoder=_word_hash_encoder)
    with pytest.raises(ValueError, match="text_encoder: expected a finite 1-D vector for 'x'"):
        flowkit.generate("x", model=model, text_encoder=lambda s: np.zeros((2, 8)))


@needs_torch
def test_shipped_model_follows_held_out_captions():
    # 12 held-out captions (combinations never trained on); the goal check on 200 is in
    # benchmarks/eval_text2video.py. Threshold: 10 of 12 jointly right (the 200-caption run
    # measured above 90 %; 10/12 leaves room for the small sample).
    weights = _api.get_weights("text2video-shapes")
    assert weights.meta["num_params"] <= 1_000_000
    assert weights.meta["file_size"] == weights.path.stat().st_size <= 5 * 2**20
    assert weights.meta["sha256"] == _api.sha256(weights.path)
    rng = np.random.default_rng(2024)
    right = 0
    for attrs, _ in shapes.sample(rng, 12, held_out=True):
        clip = flowkit.generate(shapes.caption(attrs), seed=int(rng.integers(1 << 30)))
        found = shapes.describe(clip)
        right += all(found[k] == attrs[k] for k in ("colour", "shape", "direction"))
    assert right >= 10


# --- training ---

@needs_torch
def test_a_few_training_steps_lower_the_loss_and_resume_matches(tmp_path):
    from flowkit.models.text2video import Text2Video, VideoDiscriminator
    from flowkit.models.train_text2video import fit_gan

    torch.set_num_threads(1)

    def run(**kwargs):
        torch.manual_seed(0)
        g, d = Text2Video(), VideoDiscriminator()
        history = fit_gan(g, d, steps=30, batch_size=8, every=10, seed=1, progress=False, **kwargs)
        return g, history

    g, history = run()
    assert history[-1][2] < 0.8 * history[0][2]  # the reconstruction term (L1 + moments)
    _, part = run(checkpoint=tmp_path / "c.pt", until=20)
    assert len(part) == 2
    g2, resumed = run(resume=tmp_path / "c.pt")
    assert resumed == history
    for k, v in g.state_dict().items():
        torch.testing.assert_close(g2.state_dict()[k], v, rtol=0, atol=0)


# --- command line ---

@needs_torch
def test_cli_generate_round_trip(tmp_path, capsys):
    from flowkit.cli import main

    out = tmp_path / "clip.mkv"  # ffv1: lossless, the frames come back exactly
    assert main(["generate", "a green triangle moves up", "-o", str(out), "--seed", "5",
                 "--size", "64", "-q"]) == 0
    assert "seed 5" in capsys.readouterr().out
    assert main(["generate", "a green triangle moves up", "-o", str(out), "--model", "colorize"]) == 2
    assert capsys.readouterr().err.startswith("flowkit: error: --model: expected a registered video "
                                              "generator's name (text2video-shapes)")
    frames = np.stack(list(flowkit.iter_frames(out)))
    clip = flowkit.generate("a green triangle moves up", seed=5)
    assert frames.shape == (16, 64, 64, 3)
    np.testing.assert_array_equal(frames[:, ::2, ::2], clip)


@needs_torch
def test_cli_train_text2video_writes_loadable_weights(tmp_path, capsys):
    from flowkit.cli import main

    out = tmp_path / "t.safetensors"
    assert main(["train", "text2video-shapes", "--out", str(out), "--steps", "2", "--batch", "4",
                 "--threads", "1", "-q"]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["command"] == (f"flowkit train text2video-shapes --out {out} --steps 2 --batch 4 "
                               "--lr 0.002 --threads 1 --device cpu --seed 0")
    assert (tmp_path / "t.safetensors.ckpt").is_file()
    assert flowkit.generate("a red circle moves left", model=out, seed=0).shape == (16, 32, 32, 3)
    assert "wrote" in capsys.readouterr().out
    # --resume continues the same run only (its record: seed, steps, batch, lr)
    ckpt = tmp_path / "t.safetensors.ckpt"
    for args, got in [(["--steps", "3", "--batch", "4"], "a run with --steps 2, not --steps 3"),
                      (["--steps", "2", "--batch", "4", "--seed", "1"], "--seed 0, not --seed 1")]:
        assert main(["train", "text2video-shapes", "--out", str(tmp_path / "u.safetensors"),
                     *args, "--threads", "1", "-q", "--resume", str(ckpt)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"flowkit: error: --resume: {ckpt}: expected")
        assert got in err[0], err[0]
    assert not (tmp_path / "u.safetensors").exists()
    # the finished run resumed: nothing trained, its weights written again
    from safetensors.torch import load_file

    assert main(["train", "text2video-shapes", "--out", str(tmp_path / "u.safetensors"), "--steps",
                 "2", "--batch", "4", "--threads", "1", "-q", "--resume", str(ckpt)]) == 0
    assert load_file(tmp_path / "u.safetensors").keys() == load_file(out).keys()
    assert all(torch.equal(load_file(tmp_path / "u.safetensors")[k], v)
               for k, v in load_file(out).items())


@needs_torch
def test_safetensors_extension_in_any_case(tmp_path, capsys):
    # as .MP4 and .Flo are taken (cameras, Windows): train --out W.SAFETENSORS was "--out:
    # expected a .safetensors path", generate's model= "expected a registered ... name", a
    # missing one get_model's "unknown weights name", not "no such file"
    from flowkit import models
    from flowkit.cli import main

    out = tmp_path / "W.SafeTensors"
    assert main(["train", "text2video-shapes", "--out", str(out), "--steps", "1", "--batch", "2",
                 "--threads", "1", "-q"]) == 0, capsys.readouterr().err
    assert flowkit.generate("a red circle moves left", model=str(out), seed=0).shape == \
        (16, 32, 32, 3)
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        models.get_model("colorize", weights="absent.SAFETENSORS")


def test_cli_unknown_caption_word_is_a_usage_error(tmp_path, capsys):
    from flowkit.cli import main

    assert main(["generate", "a purple circle moves left", "-o", str(tmp_path / "c.mp4")]) == 2
    assert capsys.readouterr().err.strip().endswith("(see flowkit generate --help)")


@pytest.mark.parametrize("args, expected", [
    (["generate", "a purple circle moves left", "-o", "{tmp}/c.mp4"], "unknown word 'purple'"),
    (["generate", "a red circle moves left", "-o", "{tmp}/missing/c.mp4"], "output folder does not exist"),
    (["generate", "a red circle moves left", "-o", "{tmp}/c.xyz"],  # no --codec to suggest
     "c.xyz: FFmpeg has no container for the extension '.xyz' (it picks the container by the "
     "extension, whatever the codec); use a video extension (.mp4, .m4v, .mov, .mkv, .avi, "
     ".webm, ...) (see flowkit generate --help)"),
    (["train", "text2video-shapes", "--out", "{tmp}/w.safetensors", "--data", "x"],
     "unrecognized arguments: --data x"),
    (["train", "interp-refine", "--out", "{tmp}/w.safetensors"],
     "the following arguments are required: --data"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, expected):
    from flowkit.cli import main

    try:
        status = main([a.format(tmp=tmp_path) for a in args])
    except SystemExit as exc:  # a usage error found by argparse (exit 2, one line)
        status = exc.code
    assert status != 0
    err = capsys.readouterr().err.strip()  # the train cases are usage errors, torch or not
    assert len(err.splitlines()) == 1 and expected in err, err


@needs_torch
def test_generate_input_errors_before_the_model():
    with pytest.raises(TypeError, match=r"caption_or_condition: expected a caption \(str\) or a 1-D vector of numbers, got None"):
        flowkit.generate(None)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0, got -1"):
        flowkit.generate("a red circle moves left", seed=-1)
    # a complex vector was cast to float32 with a ComplexWarning, its imaginary part dropped
    with pytest.raises(TypeError, match=r"^caption_or_condition: expected a caption \(str\) or a "
                                        r"1-D vector of numbers, got complex values$"):
        flowkit.generate(np.ones(len(shapes.VOCABULARY), complex))


@pytest.mark.parametrize("caption, message", [
    ("a red circle", r"caption: expected one direction word \(left\|right\|up\|down\), got none in 'a red circle'"),
    ("a circle moves left", r"expected one colour word \(red\|green\|blue\|yellow\), got none"),
    ("a red moves left", r"expected one shape word \(circle\|square\|triangle\), got none"),
    ("red red circle moves left right", r"expected one colour word \(red\|green\|blue\|yellow\), "
                                        r"got 2 \(red, red\) in"),
    ("a red circle moves left right", r"expected one direction word .*, got 2 \(left, right\)"),
    ("a small big red circle moves up", r"expected at most one size word \(small\|big\), got 2"),
    ("a red circle moves up slowly quickly", r"expected at most one speed word .*, got 2"),
    # a repeated word was rejected only for colour, size and speed (and shape, direction)
    ("a red circle moves moves left", r"expected at most one verb word \(moves\), got 2 "
                                      r"\(moves, moves\) in 'a red circle moves moves left'"),
    ("a the red circle moves left", r"expected at most one article word \(a\|an\|the\), got 2 "
                                    r"\(a, the\)"),
])
def test_captions_need_one_colour_shape_and_direction(caption, message):
    with pytest.raises(ValueError, match=message):
        shapes.check_caption(caption)
    if torch is not None:
        with pytest.raises(ValueError, match=message):
            flowkit.generate(caption)


def test_every_caption_of_the_grammar_passes_the_check():
    for attrs in shapes.combinations():  # the held-out check script generates these
        shapes.check_caption(shapes.caption(attrs))
    assert shapes.check_caption("Left moves the circle, red.") == ["left", "moves", "the", "circle", "red"]


@needs_torch
def test_cli_generate_shows_a_bar_on_a_terminal_unless_quiet(tmp_path, monkeypatch):
    # -q said "no progress bar", but there was none: --frames 100000 ran minutes in silence
    import io
    import sys

    from flowkit.cli import main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for quiet, expected in ((False, True), (True, False)):
        monkeypatch.setattr(sys, "stderr", Terminal())
        assert main(["generate", "a red circle moves left", "-o", str(tmp_path / "c.mp4"),
                     "--seed", "0", "--frames", "3", "--size", "32"] + ["-q"] * quiet) == 0
        assert ("generate: 100%" in sys.stderr.getvalue() and "3/3" in sys.stderr.getvalue()) == expected


@needs_torch
def test_cli_generate_size_the_encoder_refuses_names_size(tmp_path, capsys, monkeypatch):
    # --size 17000 into .mp4 said "--codec: libx264 cannot write 17000x17000 ...": generate
    # has no --codec. The encoder's refusal, without allocating 17000x17000 frames:
    from flowkit.cli import main

    def refuse(self, frame, time=None):
        raise ValueError("codec: libx264 cannot write 17000x17000 yuv420p video to '.mp4' files "
                         "(Invalid argument)")

    monkeypatch.setattr(flowkit.VideoWriter, "write", refuse)
    assert main(["generate", "a red circle moves left", "-o", str(tmp_path / "c.mp4"),
                 "--seed", "0", "--frames", "2", "-q"]) == 2
    assert capsys.readouterr().err == (
        "flowkit: error: --size: libx264 cannot write 17000x17000 yuv420p video to '.mp4' files "
        "(Invalid argument) (see flowkit generate --help)\n")
    assert list(tmp_path.iterdir()) == []


def test_cli_generate_size_beyond_any_encoder_is_a_usage_error(tmp_path, capsys):
    # --size 100000 failed with "OpenCV: Failed to allocate 30000000000 bytes", naming nothing
    from flowkit.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["generate", "a red circle moves left", "-o", str(tmp_path / "c.mkv"),
              "--size", "100000", "-q"])
    assert exit.value.code == 2
    assert "--size: expected an integer in [2, 16384], got '100000'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@needs_torch
def test_cli_generate_size_below_32_downscales_as_its_help_says(tmp_path, capsys):
    # the help said "upscaling of the model's 32x32", but --size 16 is taken: it drops pixels
    from flowkit.cli import main

    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("--size SIZE side of the written frames in pixels, 2 to 16384: the model's 32x32 "
            "frames resized by nearest neighbour, upscaled above 32 and downscaled (pixels "
            "dropped) below (default 128)") in help_text
    out = tmp_path / "clip.mkv"  # ffv1: lossless
    assert main(["generate", "a green triangle moves up", "-o", str(out), "--seed", "5",
                 "--size", "16", "-q"]) == 0
    frames = np.stack(list(flowkit.iter_frames(out)))
    clip = flowkit.generate("a green triangle moves up", seed=5)
    np.testing.assert_array_equal(frames, clip[:, ::2, ::2])


@needs_torch
def test_cli_generate_pads_an_odd_size(tmp_path, capsys):
    from flowkit.cli import main

    out = tmp_path / "clip.mp4"
    assert main(["generate", "a green triangle moves up", "-o", str(out), "--seed", "5",
                 "--size", "33", "-q"]) == 0
    captured = capsys.readouterr()
    assert "frames, 34x34, seed 5" in captured.out
    # the note retime, predict and flow print (how to keep the size), without their advice of
    # --codec ffv1, which generate does not take ("unrecognized arguments"): its .mkv is FFV1
    assert captured.err == ("flowkit: note: padded 33x33 to 34x34 (last row or column repeated) "
                            "for the encoder, which needs an even size; to keep 33x33 write "
                            ".mkv or .webm\n")
    assert next(iter(flowkit.iter_frames(out))).shape == (34, 34, 3)
    for name in ("clip.mkv", "clip.webm"):  # as the note says
        assert main(["generate", "a green triangle moves up", "-o", str(tmp_path / name),
                     "--seed", "5", "--size", "33", "-q"]) == 0
        assert next(iter(flowkit.iter_frames(tmp_path / name))).shape == (33, 33, 3)
