"""The history store: saving, reading back, migrating, concurrent writers, and refusing damaged files."""

from __future__ import annotations

import os
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta

import numpy as np
import pytest

from voicedrill import history
from voicedrill.analysis import analyse
from voicedrill.data import Word
from voicedrill.errors import VoicedrillError
from voicedrill.history import Session, Store
from voicedrill.progress import FIELDS, export, export_row, sparkline
from voicedrill.report import from_dict, to_dict


def sample_report(drill, gap: float = 0.3, skip: str | None = None, word_s: float = 0.3):
    """A rep from hand-made timed words: each step's line, a word every `word_s` seconds, lines `gap` seconds apart."""
    words, t = [], 0.0
    for step in drill.steps:
        if step.id == skip:
            continue
        for token in step.line.split():
            words.append(Word(token.strip(",.?!").lower(), round(t, 3), round(t + word_s - 0.03, 3)))
            t += word_s
        t += gap
    return analyse(words, drill, "fake", t + 0.5)


def test_report_survives_the_round_trip_through_json(drill):
    report = sample_report(drill, gap=1.4, skip="email")
    assert to_dict(from_dict(to_dict(report))) == to_dict(report)
    assert from_dict(json.loads(json.dumps(to_dict(report)))) == from_dict(to_dict(report))


def test_a_repeated_step_is_drawn_where_each_saying_was(drill):
    """The timeline draws a step said twice at both sayings, and each pause between the two steps
    around it, not from the first saying; a report stored before pauses kept their place still draws."""
    from matplotlib.figure import Figure
    from voicedrill.plots import draw_timeline

    words, t = [], 0.0
    for step_id in ("name", "phone", "email", "phone", "address", "notes", "payment", "handoff"):
        for token in next(s.line for s in drill.steps if s.id == step_id).split():
            words.append(Word(token.strip(",.?!").lower(), round(t, 3), round(t + 0.27, 3)))
            t += 0.3
        t += 0.4
    report = from_dict(to_dict(analyse(words, drill, "fake", t)))
    phone = next(s for s in report.steps if s.id == "phone")
    assert phone.status == "repeated" and len(phone.again) == 1
    ax = Figure().add_subplot()
    draw_timeline(ax, report, None)
    labels = [(text.get_text(), text.get_position()[0]) for text in ax.texts]
    assert [x for text, x in labels if text == "phone (again)"] == [pytest.approx(sum(phone.again[0]) / 2)]
    pause_x = sorted(x for text, x in labels if re.fullmatch(r"\d+\.\d\ds( !)?", text))
    assert pause_x == pytest.approx(sorted((p.start + p.end) / 2 for p in report.pauses))
    assert [p.start for p in report.pauses if p.to_step == "address"] == [phone.again[0][1]]
    old = to_dict(report)
    for step in old["steps"]:
        del step["again"]
    for pause in old["pauses"]:
        del pause["start"], pause["end"]
    stored_before = from_dict(old)
    first = {s.id: s for s in stored_before.steps}
    assert [(p.start, p.end) for p in stored_before.pauses] == [(first[p.from_step].end, first[p.to_step].start) for p in stored_before.pauses]
    assert not any(s.again for s in stored_before.steps)
    draw_timeline(Figure().add_subplot(), stored_before, None)


