"""Live practice: the streaming path fed from files, step events, saved reps, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from voicedrill.audio import FileSource, MicSource
from voicedrill.errors import VoicedrillError
from voicedrill.live import LiveRep, run_rep
from voicedrill.session import check_file
from voicedrill.synth import Piece


def live(drill, engine, path, speed=None):
    events = []
    report = run_rep(LiveRep(drill, engine), FileSource(path, speed=speed), lambda state, new: events.extend(new))
    return report, events


@pytest.mark.parametrize("case", ["clean", "swap"])
def test_live_ticks_the_right_steps_and_matches_check(drill, sphinx, pieces, make_rep, case):
    recipe = list(pieces)
    if case == "swap":
        recipe[4], recipe[5] = recipe[5], recipe[4]
    path, segments = make_rep(recipe, case)
    report, events = live(drill, sphinx, path)
    checked = check_file(path, drill, sphinx)
    assert report.steps == checked.steps and report.pauses == checked.pauses
    assert report.order_ok == checked.order_ok and report.score == checked.score
    heard = {s.id for s in checked.steps if s.status != "missing"}
    assert {e.step for e in events} == heard
    assert [e.step for e in events] == [s.label for s in segments if s.label in heard]  # ticked in spoken order
    if case == "swap":
        assert [e.step for e in events if e.out_of_order] == ["notes"]  # marked the moment it was heard late


def test_step_events_arrive_while_streaming(drill, sphinx, pieces, make_rep):
    """Each step is ticked soon after it is said, long before the file ends."""
    path, segments = make_rep(pieces, "clean")
    audio_s = FileSource(path).info.seconds
    _, events = live(drill, sphinx, path)
    spans = {s.label: (s.start, s.end) for s in segments}
    for event in events:
        start, end = spans[event.step]
        assert event.at_s < audio_s - 1.0
        # once enough of the line is heard, possibly before its last word; at most 1.5 s after it
        assert start < event.at_s <= end + 1.5, event


def test_real_time_feeding_paces_the_rep(drill, sphinx, pieces, make_rep):
    path, _ = make_rep(pieces[:2], "two-steps")
    seconds = FileSource(path).info.seconds
    started = time.monotonic()
    _, events = live(drill, sphinx, path, speed=2.0)
    assert time.monotonic() - started >= seconds / 2 - 0.2
    assert [e.step for e in events] == ["name", "phone"]


def test_no_microphone_names_the_way_out():
    with pytest.raises(VoicedrillError, match="--input FILE"):
        MicSource()


def voicedrill(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "voicedrill.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def wait_into_rep_3(out) -> None:
    """Return once rep 2 is saved and rep 3 (20 s of audio at 4× speed) is a second under way."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("*/rep-02.json")):
        time.sleep(0.05)
    time.sleep(1.0)


def test_three_reps_from_files_are_saved(tmp_path, pieces, make_rep):
    clean, _ = make_rep(pieces, "clean")
    skip, _ = make_rep([p for p in pieces if p.label != "address"], "skip")
    proc = voicedrill("drill", "--reps", "3", "--input", str(clean), "--input", str(skip), "--speed", "0", "--out", str(tmp_path), "--no-speech")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    (session,) = tmp_path.iterdir()
    reps = [json.loads(p.read_text()) for p in sorted(session.glob("rep-*.json"))]
    assert [r["rep"] for r in reps] == [1, 2, 3]
    statuses = [{s["id"]: s["status"] for s in r["report"]["steps"]} for r in reps]
    assert statuses[0]["address"] == "ok" and statuses[1]["address"] == statuses[2]["address"] == "missing"
    assert reps[1]["source"] == str(skip) == reps[2]["source"]
    assert "3 rep(s) saved" in out and "First rep" in out
    assert not list(session.glob(".rep-*"))  # no temporary files left


def test_ctrl_c_keeps_completed_reps(tmp_path, pieces, make_rep):
    clean, _ = make_rep(pieces, "clean")
    proc = voicedrill("drill", "--reps", "3", "--input", str(clean), "--speed", "4", "--out", str(tmp_path), "--no-speech", "--keep-audio")
    wait_into_rep_3(tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (session,) = tmp_path.iterdir()
    assert sorted(p.name for p in session.iterdir()) == ["rep-01.json", "rep-01.wav", "rep-02.json", "rep-02.wav"]
    for rep in session.glob("rep-*.json"):
        assert json.loads(rep.read_text())["report"]["steps"]
    assert "stopped early" in out and "2 rep(s) saved" in out
    assert "Traceback" not in err


def test_killed_run_leaves_completed_reps_intact(tmp_path, pieces, make_rep):
    """SIGKILL (no chance to clean up) mid-rep 3: reps 1–2 are whole, nothing half-written."""
    clean, _ = make_rep(pieces, "clean")
    env = {**os.environ, "VOICEDRILL_DB": str(tmp_path.parent / f"{tmp_path.name}.db")}
    proc = voicedrill("drill", "--reps", "5", "--input", str(clean), "--speed", "4", "--out", str(tmp_path), "--no-speech", "--keep-audio", env=env)
    wait_into_rep_3(tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    (session,) = tmp_path.iterdir()
    assert sorted(p.name for p in session.iterdir()) == ["rep-01.json", "rep-01.wav", "rep-02.json", "rep-02.wav"]
    for rep in session.glob("rep-*.json"):
        assert json.loads(rep.read_text())["report"]["score"] >= 90
    stored = [json.loads(line) for line in subprocess.run(
        [sys.executable, "-m", "voicedrill.cli", "export", "--format", "jsonl"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()]
    assert [r["rep_in_session"] for r in stored] == [1, 2] and len({r["session"] for r in stored}) == 1
    assert [r["report"] for r in stored] == [json.loads(p.read_text())["report"] for p in sorted(session.glob("rep-*.json"))]
    # and the next run works, in the same history
    again = voicedrill("drill", "--input", str(clean), "--speed", "0", "--out", str(tmp_path), "--no-speech", env=env)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0 and "1 rep(s) saved" in out, err
    after = subprocess.run([sys.executable, "-m", "voicedrill.cli", "export"], env=env, capture_output=True, text=True, check=True)
    assert len(after.stdout.splitlines()) == 1 + 3


class VanishingSource(FileSource):
    """A recording that stops mid-way the way a microphone does when it is unplugged."""

    live = True

    def __iter__(self):
        for n, block in enumerate(super().__iter__()):
            if n == 30:
                raise VoicedrillError("the microphone stopped delivering audio (unplugged?); the rep was not saved")
            yield block


def test_input_vanishing_mid_rep_keeps_completed_reps(tmp_path, drill, sphinx, pieces, make_rep):
    from rich.console import Console

    from voicedrill.liveview import LiveView
    from voicedrill.history import Session
    from voicedrill.session import Keeper, run_drill
    from voicedrill.synth import Speaker

    clean, _ = make_rep(pieces, "clean")
    sources = lambda n: FileSource(clean) if n == 1 else VanishingSource(clean)
    keeper = Keeper(None, Session.of("drill", drill, sphinx.name, sphinx.model_name), tmp_path)
    run = run_drill(drill, sphinx, sources, 3, LiveView(Console(file=open(os.devnull, "w"))), Speaker(False), keeper)
    assert run.interrupted and "unplugged" in str(run.error)
    assert run.saved == [str(tmp_path / "rep-01.json")] and len(run.reports) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep-01.json"]
    # the engine is shared: a rep cut off mid-utterance must not break the next one
    assert check_file(clean, drill, sphinx).steps == run.reports[0].steps
