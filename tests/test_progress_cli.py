"""Reps saved by `check` and `drill` show up in `history`, `export`, charts and the HTML report."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
from dataclasses import replace
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def voicedrill(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicedrill.cli", *args], capture_output=True, text=True, timeout=300, env=env)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def saved(tmp_path_factory, pieces, make_rep):
    """One `check` and one 3-rep `drill --input` run into a fresh history; their own reports kept for comparison."""
    home = tmp_path_factory.mktemp("history")
    env = {**os.environ, "VOICEDRILL_DB": str(home / "history.db"), "COLUMNS": "120"}
    clean, _ = make_rep(pieces, "clean")
    slow = [replace(p, pause_before=1.8) if p.label == "email" else p for p in pieces]
    slow_rep, _ = make_rep(slow, "slow-email")
    checked = voicedrill("check", str(slow_rep), "--json", "--engine", "pocketsphinx", env=env)
    assert checked.returncode == 0, checked.stderr
    assert re.search(r"saved as rep 1\b", checked.stderr)
    out = home / "files"
    run = voicedrill("drill", "--reps", "3", "--input", str(clean), "--input", str(slow_rep), "--speed", "0",
                     "--no-speech", "--engine", "pocketsphinx", "--out", str(out), env=env)
    assert run.returncode == 0, run.stderr
    assert "3 reps saved in your history as session s2 and in " in run.stdout and "\nA page of them: voicedrill report s2 --html session.html\n" in run.stdout
    drilled = [json.loads(p.read_text())["report"] for p in sorted(out.glob("*/rep-*.json"))]
    return env, home, json.loads(checked.stdout), drilled


def test_check_and_drill_reps_appear_in_export_with_their_reports_numbers(saved):
    env, _, checked, drilled = saved
    lines = voicedrill("export", "--format", "jsonl", env=env).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["report"] for r in rows] == [checked, *drilled]
    assert [(r["session"], r["rep_in_session"], r["kind"]) for r in rows] == [(1, 1, "check"), (2, 1, "drill"), (2, 2, "drill"), (2, 3, "drill")]
    for row in rows:
        report = row["report"]
        assert row["score"] == report["score"] and row["duration_s"] == report["duration_s"]
        assert row["speech_wpm"] == report["pace"]["speech_wpm"]
        assert row["longest_pause_s"] == max(p["gap_s"] for p in report["pauses"])
        assert row["engine"] == "pocketsphinx" and row["drill"] == "hard-close"
    assert rows[0]["longest_pause_s"] > 1.5 and rows[1]["longest_pause_s"] < 1.0  # the slow email is where it should be
    table = list(csv.DictReader(io.StringIO(voicedrill("export", env=env).stdout)))
    assert [int(r["score"]) for r in table] == [r["score"] for r in rows]
    assert [float(r["speech_wpm"]) for r in table] == [r["speech_wpm"] for r in rows]
    assert voicedrill("export", "--drill", "soft-to-hard", env=env).stdout.count("\n") == 1  # the header only


def test_history_shows_sessions_reps_and_trend(saved):
    env, _, checked, drilled = saved
    shown = voicedrill("history", env=env)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines() if re.match(r"\s*\d+\s+s\d+\s", line)]
    assert [(r[0], r[1]) for r in rows] == [("1", "s1"), ("2", "s2"), ("3", "s2"), ("4", "s2")]  # one number a rep: no "#3" beside "rep 16"
    assert [int(r[-1]) for r in rows] == [checked["score"], *(d["score"] for d in drilled)]
    assert [r[-3] for r in rows] == [f"{max(p['gap_s'] for p in r['pauses']):.2f}s" for r in (checked, *drilled)]
    assert re.search(r"score\s+[▁▂▃▄▅▆▇█]{4}", shown.stdout)
    last = voicedrill("history", "--last", "2", env=env)
    assert len([line for line in last.stdout.splitlines() if re.match(r"\s*\d+\s+s\d+\s", line)]) == 2
    assert "No reps" in voicedrill("history", "--since", "2099-01-01", env=env).stdout
    bad = voicedrill("history", "--since", "someday", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--since: 'someday'" in bad.stderr


def test_plot_writes_a_chart_of_the_expected_size(saved, tmp_path):
    env, *_ = saved
    run = voicedrill("history", "--plot", str(tmp_path / "progress.png"), env=env)
    assert run.returncode == 0, run.stderr
    assert png_size(tmp_path / "progress.png") == (1000, 750)
    import matplotlib.image

    pixels = matplotlib.image.imread(tmp_path / "progress.png")
    assert pixels.shape[:2] == (750, 1000) and pixels[..., :3].std() > 0.05  # something is drawn
    nothing = voicedrill("history", "--plot", str(tmp_path / "none.png"), "--drill", "micro-commitment", env=env)
    assert nothing.returncode == 2 and "no reps to plot" in nothing.stderr and not (tmp_path / "none.png").exists()


def test_report_page_is_self_contained(saved, tmp_path):
    env, *_ = saved
    for ref, name in (("1", "rep.html"), ("s2", "session.html"), ("last", "last.html")):
        run = voicedrill("report", ref, "--html", str(tmp_path / name), env=env)
        assert run.returncode == 0, run.stderr
        html = (tmp_path / name).read_text()
        links = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", html)
        assert links and all(link.startswith(("data:image/png;base64,", "#")) for link in links), links
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
        assert not re.search(r"https?:|//[a-z]|url\(|<script|<link|@import|<iframe", text)
    session = (tmp_path / "session.html").read_text()
    assert session.count("data:image/png") == 2 + 3  # the fluency curve and the trend, then each rep's timeline
    assert (tmp_path / "last.html").read_text() == session  # 'last' is the newest session
    assert "class='out_of_order'" not in session and "payment" in session and "Score" in session


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is installed by .ci/run")
def test_headless_chromium_renders_the_report(saved, tmp_path):
    env, *_ = saved
    page = tmp_path / "session.html"
    assert voicedrill("report", "s2", "--html", str(page), env=env).returncode == 0
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    assert png_size(shot) == (1280, 2400)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    dark = (pixels.mean(axis=2) < 0.5).mean()
    grey = ((abs(pixels[..., 0] - 0.69) < 0.03) & (abs(pixels[..., 2] - 0.77) < 0.03)).mean()  # the timelines' energy fill
    assert 0.005 < dark < 0.5 and grey > 0.01, (dark, grey)


def test_timeline_pictures(saved, tmp_path):
    env, *_ = saved
    assert voicedrill("report", "1", "--png", str(tmp_path / "rep.png"), env=env).returncode == 0
    assert png_size(tmp_path / "rep.png") == (1200, 320)
    assert voicedrill("report", "s2", "--png", str(tmp_path / "session.png"), env=env).returncode == 0
    assert png_size(tmp_path / "session.png") == (1200, 100 + 200 * 3)
    shown = voicedrill("report", "2", env=env)
    assert shown.returncode == 0 and "Rep 2 (1st of s2)" in shown.stdout and "Score" in shown.stdout
    missing = voicedrill("report", "99", "--html", str(tmp_path / "x.html"), env=env)
    assert missing.returncode == 2 and "no rep 99" in missing.stderr and not (tmp_path / "x.html").exists()


def test_no_save_and_explicit_delete(saved, pieces, make_rep, tmp_path):
    env, home, *_ = saved
    env = {**env, "VOICEDRILL_DB": str(tmp_path / "own.db")}
    clean, _ = make_rep(pieces, "clean")
    run = voicedrill("check", str(clean), "--no-save", "--engine", "pocketsphinx", env=env)
    assert run.returncode == 0 and "saved" not in run.stderr
    assert not (tmp_path / "own.db").exists()
    assert voicedrill("check", str(clean), "--engine", "pocketsphinx", env=env).returncode == 0
    assert voicedrill("export", env=env).stdout.count("\n") == 2
    gone = voicedrill("history", "--delete", "1", env=env)
    assert gone.returncode == 0 and "deleted 1 rep" in gone.stdout
    assert voicedrill("export", env=env).stdout.count("\n") == 1
    again = voicedrill("history", "--delete", "1", env=env)
    assert again.returncode == 2 and "no rep 1" in again.stderr