def test_step_labels_said_close_together_are_drawn_on_rows_of_their_own():
    """first-close-recovery's four short probes, said in 4 s: their names were printed on top of
    each other (found by a new user). Each label is drawn clear of the labels beside it."""
    from matplotlib.figure import Figure
    from voicedrill.drills import load_drill
    from voicedrill.plots import draw_timeline

    recovery = load_drill("first-close-recovery")
    words, t = [], 0.3
    for step in recovery.steps:
        for token in step.line.split():
            words.append(Word(token.strip(",.?!").lower(), round(t, 3), round(t + 0.22, 3)))
            t += 0.25
        t += 0.3 if step.id != "breathe" else 2.0
    figure = Figure(figsize=(12, 2.6))
    ax = figure.add_subplot()
    draw_timeline(ax, analyse(words, recovery, "fake", t + 0.5), None)
    figure.canvas.draw()
    names = {s.named for s in recovery.steps}
    boxes = [text.get_window_extent() for text in ax.texts if text.get_text() in names]
    assert len(boxes) == len(names)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_a_step_named_with_dollar_signs_is_drawn_as_written(drill):
    """A manager's step title "pay $5 or $10" came out as italic maths, and "cost $^$ check" failed
    the rep's picture and page (found by a review): names are text."""
    from dataclasses import replace as changed

    from matplotlib.figure import Figure
    from voicedrill.plots import draw_timeline, png_bytes

    titled = changed(drill, steps=(changed(drill.steps[0], title="cost $^$ check"), changed(drill.steps[1], title="pay $5 or $10"), *drill.steps[2:]))
    words, t = [], 0.3
    for step in titled.steps:
        for token in step.line.split():
            words.append(Word(token.strip(",.?!").lower(), round(t, 3), round(t + 0.27, 3)))
            t += 0.3
        t += 0.4
    figure = Figure()
    ax = figure.add_subplot()
    draw_timeline(ax, analyse(words, titled, "fake", t), None)
    assert png_bytes(figure).startswith(b"\x89PNG")
    assert "pay $5 or $10" in [text.get_text() for text in ax.texts]


def test_saved_reps_read_back_with_their_figures(tmp_path, drill):
    store = Store(tmp_path / "h.db")
    run = Session.of("drill", drill, "fake", "none")
    reports = [sample_report(drill, gap) for gap in (1.5, 0.9, 0.3)]
    levels = np.linspace(-80, -10, 200)
    ids = [store.save_rep(run, n, r, "mic", levels).rep for n, r in enumerate(reports, 1)]
    single = Session.of("check", drill, "fake", "none")
    other = store.save_rep(single, 1, sample_report(drill, skip="notes"), "/rep.wav", None, "/rep.wav").rep
    reps = store.reps()
    assert [r.id for r in reps] == [*ids, other]
    assert [r.session for r in reps] == [run.id] * 3 + [single.id] and reps[0].session_reps == 3
    for rep, report in zip(reps, reports):
        assert rep.report == from_dict(to_dict(report)) and rep.report.score == report.score
        assert rep.report.longest_pause_s == max(p.gap_s for p in rep.report.pauses)
        assert rep.pace_wpm == drill.pace_wpm and rep.max_pause_s == drill.max_pause_s
        assert np.allclose(rep.levels, levels, atol=0.26)  # half-dB steps
    assert reps[-1].levels is None and reps[-1].audio == "/rep.wav" and reps[-1].kind == "check"
    assert [r.id for r in store.reps(last=2)] == ids[2:] + [other]
    assert [r.id for r in store.reps(session=run.id)] == ids
    assert store.reps(drill="soft-to-hard") == [] and len(store.reps(drill="hard-close")) == 4
    assert store.reps(since=datetime.now().astimezone() + timedelta(minutes=1)) == []
    assert store.resolve("session", None) == ("session", single.id)
    store.close()


def test_delete_is_explicit_and_takes_empty_sessions_with_it(tmp_path, drill):
    store = Store(tmp_path / "h.db")
    run = Session.of("drill", drill, "fake", "none")
    first, second = (store.save_rep(run, n, sample_report(drill), "mic").rep for n in (1, 2))
    assert store.delete(rep=first) == 1 and [r.id for r in store.reps()] == [second]
    assert store.delete(rep=first) == 0
    assert store.delete(session=run.id) == 1 and store.reps() == []
    assert store.db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_sparkline_and_export_rows(tmp_path, drill):
    assert sparkline([1, 2, 3, None, 8]) == "▁▂▃ █" and sparkline([5, 5]) == "▅▅" and sparkline([None]) == ""
    store = Store(tmp_path / "h.db")
    report = sample_report(drill, gap=1.3, skip="address")
    store.save_rep(Session.of("check", drill, "fake", "none"), 1, report, "a.wav")
    (rep,) = store.reps()
    row = export_row(rep)
    assert list(row) == FIELDS
    assert row["score"] == report.score and row["steps_missing"] == 1 and row["flagged_pauses"] == sum(p.flagged for p in report.pauses)
    lines = export([rep], "csv").splitlines()
    assert lines[0].split(",") == FIELDS and len(lines) == 2
    assert json.loads(export([rep], "jsonl"))["report"] == to_dict(report)


