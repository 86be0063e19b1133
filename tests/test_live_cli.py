"""`voicedrill drill` run as a process of its own: reps saved as it goes, and kept through Ctrl-C,
SIGTERM, a closed terminal and SIGKILL (the live tests of one module in test_live.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest


def voicedrill(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-u", "-m", "voicedrill.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_unsaved_reps_are_named_by_their_place_in_the_run(pieces, make_rep):
    """--no-save: nothing waits to go into the history, so the summary names reps 1, 2, …; no rep is
    judged against the history, so there is no "targets met" column (its "not yet" said the
    history held too few reps; found by a new user)."""
    clean, _ = make_rep(pieces, "clean")
    proc = voicedrill("drill", "--reps", "2", "--input", str(clean), "--speed", "0", "--no-speech", "--no-save")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "waiting" not in out and "best: rep 1" in " ".join(out.split())
    assert "targets" not in out and "not yet" not in out


def wait_into_rep_3(proc) -> None:
    """Return once rep 2 is saved and rep 3 has begun (its cue is on the screen)."""
    for line in proc.stdout:
        if line.startswith("Rep 3 of"):
            return
    raise AssertionError("the run ended before rep 3")


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
    assert statuses[0]["address"] == statuses[2]["address"] == "ok" and statuses[1]["address"] == "missing"
    assert reps[0]["source"] == str(clean) == reps[2]["source"] and reps[1]["source"] == str(skip)  # in turn: after the last, the first
    assert "3 reps saved" in out and "First rep" in out
    assert not list(session.glob(".rep-*"))  # no temporary files left


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_keeps_completed_reps(tmp_path, pieces, make_rep, signum):
    """Ctrl-C mid-rep 3 stops the run with reps 1–2 kept and said; so does SIGTERM (a shutdown,
    `kill`), which killed the run at once (status -15, a leaked semaphore from the child process
    said on the way out). SIGHUP, the terminal closed: the two tests after this one."""
    clean, _ = make_rep(pieces, "clean")
    proc = voicedrill("drill", "--reps", "3", "--input", str(clean), "--speed", "8", "--out", str(tmp_path), "--no-speech", "--keep-audio")
    wait_into_rep_3(proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    (session,) = tmp_path.iterdir()
    assert sorted(p.name for p in session.iterdir()) == ["rep-01.json", "rep-01.wav", "rep-02.json", "rep-02.wav"]
    for rep in session.glob("rep-*.json"):
        assert json.loads(rep.read_text())["report"]["steps"]
    assert "stopped early" in out and "2 reps saved" in out
    assert "Traceback" not in err


def test_closing_the_terminal_stops_the_run_without_a_traceback(tmp_path, pieces, make_rep):
    """Closing the terminal sends SIGHUP to the whole process group: it killed multiprocessing's
    resource tracker too, which printed a traceback per queue on the way out (found by an attack)."""
    clean, _ = make_rep(pieces, "clean")
    proc = voicedrill("drill", "--reps", "3", "--input", str(clean), "--speed", "8", "--out", str(tmp_path), "--no-speech", start_new_session=True)
    wait_into_rep_3(proc)
    os.killpg(proc.pid, signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 129 and "Traceback" not in err and "resource_tracker" not in err, err
    assert "2 reps saved" in out


def test_a_terminal_that_closes_mid_run_stops_it_as_closed(tmp_path, pieces, make_rep):
    """The run in a real terminal (a pty), which then closes: every write to it fails, and the stop
    (129) became an error on the way out, status 1 (found by a review). Rep 1 is kept."""
    import pty
    import sqlite3

    clean, _ = make_rep(pieces, "clean")
    db = tmp_path / "h.db"
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the pty is its terminal
        try:
            os.environ["VOICEDRILL_DB"] = str(db)
            os.execv(sys.executable, [sys.executable, "-m", "voicedrill.cli", "drill", "--input", str(clean), "--reps", "3", "--speed", "0", "--no-speech"])
        finally:
            os._exit(127)  # (never back into the tests)
    seen = b""
    while b"Rep 2" not in seen:
        seen += os.read(terminal, 4096)
    os.close(terminal)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 129
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM reps").fetchone()[0] >= 1


def test_killed_run_leaves_completed_reps_intact(tmp_path, pieces, make_rep):
    """SIGKILL (no chance to clean up) mid-rep 3: reps 1–2 are whole, nothing half-written."""
    clean, _ = make_rep(pieces, "clean")
    env = {**os.environ, "VOICEDRILL_DB": str(tmp_path.parent / f"{tmp_path.name}.db")}
    proc = voicedrill("drill", "--reps", "5", "--input", str(clean), "--speed", "8", "--out", str(tmp_path), "--no-speech", "--keep-audio", env=env)
    wait_into_rep_3(proc)
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
    assert again.returncode == 0 and "1 rep saved" in out, err
    after = subprocess.run([sys.executable, "-m", "voicedrill.cli", "export"], env=env, capture_output=True, text=True, check=True)
    assert len(after.stdout.splitlines()) == 1 + 3
