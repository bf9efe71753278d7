"""``progress`` of retime and translate as a host application uses it (docs/api.md, "Progress
and cancellation"): a callable ``progress(done, total)`` gets counts 1, 2, ... ending at the
total, an exception raised in it cancels the job with no output and no temporary file left
and the input untouched, and a job run in a ``threading.Thread`` is cancelled from the main
thread, which keeps running meanwhile. References: the frames the reports count, the folder's
listing before and after, the input's bytes."""

import hashlib
import threading

import pytest

import flowkit
from test_retime import real_frames, write_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """12 frames of Tears of Steel, 64x36, 24 fps, H.264."""
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 12, start=2)
    return write_clip(tmp_path_factory.mktemp("clip") / "tears.mp4", frames, 24)


class Cancelled(Exception):
    pass


def run_job(name, clip, dst, progress):
    if name == "retime":
        return flowkit.retime(clip, dst, factor=2, flow="farneback", progress=progress).frames
    return flowkit.translate(clip, dst, "autocontrast", progress=progress)["frames"]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("job", ["retime", "translate"])
def test_a_callable_gets_monotone_counts_ending_at_the_total(job, clip, tmp_path):
    calls = []
    frames = run_job(job, clip, tmp_path / "out.mp4", lambda *counts: calls.append(counts))
    assert [done for done, _ in calls[:frames]] == list(range(1, frames + 1))
    assert all(b[0] >= a[0] for a, b in zip(calls, calls[1:]))
    assert calls[-1] == (frames, frames)
    assert all(total in (None, frames) or total >= done for done, total in calls)


@pytest.mark.parametrize("job", ["retime", "translate"])
def test_an_exception_in_the_callable_cancels_leaving_no_file(job, clip, tmp_path):
    before = digest(clip)
    dst = tmp_path / "out.mp4"

    def cancel(done, total):
        if done == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        run_job(job, clip, dst, cancel)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file
    dst.write_bytes(b"earlier output")
    with pytest.raises(Cancelled):
        run_job(job, clip, dst, cancel)
    assert dst.read_bytes() == b"earlier output"  # an existing output is left as it was
    assert list(tmp_path.iterdir()) == [dst]
    assert digest(clip) == before


@pytest.mark.parametrize("job", ["retime", "translate"])
def test_a_job_in_a_thread_is_cancelled_from_the_main_thread(job, clip, tmp_path):
    started, stop = threading.Event(), threading.Event()
    outcome = []

    def progress(done, total):
        started.set()
        assert stop.wait(60)  # the main thread must get to run while the job waits here
        raise Cancelled

    def work():
        try:
            run_job(job, clip, tmp_path / "out.mp4", progress)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(120)
    stop.set()  # the main thread, while the job runs: the UI's Cancel button
    worker.join(120)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("job", ["retime", "translate"])
def test_progress_of_another_type_is_a_type_error(job, clip, tmp_path):
    with pytest.raises(TypeError, match=r"^progress: expected None, a bool or a callable "
                                        r"\(done, total\), got 'no'"):
        run_job(job, clip, tmp_path / "out.mp4", "no")
    assert list(tmp_path.iterdir()) == []