def test_since_words_and_dates():
    import argparse

    from voicedrill.cli import ref, since

    now = datetime(2026, 11, 21, 15, 30).astimezone()
    assert since("today", now) == now.replace(hour=0, minute=0)
    assert since("7d", now) == now.replace(hour=0, minute=0) - timedelta(days=7)
    assert since("2w", now) == now.replace(hour=0, minute=0) - timedelta(days=14)
    assert since("2026-11-01").date().isoformat() == "2026-11-01"
    with pytest.raises(argparse.ArgumentTypeError, match="'last tuesday'"):
        since("last tuesday")
    assert ref("12") == ("rep", 12) == ref("#12")
    assert ref("s3") == ("session", 3) and ref("last") == ("session", None)
    with pytest.raises(argparse.ArgumentTypeError, match="not a rep or a session"):
        ref("rep-three")


def test_reps_saved_by_version_0_1_folders_are_imported(tmp_path, drill, monkeypatch):
    """The first open migrates: rep-NN.json folders written before the database become sessions; files stay."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    folder = history.data_dir() / "sessions" / "20261120-091500"
    folder.mkdir(parents=True)
    reports = [sample_report(drill, 1.2), sample_report(drill, 0.4)]
    for n, report in enumerate(reports, 1):
        record = {"session": folder.name, "rep": n, "saved_at": f"2026-11-20T09:1{n}:00+00:00", "drill": "hard-close",
                  "engine": "pocketsphinx, bundled en-us model", "source": "microphone", "report": to_dict(report)}
        (folder / f"rep-{n:02d}.json").write_text(json.dumps(record))
    (folder / "notes.txt").write_text("not a rep")
    (folder / "rep-03.json").write_text("{half a fi")
    store = Store()
    reps = store.reps()
    assert [(r.number, r.kind, r.report.score) for r in reps] == [(1, "imported", reports[0].score), (2, "imported", reports[1].score)]
    assert reps[0].saved_at.year == 2026 and reps[0].levels is None and reps[0].pace_wpm == drill.pace_wpm
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "rep-01.json", "rep-02.json", "rep-03.json"]
    store.close()
    assert len(Store().reps()) == 2  # once only


def test_newer_or_foreign_databases_are_refused_untouched(tmp_path):
    newer = tmp_path / "newer.db"
    Store(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(VoicedrillError, match="newer voicedrill"):
        Store(newer)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE contacts (name TEXT)")
        db.execute("INSERT INTO contacts VALUES ('Ann')")
    before = foreign.read_bytes()
    with pytest.raises(VoicedrillError, match="another program"):
        Store(foreign)
    assert foreign.read_bytes() == before


WRITER = textwrap.dedent(
    """
    import sys
    from voicedrill.analysis import analyse
    from voicedrill.data import Word
    from voicedrill.drills import load_drill
    from voicedrill.history import Session, Store

    drill = load_drill("hard-close")
    words = [Word(w.strip(",.?!").lower(), i * 0.3, i * 0.3 + 0.27) for i, w in enumerate(" ".join(s.line for s in drill.steps).split())]
    report = analyse(words, drill, "fake", len(words) * 0.3 + 1)
    store = Store()
    run = Session.of("drill", drill, "fake", sys.argv[1])
    for n in range(1, 51):
        store.save_rep(run, n, report, sys.argv[1])
    """
)


def _env() -> dict:
    return dict(os.environ)


def test_two_processes_saving_at_once_lose_nothing(tmp_path):
    env = {**_env(), history.DB_ENV: str(tmp_path / "shared.db")}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, name], env=env, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read()
    reps = Store(tmp_path / "shared.db").reps()
    assert len(reps) == 100 and len({r.id for r in reps}) == 100
    assert sorted((r.source, r.number) for r in reps) == sorted((s, n) for s in "ab" for n in range(1, 51))
    assert len({r.session for r in reps}) == 2


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(60)
    """
)


def test_a_database_locked_by_another_process_is_a_clear_error(tmp_path, drill, monkeypatch, capsys, pieces, make_rep):
    from voicedrill import cli

    clean, _ = make_rep(pieces, "clean")
    path = tmp_path / "h.db"
    Store(path).close()
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.5)
        monkeypatch.setenv(history.DB_ENV, str(path))
        for args in (["history", "--delete", "1"], ["check", str(clean), "--engine", "pocketsphinx"]):
            assert cli.main(args) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "locked by another program" in err and str(path) in err
            assert ("or use --no-save" in err) == (args[0] == "check")  # the way past it only where there is one
    finally:
        locker.kill()
        locker.wait()
    assert cli.main(["history", "--delete", "1"]) == 2  # unlocked now: the rep simply isn't there
    assert "no rep 1" in capsys.readouterr().err


def run_in_read_only(folder, prefix: list[str], *args: str, env: dict) -> subprocess.CompletedProcess:
    """voicedrill with `folder` read-only (permissions, obeyed under `prefix`); restored afterwards."""
    folder.chmod(0o555)
    try:
        return subprocess.run([*prefix, sys.executable, "-m", "voicedrill.cli", *args], capture_output=True, text=True, env=env, timeout=120)
    finally:
        folder.chmod(0o755)


def test_read_only_location(tmp_path, drill, pieces, make_rep, ordinary_user):
    clean, _ = make_rep(pieces, "clean")
    env = {**_env(), "XDG_DATA_HOME": str(tmp_path)}
    refused = run_in_read_only(tmp_path, ordinary_user, "check", str(clean), "--engine", "pocketsphinx", env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"{tmp_path} is read-only" in refused.stderr and "--no-save" in refused.stderr and "speech recogniser:" not in refused.stderr
    assert run_in_read_only(tmp_path, ordinary_user, "check", str(clean), "--engine", "pocketsphinx", "--no-save", env=env).returncode == 0
    assert list(tmp_path.iterdir()) == []
    # a history that exists can still be read from a read-only place, not written
    store = Store(tmp_path / "voicedrill" / "history.db")
    store.save_rep(Session.of("check", drill, "fake", "none"), 1, sample_report(drill), "a.wav")
    store.close()
    before = sorted(p.name for p in (tmp_path / "voicedrill").iterdir())
    shown = run_in_read_only(tmp_path / "voicedrill", ordinary_user, "export", env=env)
    assert shown.returncode == 0 and shown.stdout.count("\n") == 2, shown.stderr
    refused = run_in_read_only(tmp_path / "voicedrill", ordinary_user, "history", "--delete", "1", env=env)
    assert refused.returncode == 2 and "read-only" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in (tmp_path / "voicedrill").iterdir()) == before


def test_a_history_named_from_home_in_quotes_is_in_home(tmp_path, monkeypatch):
    """VOICEDRILL_DB="~/h.db" (quoted: the shell leaves the ~) made a folder named "~" wherever
    voicedrill ran (found by a fault attack)."""
    from voicedrill.schema import db_path

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VOICEDRILL_DB", "~/h.db")
    assert db_path() == tmp_path / "h.db"


@pytest.mark.parametrize("target, said", [(":memory:", "a history is a file"), ("file:x.db", "a history is a file"),
                                          ("mysql://x@y/z", "a history is a file"), ("~nosuchuser/x.db", "no such user's home folder")])
def test_a_history_that_is_no_file_is_refused_in_a_line(cli, tmp_path, monkeypatch, target, said):
    """":memory:" kept every rep in memory and reused its numbers at the next run; "file:x.db" was
    written where no read looked; "mysql://…" made folders; "~nosuchuser" was a traceback (found by
    a fault attack)."""
    monkeypatch.chdir(tmp_path)
    for args in (["--db", target, "history"], ["--db", target, "check", str(tmp_path / "none.wav")]):
        cli.refused(args, said)
    assert list(tmp_path.iterdir()) == []


def test_one_person_is_one_name_whatever_its_case_as_the_history_reads_it():
    """The progress page folded names one way (casefold: "Straße" as "STRASSE"), the history and the
    team database another (lower): a team page's link to Straße's reps showed STRASSE's too (found
    by a fault attack)."""
    from voicedrill.history import same_person

    assert same_person("ANA", "ana") and same_person("Émile", "ÉMILE")
    assert not same_person("Straße", "STRASSE")
