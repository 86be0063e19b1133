"""The voicedrill app in a real browser (Playwright driving Debian's chromium) and over HTTP.

The server runs in this process on a loopback port with the real pocketsphinx engine; Start plays
synthesised reps through the same live path as `voicedrill drill --input`.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import uvicorn
from starlette.testclient import TestClient

from voicedrill.app.guard import Guard
from voicedrill.app.runs import AppConfig
from voicedrill.app.server import App, asgi
from voicedrill.audio import probe
from voicedrill.synth import Piece

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if Path(p).is_file()), None)
BROKEN_DRILL = b'name = "broken"\ntitle = "Broken"\n\n[[steps]]\nid = "a"\nline = \n'
TWO_MISTAKES = b'name = "two"\ntitle = "Two"\n\n[[steps]]\nid = "Hello"\nline = "Hi."\n\n[[steps]]\nid = "name"\noptional = "no"\nline = "Who am I speaking with?"\n'
GOOD_DRILL = b'name = "team-greeting"\ntitle = "Team greeting"\n\n[[steps]]\nid = "hello"\nline = "Hi, thanks for calling."\n\n[[steps]]\nid = "name"\nline = "Who am I speaking with?"\n'


@pytest.fixture(autouse=True)
def own_history(tmp_path, monkeypatch):
    """Each test sees a history (and drills folder) of its own."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def reps(make_rep, drill) -> list[Path]:
    """Two clean reps of the hard close, with pauses long enough that every step ticks live."""
    first = [Piece(s.example_line, s.id, 0.6) for s in drill.steps]
    second = [Piece(s.example_line, s.id, 0.7) for s in drill.steps]
    return [make_rep(first, "app-rep-1")[0], make_rep(second, "app-rep-2")[0]]


@pytest.fixture(scope="module")
def server(reps):
    """The app on a free loopback port, fed by the two reps at eight times real time."""
    app = App(AppConfig([probe(r) for r in reps], speed=8.0, speech=False))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = uvicorn.Server(uvicorn.Config(asgi(app, "127.0.0.1", port), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not runner.started:
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    runner.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is needed for the app's browser tests (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    # what the page showed, in order: each step turning ok, each scorecard (a rep's ticks end there)
    tab.add_init_script("""
        window.shown = [];
        new MutationObserver((changes) => {
          for (const c of changes) {
            const el = c.target;
            if (c.attributeName === "data-state" && el.dataset.state === "ok" && c.oldValue !== "ok") window.shown.push(el.dataset.step);
            if (c.attributeName === "data-score") window.shown.push("score " + el.dataset.score);
          }
        }).observe(document, {subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-state", "data-score"]});
    """)
    yield tab
    context.close()


def wait_idle(app: App) -> None:
    deadline = time.monotonic() + 60
    while app.practice.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not app.practice.running()


def test_a_run_ticks_steps_in_order_scores_each_rep_and_lists_them(server, page, drill, monkeypatch):
    app, base = server
    monkeypatch.setattr(app.practice.config, "speed", 4.0)  # (at 8× a loaded machine let rep 3 end before Stop reached it)
    page.goto(base + "/")
    page.check("input[name=reps][value='10']")
    page.click("[data-action=start]")
    page.wait_for_selector("[data-step][data-state=current]")
    page.wait_for_function("document.querySelector('#words').textContent.trim().length > 0", timeout=30000)
    said = page.inner_text("#words").split()
    assert said[0] == "heard:" and said[1:] in [p.split() for s in drill.steps for p in s.phrases], said  # a line of the script, never raw guesses
    page.wait_for_function("document.querySelectorAll('#run table tr').length === 3", timeout=60000)  # two reps scored
    shown = page.evaluate("window.shown")
    order = [s.id for s in drill.steps]
    first = shown.index(next(s for s in shown if s.startswith("score")))
    second = shown.index(next(s for s in shown[first + 1:] if s.startswith("score")))
    # every step ticked live in order in each rep; the scorecard's verdict turns them ok once more
    assert shown[:first] == order and shown[first + 1:first + 1 + len(order)] == order, shown
    assert shown[second - len(order):second] == order, shown
    card = page.inner_text("#scorecard .score")
    assert card == f"Score {page.get_attribute('#scorecard', 'data-score')}/100"
    page.wait_for_function("window.shown.filter(s => s.startsWith('score')).length === 2 && !window.shown.at(-1).startsWith('score')", timeout=60000)
    # rep 3 under way: the last rep's one change is in the live panel, above the script (the scorecard is below it, off screen)
    focus = page.locator("#live #focus")
    assert focus.is_visible() and re.match(r"This run's rep 2 \(saved as rep \d+\) scored \d+\. Next rep: ", focus.inner_text()), focus.inner_text()
    page.click("[data-action=stop]")  # rep 3 has begun: stopped before its handoff, it is not scored; no rep 4 starts
    page.wait_for_function("document.querySelector('[data-action=start]').disabled === false", timeout=60000)
    wait_idle(app)
    assert page.inner_text("#summary") == "2 reps saved to your progress. The last rep was stopped before its last step (handoff), so it was not scored or saved."
    assert page.inner_text("main").count("First rep ") == 1  # under the run's table, not again below it (found by a new user)
    # the unscored rep 3's ticks and words go: the script shows rep 2's verdicts, beside its scorecard (found by a new user)
    assert page.eval_on_selector_all("[data-step]", "els => els.map(e => e.dataset.state)") == ["ok"] * len(drill.steps)
    assert page.inner_text("#words") == ""
    page.goto(base + "/history")
    assert page.get_attribute("table.reps", "data-reps") == "2"
    assert [page.get_attribute(f"tr[data-rep='{n}'] td:first-child a", "href") for n in (1, 2)] == ["/rep/1", "/rep/2"]
    page.click("tr[data-rep='2'] td:first-child a")
    assert "Score" in page.inner_text("article.report")
    for chart in page.query_selector_all("figure img"):
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0")


@pytest.mark.parametrize("size", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}])
def test_the_line_to_say_and_then_the_score_are_on_screen_on_a_laptop_and_a_phone(server, browser, size):
    """On a laptop the last steps of the script, and the score after the rep, were below the fold;
    on a phone, the step to say next (found by a new user). The step to say is scrolled to as the
    rep goes, the score when the run ends."""
    app, base = server
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.add_init_script("""
        window.offScreen = [];
        new MutationObserver((changes) => {
          for (const c of changes) {
            const box = c.target.getBoundingClientRect();
            if (c.target.dataset.state === "current" && (box.top < 0 || box.bottom > innerHeight)) window.offScreen.push(c.target.dataset.step);
          }
        }).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-state"]});
    """)
    page.goto(base + "/")
    page.click("[data-action=start]")
    page.wait_for_function("document.querySelector('[data-action=start]').disabled === false && document.querySelector('#scorecard').dataset.score", timeout=60000)
    wait_idle(app)
    page.wait_for_timeout(200)  # (the scroll after the run's end)
    assert page.evaluate("window.offScreen") == []
    top = page.evaluate("document.querySelector('#scorecard .score').getBoundingClientRect().top")
    assert 0 <= top < size["height"] / 2, top
    context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_a_table_or_chart_wider_than_a_phone_says_to_swipe(server, browser, drill, monkeypatch, width):
    """On a phone the reps table and the charts scroll sideways, and nothing said so: the columns
    past the edge looked missing (found by a new user). A line above each says to swipe; on a
    laptop, where all of it shows, there is none."""
    from test_history import sample_report

    from voicedrill.history import Session, Store

    store = Store()
    for number in (1, 2):
        store.save_rep(Session.of("drill", drill, "fake", "none"), number, sample_report(drill), "mic")
    store.close()
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    page.goto(server[1] + "/history")
    page.wait_for_load_state("load")
    page.wait_for_timeout(100)
    shown = page.locator(".swipe:visible")
    if width > 1000:
        assert shown.count() == 0
    else:
        assert shown.count() == 3 and "Swipe sideways" in shown.first.inner_text()  # the two charts and the table
        assert page.evaluate("[...document.querySelectorAll('.swipe')].every(h => h.nextElementSibling.scrollWidth > h.nextElementSibling.clientWidth)")
    context.close()


@pytest.mark.parametrize("where", ["app", "exported"])
def test_the_team_table_on_a_phone_is_a_card_a_person_with_every_figure_named(server, browser, drill, tmp_path, where):
    """At 390 px the Team table put "time" and "fix first" a swipe away (found by a manager): on a
    phone each person is a card, every figure named and on screen; on a laptop it is a table. The
    same in the app and on the page `voicedrill team --html` writes."""
    from datetime import datetime

    from test_history import sample_report

    from voicedrill.history import Session, Store
    from voicedrill.team import team_rows
    from voicedrill.webpage import team_page

    store = Store()
    for name in ("ana", "bernadette"):
        store.save_rep(Session.of("drill", drill, "fake", "none", name), 1, sample_report(drill), "mic")
    reps = store.team_reps()
    store.close()
    exported = tmp_path / "team.html"
    exported.write_text(team_page(team_rows(reps, datetime.now().astimezone()), reps), encoding="utf-8")
    for width in (390, 1366):
        context = browser.new_context(viewport={"width": width, "height": 844})
        page = context.new_page()
        page.goto(server[1] + "/team" if where == "app" else exported.as_uri())
        cells = page.locator(".team td")
        assert cells.count() == 16
        right = page.evaluate("Math.max(...[...document.querySelectorAll('.team td')].map(td => td.getBoundingClientRect().right))")
        labels = page.evaluate("[...document.querySelectorAll('.team td')].map(td => getComputedStyle(td, '::before').content)")
        if width < 600:
            assert right <= width and page.locator(".team th").first.is_hidden()
            assert labels[6:8] == ['"time: "', '"fix first: "'] and labels[0] in ("none", "normal")  # the name heads the card
        else:
            assert page.locator(".team th").first.is_visible() and set(labels) <= {"none", "normal"}
        context.close()


def test_space_bar_starts_and_stops_a_rep(server, page, monkeypatch):
    app, base = server
    # at 2x the handoff line still plays for a second after it ticks: the second press finds the rep under way
    # (at 8x the recording could end first, and that press would start another rep)
    monkeypatch.setattr(app.config, "speed", 2.0)
    page.goto(base + "/")
    page.keyboard.press(" ")
    page.wait_for_selector("[data-step=handoff][data-state=ok]", timeout=30000)
    page.keyboard.press(" ")
    page.wait_for_selector("#scorecard[data-score]", timeout=30000)
    wait_idle(app)
    assert page.is_enabled("[data-action=start]") and page.is_disabled("[data-action=stop]")
    assert page.get_attribute("#scorecard", "data-rep") == "1"  # stopped after its handoff: the rep was scored and kept


def test_nothing_heard_is_asked_about_live_then_named_and_nothing_is_saved(server, page, tmp_path, monkeypatch):
    """A rep with no voice in it (a muted microphone; here a silent recording): the meter asks
    whether the microphone is on; at the end the run says what happened, and no score-0 rep goes
    into the progress. The same silence uploaded for a check is refused in the same words."""
    app, base = server
    silent = tmp_path / "muted.wav"
    sf.write(str(silent), np.zeros(16000 * 7, dtype=np.int16), 16000)
    monkeypatch.setattr(app.config, "inputs", [probe(silent)])
    monkeypatch.setattr(app.config, "speed", 2.0)
    page.goto(base + "/")
    page.click("[data-action=start]")
    page.wait_for_selector("#meter[data-unheard=true]", timeout=30000)
    assert page.inner_text("#meter-text") == "nothing heard yet: is the microphone on?"
    page.wait_for_function("document.querySelector('[data-action=start]').disabled === false", timeout=30000)
    wait_idle(app)
    assert page.inner_text("#notice") == f"rep 1 ({silent}): no word was heard clearly in 7 s, so nothing was scored or saved; is it a recording of the drill said out loud?"
    assert page.get_attribute("#meter", "data-unheard") == "false"
    page.goto(base + "/check")
    with page.expect_navigation():
        page.set_input_files("input[name=file]", str(silent))
    assert page.inner_text(".problem") == "muted.wav: no word was heard clearly in 7 s, so nothing was scored or saved; is it a recording of the drill said out loud?"
    page.goto(base + "/history")
    assert "No reps yet." in page.inner_text("main")


def test_a_recording_dropped_on_the_check_page_gets_its_scorecard(server, page, reps):
    app, base = server
    page.goto(base + "/check")
    with page.expect_navigation():
        page.set_input_files("input[name=file]", str(reps[0]))
    assert page.url.endswith("/rep/1")
    assert "Score" in page.inner_text("article.report")
    page.goto(base + "/check")
    with page.expect_navigation():
        page.set_input_files("input[name=file]", files=[{"name": "notes.wav", "mimeType": "audio/wav", "buffer": b"not audio at all"}])
    assert "notes.wav: not a readable audio file" in page.inner_text(".problem")


def test_a_broken_drill_upload_shows_its_line_and_a_good_one_can_be_practised(server, page):
    app, base = server
    page.goto(base + "/drills")
    page.set_input_files("input[name=file]", files=[{"name": "mine.toml", "mimeType": "text/plain", "buffer": BROKEN_DRILL}])
    page.click("button[type=submit]")
    assert page.inner_text("[data-error=drill]").startswith("mine.toml:6: invalid TOML")
    assert page.inner_text("[data-error=drill] code").strip() == BROKEN_DRILL.decode().splitlines()[5].strip()  # the line itself, as written
    page.set_input_files("input[name=file]", files=[{"name": "two.toml", "mimeType": "text/plain", "buffer": TWO_MISTAKES}])
    page.click("button[type=submit]")
    assert page.inner_text("[data-error=drill]").startswith("2 mistakes in this file")
    assert [li.inner_text().splitlines()[0] for li in page.query_selector_all("[data-error=drill] li")] == [
        "two.toml:5: step 1, id: 'Hello' must be lower-case letters, digits, - or _", "two.toml:10: step 2, optional: must be true or false, not 'no'"]
    assert [c.inner_text() for c in page.query_selector_all("[data-error=drill] code")] == ['id = "Hello"', 'optional = "no"']
    page.click("text=how to write one")
    assert "A drill is a TOML file" in page.inner_text(".guide")
    # the guide as a page, not its Markdown: the step fields' table is a table (it showed "| field | meaning |")
    assert page.locator(".guide table th").first.inner_text() == "field" and "| field |" not in page.inner_text(".guide")
    page.goto(base + "/drills")
    page.set_input_files("input[name=file]", files=[{"name": "greeting.toml", "mimeType": "text/plain", "buffer": GOOD_DRILL}])
    page.click("button[type=submit]")
    assert page.url.endswith("/drills/team-greeting?added=1")
    assert "Drill “Team greeting” checked and added" in page.inner_text("[role=status]")  # by its title, as the drills list shows it
    # what a rep will be told, read on the page (it took `voicedrill drills show NAME --tips` in a terminal)
    page.click("#tips summary")
    told = page.inner_text("#tips")
    assert "Who am I speaking with?" in told and "Too slow" in told and "Nothing of the drill heard" in told
    page.click("text=Practise this drill")
    page.wait_for_selector("[data-step='hello']")
    assert page.eval_on_selector("#drill", "s => s.value") == "team-greeting"
    assert page.eval_on_selector_all("[data-step]", "els => els.map(e => e.dataset.step)") == ["hello", "name"]


def test_uploading_a_drill_of_the_same_name_keeps_the_earlier_one(client, tmp_path):
    """An upload replaced a manager's edited drill of the same name with no trace (found by a new
    user): the earlier file is kept beside it, under a name no drill list reads, and the page says where."""
    folder = tmp_path / "data" / "voicedrill" / "drills"
    first = client.post("/drills", files={"file": ("greeting.toml", GOOD_DRILL, "text/plain")}, follow_redirects=False)
    assert first.headers["location"] == "/drills/team-greeting?added=1"
    edited = GOOD_DRILL.replace(b"Hi, thanks for calling.", b"Hello, thanks for calling.")
    second = client.post("/drills", files={"file": ("greeting.toml", edited, "text/plain")})
    (earlier,) = folder.glob("team-greeting.toml.*.earlier")
    assert earlier.read_bytes() == GOOD_DRILL and (folder / "team-greeting.toml").read_bytes() == edited
    assert f"which is kept as {earlier.name} in your drills folder, {folder}." in " ".join(second.text.split())
    assert [p.name for p in folder.glob("*.toml")] == ["team-greeting.toml"]  # (the drills list reads only these)
    again = client.post("/drills", files={"file": ("greeting.toml", edited, "text/plain")}, follow_redirects=False)
    assert again.headers["location"].endswith("added=1") and len(list(folder.glob("*.earlier"))) == 1  # the same file again: nothing to keep


def test_the_api_check_answers_what_check_json_prints_and_where_the_rep_went(server, reps, cli, tmp_path, monkeypatch):
    app, base = server
    client = TestClient(asgi(app), base_url="http://127.0.0.1:8000")
    with open(reps[1], "rb") as f:
        answer = client.post("/api/check", files={"file": ("rep.wav", f, "audio/wav")}, data={"drill": "hard-close"})
    assert answer.status_code == 200
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "other"))  # the same empty history as the app had
    code, out, _ = cli("check", reps[1], "--json")
    checked = answer.json()
    assert code == 0 and checked.pop("saved") == {"rep": 1, "waiting": None} and checked == json.loads(out)


def test_a_check_while_another_is_checked_is_told_so_not_that_a_run_is_under_way(server, client, reps):
    """Six checks at once: the five refused were each told a practice run was under way (found by
    a fault attack)."""
    app, _ = server
    assert app.practice._busy.acquire(blocking=False)  # as a check under way holds the engine
    app.practice._checking = True
    try:
        with open(reps[1], "rb") as f:
            answer = client.post("/api/check", files={"file": ("rep.wav", f, "audio/wav")})
        started = client.post("/api/start", data={"drill": "hard-close", "reps": "1", "source": "file"})
    finally:
        app.practice._checking = False
        app.practice._busy.release()
    assert answer.status_code == 409 and answer.json()["error"] == "another recording is being checked: try again when it is done"
    assert started.status_code == 409 and started.json()["error"] == "another recording is being checked: try again when it is done"


def test_a_recording_the_disk_has_no_room_for_is_refused_without_the_servers_folders(client, reps, monkeypatch):
    """On a full disk the refusal named the app's uploads folder and "the old file" of a file the
    rep never had (found by a fault attack)."""
    import errno

    from voicedrill import files

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with open(reps[1], "rb") as f:
        answer = client.post("/api/check", files={"file": ("rep.wav", f, "audio/wav")})
    assert answer.status_code == 400 and answer.json()["error"] == "cannot keep the recording on this computer (the disk is full)"


def test_a_locked_history_is_said_in_the_apps_words(client, reps, tmp_path, monkeypatch):
    """A history another program holds: the app says so and to try again, not a command-line option."""
    from voicedrill import history

    path = tmp_path / "h.db"
    history.Store(path).close()
    locker = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
                               "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.3)
        monkeypatch.setenv(history.DB_ENV, str(path))
        with open(reps[0], "rb") as f:
            checked = client.post("/api/check", files={"file": ("rep.wav", f, "audio/wav")})
        started = client.post("/api/start", data={"reps": "1", "source": "file", "drill": "hard-close"})  # answered 400 before
        monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 20.0)
        stopped = threading.Thread(target=lambda: (time.sleep(1.0), client.post("/api/stop")))
        stopped.start()  # Stop while Start waits on it: answered at once (Start waited the lock out: found by a fault attack)
        asked = time.monotonic()
        cut = client.post("/api/start", data={"reps": "1", "source": "file", "drill": "hard-close"})
        took = time.monotonic() - asked
        stopped.join()
    finally:
        locker.kill()
        locker.wait()
    for answer in (checked, started):
        error = answer.json()["error"]
        assert answer.status_code == 409 and "locked by another program" in error and error.endswith("try again when it is done") and "--" not in error
    assert cut.status_code == 409 and cut.json()["error"].startswith("stopped before the run began") and took < 5, (cut.text, took)
    ends = time.monotonic() + 30
    while client.get("/api/status").json()["running"] and time.monotonic() < ends:  # (its thread gives the engine back once the lock is free)
        time.sleep(0.1)
    assert not client.get("/api/status").json()["running"]


@pytest.fixture(scope="module")
def client(server) -> TestClient:
    return TestClient(asgi(server[0]), base_url="http://127.0.0.1:8000")


@pytest.mark.parametrize("headers", [{"Host": "evil.example:8000"}, {"Host": "127.0.0.1:9999"}, {"Origin": "http://evil.example"}, {"Origin": "null"}])
def test_a_foreign_host_or_origin_is_refused(client, headers):
    for method, path in (("GET", "/"), ("POST", "/api/start"), ("POST", "/api/check"), ("GET", "/history")):
        answer = client.request(method, path, headers=headers)
        assert answer.status_code == 403 and "Traceback" not in answer.text


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py", "/static/%2e%2e%2f%2e%2e%2fhistory.py",
                                  "/rep/abc", "/nosuch", "/rep/999", "/history/hard-close/../../etc.png", "/export.sh",
                                  "/rep/99999999999999999999", "/session/99999999999999999999", "/rep/99999999999999999999/delete"])
def test_nothing_outside_the_apps_own_files_is_served(client, path):
    answer = client.get(path)
    assert answer.status_code == 404 and "import" not in answer.text and "Traceback" not in answer.text


def test_oversized_and_non_audio_uploads_get_a_clear_4xx(server, tmp_path):
    app, _ = server
    small = TestClient(Guard(asgi(app).app, {"127.0.0.1:8000"}, max_body=1000), base_url="http://127.0.0.1:8000")
    big = small.post("/api/check", files={"file": ("big.wav", b"\0" * 5000, "audio/wav")})
    assert big.status_code == 413 and "too large" in big.text

    def chunks():
        for _ in range(10):
            yield b"\0" * 500

    streamed = small.post("/api/check", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413
    client = TestClient(asgi(app), base_url="http://127.0.0.1:8000")
    for upload in ({"file": ("x.wav", b"RIFF1234WAVEjunk", "audio/wav")}, {"file": ("song.mp3", b"ID3\x03" + b"\0" * 400, "audio/mpeg")}):
        answer = client.post("/api/check", files=upload)
        assert answer.status_code == 400 and set(answer.json()) == {"error"} and "Traceback" not in answer.text
    assert "convert it to WAV or FLAC" in answer.json()["error"] or "MP3" in answer.json()["error"]
    assert client.post("/api/check", data={"drill": "hard-close"}).json() == {"error": "choose a recording (WAV, FLAC or OGG) to check"}
    assert client.post("/api/check", files={"file": ("a.wav", b"RIFF", "audio/wav")}, data={"drill": "no-such"}).status_code == 400
    page = client.post("/check", files={"file": ("x.wav", b"junk", "audio/wav")})
    assert page.status_code == 400 and "x.wav: not a readable audio file" in page.text and "<html" in page.text


def test_deleting_asks_first_then_the_rep_is_gone(server, reps):
    app, _ = server
    client = TestClient(asgi(app), base_url="http://127.0.0.1:8000")
    with open(reps[0], "rb") as f:
        assert client.post("/check", files={"file": ("rep.wav", f, "audio/wav")}, follow_redirects=False).headers["location"] == "/rep/1"
    asked = client.get("/rep/1/delete").text
    assert "Delete rep 1?" in asked and "1 rep of" in asked and "Its number is not used again" in asked
    assert client.get("/rep/1").status_code == 200  # asking deletes nothing
    assert "not yours" not in asked and "from your progress" in asked
    done = client.post("/rep/1/delete", follow_redirects=False)
    assert done.status_code == 303
    assert "Rep 1 (The hard close sequence) deleted from the history." in client.get(done.headers["location"]).text  # said once done (it said nothing)
    assert client.get("/rep/1").status_code == 404
    assert client.get("/export.csv").text.count("\n") == 1  # the header only
    assert "Rep 1 (" not in client.get(done.headers["location"]).text  # said once: a reload does not say it again
    assert "deleted from" not in client.get("/history?deleted=rep-9&count=1&whose=Your+manager").text  # (only what the app itself wrote is said)


def test_deleting_another_persons_rep_on_a_shared_history_says_whose_it_is(client, drill, monkeypatch):
    """On a history several people share (a team database), anyone's rep can be deleted from the
    app: the page asked "Delete rep 2?" as if it were the rep's own. It names whose it is."""
    from test_history import sample_report

    from voicedrill.history import Session, Store

    monkeypatch.setenv("VOICEDRILL_USER", "maria")
    store = Store()
    for user in ("maria", "ana"):
        store.save_rep(Session.of("drill", drill, "fake", "none", user), 1, sample_report(drill), "mic")
    store.close()
    own, theirs = (html.unescape(client.get(f"/rep/{n}/delete").text) for n in (1, 2))
    assert "not yours" not in own and "from your progress" in own
    assert "This is ana's rep, not yours." in theirs and "from ana's progress" in theirs and "Delete ana's rep</button>" in theirs
    asked = client.get("/rep/2/delete", headers={"Referer": "http://127.0.0.1:8000/history?who=ana&drill=hard-close"}).text
    assert '<input type="hidden" name="back" value="/history?who=ana&amp;drill=hard-close">' in asked
    done = client.post("/rep/2/delete", data={"back": "/history?who=ana&drill=hard-close"}, follow_redirects=False)
    assert done.headers["location"].startswith("/history?who=ana&drill=hard-close&deleted=")  # back to the list it was asked from
    assert "Rep 2 (ana's, The hard close sequence) deleted from the history." in html.unescape(client.get(done.headers["location"]).text)
    assert client.get("/rep/1/delete", headers={"Referer": "http://[oops/history"}).status_code == 200  # (no address: a 500 and a traceback)
    elsewhere = client.post("/rep/1/delete", data={"back": "https://elsewhere.example/history"}, follow_redirects=False)
    assert elsewhere.headers["location"].startswith("/history?deleted=")  # never a page of somewhere else


def test_stopping_the_app_hurries_the_history_of_a_run_or_check_under_way(monkeypatch):
    """The app's stop hurried only a run's history: a check reading its targets from a team server
    that stopped answering held the stop past WIND_DOWN_S (found by a review). Whatever history is
    open for the work under way is hurried, and one opened after the stop began is too."""
    from voicedrill.app import runs

    class Opened:
        hurried = False

        def hurry(self) -> None:
            self.hurried = True

    monkeypatch.setattr(runs.history, "open_store", lambda offline: Opened())
    practice = App(AppConfig([], speech=False)).practice
    checking = practice._opened()  # (as a check, or a run, opens it)
    assert not checking.hurried
    assert practice.wind_down(0.1) and checking.hurried
    assert practice._opened().hurried  # opened while the app stops


def test_each_start_plays_the_next_recording(reps):
    """`app --input a.wav --input b.wav`: one rep per Start plays a, then b (it played a every time), then a again."""
    practice = App(AppConfig([probe(r) for r in reps], speech=False)).practice
    played = [practice.sources("file")(1).name for _ in range(3)]
    assert played == [str(probe(r).path) for r in (reps[0], reps[1], reps[0])]


def test_start_is_refused_in_words_when_it_cannot_run(server):
    app, _ = server
    client = TestClient(asgi(app), base_url="http://127.0.0.1:8000")
    assert client.post("/api/start", data={"drill": "no-such"}).status_code == 400
    mic = client.post("/api/start", data={"source": "0"})
    assert mic.status_code == 400 and "no usable microphone" in mic.json()["error"]


def _app_with_a_history(rep: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`voicedrill app` fed `rep` as fast as it goes, on a history file of its own (made): the process and the file."""
    from voicedrill.history import Store

    data = tmp_path / "data"
    db = data / "voicedrill" / "history.db"
    db.parent.mkdir(parents=True)
    Store(db).close()
    process = subprocess.Popen([sys.executable, "-m", "voicedrill.cli", "app", "--no-browser", "--engine", "pocketsphinx", "--input", str(rep),
                                "--speed", "0", "--no-speech"], stderr=subprocess.PIPE, text=True, env=os.environ | {"XDG_DATA_HOME": str(data)})
    return process, db


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_stopping_the_app_keeps_the_rep_whose_audio_is_over(reps, tmp_path, signum):
    """Ctrl-C while a rep's audio is over and it waits for a locked history: the app's run thread
    went with the process, and the rep was nowhere (found by a fault attack). It is kept first. So
    it is when the terminal closes (SIGHUP: it was lost, with a traceback)."""
    from voicedrill.history import Store

    process, db = _app_with_a_history(reps[0], tmp_path)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        url = [process.stderr.readline() for _ in range(2)][1].split()[2]
        host = url[7:-1]
        with socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1])), timeout=60) as stream:
            stream.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            with socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1]))) as start:
                form = "reps=10&source=file&drill=hard-close"
                start.sendall(f"POST /api/start HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                              f"Content-Length: {len(form)}\r\nConnection: close\r\n\r\n{form}".encode())
                assert start.recv(100).startswith(b"HTTP/1.1 202")
            said, stream_ends = b"", time.monotonic() + 60
            for awaited in (b'"rep_start"', b'"rep_end"'):
                while awaited not in said and b'"run_end"' not in said and time.monotonic() < stream_ends:
                    said += stream.recv(65536)
                assert awaited in said, said[-2000:]
                if awaited == b'"rep_start"':
                    holder.execute("BEGIN IMMEDIATE")  # another program writing: the rep's save will wait its turn
            process.send_signal(signum)
            time.sleep(1.0)
            holder.execute("ROLLBACK")
            assert process.wait(60) == 128 + signum
            told = process.stderr.read()
    finally:
        holder.close()
        process.kill()
    assert "voicedrill app: 1 rep saved to your progress" in told and "Traceback" not in told, told  # where it went, said as the app stops
    kept = Store(db, write=False)
    assert len(kept.reps()) == 1
    kept.close()


def test_stopping_the_app_while_start_waits_on_a_locked_history_is_quick(reps, tmp_path):
    """Ctrl-C while Start waits for a history another program holds: nothing has been heard, so the
    app stops at once and Start is answered why (it took 10 s, and Start's answer was cut off)."""
    process, db = _app_with_a_history(reps[0], tmp_path)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        host = [process.stderr.readline() for _ in range(2)][1].split()[2][7:-1]
        holder.execute("BEGIN EXCLUSIVE")
        with socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1])), timeout=30) as start:
            form = "reps=1&source=file&drill=hard-close"
            start.sendall(f"POST /api/start HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                          f"Content-Length: {len(form)}\r\nConnection: close\r\n\r\n{form}".encode())
            time.sleep(1.0)
            asked = time.monotonic()
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 130
            took = time.monotonic() - asked
            answer = start.recv(1000).decode()
        told = process.stderr.read()
    finally:
        holder.close()
        process.kill()
    assert took < 5, took
    assert answer.startswith("HTTP/1.1 409") and "the app stopped before the run could begin" in answer, answer
    assert "Traceback" not in told and "ERROR" not in told, told


def test_voicedrill_app_serves_on_loopback_and_refuses_bad_options(reps, cli, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "voicedrill.cli", "app", "--no-browser", "--engine", "pocketsphinx", "--input", str(reps[0])],
                               stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stderr.readline() for _ in range(2)]
        url = lines[1].split()[2]
        assert url.startswith("http://127.0.0.1:"), lines
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(f"GET / HTTP/1.1\r\nHost: {url[7:-1]}\r\nConnection: close\r\n\r\n".encode())
            assert conn.recv(100).startswith(b"HTTP/1.1 200")
        # Ctrl-C with a page open (its live stream held open): the app stops in a line, no traceback (found by a fault attack)
        with socket.create_connection(("127.0.0.1", port)) as stream:
            stream.sendall(f"GET /api/events HTTP/1.1\r\nHost: {url[7:-1]}\r\n\r\n".encode())
            opened = b""
            while b"voicedrill live" not in opened:
                opened += stream.recv(1000)
            process.send_signal(signal.SIGINT)
            assert process.wait(10) == 130
        said = process.stderr.read()
        assert "Traceback" not in said and "ERROR" not in said and said.strip() == "voicedrill: interrupted", said
    finally:
        process.terminate()
        process.wait(10)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cli.refused(["app", "--no-browser", "--port", taken.getsockname()[1]], "already in use")
    cli.refused(["app", "--no-browser", "--input", tmp_path / "none.wav"], "none.wav")
    cli.refused(["app", "--no-browser", "--host", "no-such-host.invalid"], "no such address")


def test_the_team_page_shows_each_person(server, reps, monkeypatch):
    app, _ = server
    client = TestClient(asgi(app), base_url="http://127.0.0.1:8000")
    assert "No reps saved yet" in client.get("/team").text
    for name in ("ana", "ben"):
        monkeypatch.setenv("VOICEDRILL_USER", name)
        with open(reps[0], "rb") as f:
            client.post("/api/check", files={"file": ("rep.wav", f, "audio/wav")})
    page = client.get("/team?drill=hard-close").text
    assert 'src="/team.png?drill=hard-close"' in page
    # each name opens that person's progress on the drill (a manager had to find it in the progress page's picker)
    monkeypatch.setenv("VOICEDRILL_USER", "carla")  # the manager
    for name in ("ana", "ben"):
        link = f"/history?drill=hard-close&amp;who={name}"
        assert f"<td data-label='person'><a href='{link}'>{name}</a></td>" in page
        theirs = client.get(link.replace("&amp;", "&")).text
        assert f"<h1>{name}'s progress</h1>" in theirs and 'data-reps="1"' in theirs, theirs  # their one rep
    assert client.get("/team.png?drill=hard-close").content[:4] == b"\x89PNG"
    # a drill by its title, as the practice page names it, not its file name (found by a new user)
    assert "Team practice — The hard close sequence" in page
    progress = client.get("/history").text
    assert "<h2>The hard close sequence <small" in progress
    assert "<th>drill</th>" not in progress  # one drill: its title heads the charts, not every row (wrapped in three lines at 390 px)


def test_a_manager_deletes_every_rep_of_one_who_left_after_asking(server, page, drill, monkeypatch):
    """No way to remove one who left but rep by rep (found by a new user): from their progress page,
    asked first, every rep of theirs goes, in every drill; nobody else's; the team page says so."""
    from test_history import sample_report

    from voicedrill.history import Session, Store

    _, base = server
    monkeypatch.setenv("VOICEDRILL_USER", "carla")  # the manager
    store = Store()
    for user in ("carla", "ben", "ana", "Ben"):
        store.save_rep(Session.of("drill", drill, "fake", "none", user), 1, sample_report(drill), "mic")
    store.close()
    page.goto(f"{base}/team")
    page.click("text=ben")
    page.click("[data-action=delete-person]")
    asked = page.inner_text("main")
    assert "Delete every rep of ben?" in asked and "2 reps of The hard close sequence" in asked and "from ben's progress for good" in asked
    assert Store().count(user="ben") == 2  # asking deletes nothing
    page.click("[data-action=confirm-delete]")
    page.wait_for_url(f"{base}/team?deleted=*")
    assert "Every rep of ben (2 reps) deleted from the history." in page.inner_text("[data-deleted]")
    assert page.locator(".team a", has_text="ben").count() == 0 and page.locator(".team a", has_text="ana").count() == 1
    assert [r.user for r in Store().reps()] == ["carla", "ana"]
    client = TestClient(asgi(server[0]), base_url="http://127.0.0.1:8000")
    assert client.post("/person/delete", data={"who": "ben"}).status_code == 404  # already gone: said, nothing else touched
    for whose in ("carla", "CARLA"):  # one's own page offers no "left the team", however the name is written
        assert "(you are asked first)" not in client.get(f"/history?who={whose}").text
    blank = client.get("/person/delete?who=")
    assert blank.status_code == 404 and "Choose whose reps to delete" in blank.text and "nobody" not in blank.text
    assert "x" * 1000 not in client.post("/person/delete", data={"who": "x" * 100_000}).text  # (a name is never echoed back whole)
    # damaged reps are counted on the page, as the delete takes them; one whose every rep is damaged can go too (found by an attack)
    store = Store()
    for user in ("dora", "dora", "zed"):
        store.save_rep(Session.of("drill", drill, "fake", "none", user), 1, sample_report(drill), "mic")
    store.db.execute("UPDATE reps SET report = '{broken' WHERE id IN (SELECT max(id) FROM reps UNION SELECT max(id) - 1 FROM reps)")
    store.db.commit()
    store.close()
    dora = " ".join(html.unescape(client.get("/person/delete?who=dora").text).split())
    assert "2 reps of <b>The hard close sequence</b> from " in dora and "(1 damaged: it cannot be shown, and goes too)" in dora and "Delete dora's reps" in dora
    assert "Delete every rep of zed" in client.get("/history?who=zed").text
    zed = " ".join(html.unescape(client.get("/person/delete?who=zed").text).split())
    assert "1 rep (1 damaged: it cannot be shown, and goes too) will be removed" in zed
    assert "Every rep of zed (1 rep) deleted" in html.unescape(client.post("/person/delete", data={"who": "zed"}).text)


def test_a_shared_historys_pages_keep_each_persons_reps_apart(client, drill, monkeypatch):
    """Found by a manager: a rep page's "All reps of this drill" led to one's own progress, not the
    rep's person's; everyone's progress told one trend from ana's first rep to dev's last; a rushed
    rep's pace was plain black beside a red pause too long."""
    from dataclasses import replace

    from test_history import sample_report

    from voicedrill.history import Session, Store

    monkeypatch.setenv("VOICEDRILL_USER", "carla")
    store = Store()
    for user, score in (("ana", 100), ("ana", 85), ("dev", 100), ("ana", 100)):
        store.save_rep(Session.of("drill", drill, "fake", "none", user), 1, replace(sample_report(drill), score=score), "mic")
    store.close()
    assert 'href="/history?drill=hard-close&amp;who=ana" data-action="all-reps">All of ana&#39;s reps of this drill' in client.get("/rep/1").text
    everyone = client.get("/history?who=&drill=hard-close").text
    assert 'class="summary"' not in everyone  # several people's reps: no one trend
    ana = html.unescape(client.get("/history?who=ana&drill=hard-close").text)
    assert "First rep 100 → last rep 100; best: rep 1 (100); back to 100 after a dip to 85 (rep 2)" in ana
    rushed = sample_report(drill)
    rushed = replace(rushed, score_parts=tuple(replace(p, points=p.max_points - 5) if p.name == "pace" else p for p in rushed.score_parts))
    store = Store()
    store.save_rep(Session.of("drill", drill, "fake", "none", "dev"), 2, rushed, "mic")
    store.close()
    row = client.get("/history?who=dev").text.split('<tr data-rep="5">')[1].split("</tr>")[0]
    assert row.count('class="n flagged"') == 1 and f'class="n flagged">{rushed.pace.speech_wpm:.0f}<' in row


def test_two_drills_with_one_title_are_told_apart_by_name(client, drill):
    """A manager's copy of the hard close under another name showed as a second "The hard close
    sequence" in the pickers, with no way to tell which (found by a new user)."""
    from voicedrill.drills import user_drills_dir

    folder = user_drills_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shipped = (Path(__file__).parents[1] / "drills" / "hard-close.toml").read_text()
    (folder / "team-close.toml").write_text(shipped.replace('name = "hard-close"', 'name = "team-close"'))
    for page in ("/", "/check"):
        text = client.get(page).text
        assert f">{drill.title} (hard-close)</option>" in text and f">{drill.title} (team-close)</option>" in text, page
        assert ">Micro-commitments: the two questions</option>" in text  # a title of its own stays as it is


def test_a_drill_page_says_its_required_pause_and_steps_in_any_order(client):
    """The drill page said "at most 1.5 s" and nothing of the breath first-close-recovery requires (found by a new user)."""
    page = client.get("/drills/first-close-recovery").text
    assert "take a pause of at least 1.5 seconds before it" in page and "in any order with asking if it&#39;s you, asking about the company, asking about timing" in page
    assert "The steps in the order written" in page and "Speaking pace 120–190 words a minute" in page


def test_only_drill_names_are_taken_never_paths(client, tmp_path):
    for value in ("/etc/passwd", "../../etc/passwd", "~", "hard-close.toml", "x" * 300):
        answer = client.post("/api/start", data={"drill": value})
        assert answer.status_code == 400 and "no drill named" in answer.json()["error"] and "root" not in answer.text
        assert client.post("/api/check", files={"file": ("a.wav", b"RIFF", "audio/wav")}, data={"drill": value}).status_code == 400
    assert client.get("/drills/~").status_code == 404 and "/root" not in client.get("/drills/~").text


@pytest.mark.parametrize("field, value", [("reps", "abc"), ("reps", "-5"), ("customer", "yes"), ("source", "../.."), ("source", "9" * 25)])
def test_a_bad_form_value_is_named(client, field, value):
    answer = client.post("/api/start", data={field: value})
    assert answer.status_code == 400 and answer.json()["error"].startswith(f"{field}=")


@pytest.mark.parametrize("asked", ["✓", "a\r\nX-Evil: 1", "%ff"])
def test_an_export_of_a_name_no_drill_can_have_is_refused_in_words(client, asked):
    """A drill name outside ASCII was a 500, one with a line break a dropped connection (found by a
    fault attack): it names no drill, and is said so."""
    answer = client.get("/export.csv", params={"drill": asked})
    assert answer.status_code == 400 and "x-evil" not in answer.headers and "no drill named" in answer.text
    assert client.get("/export.csv", params={"drill": "hard-close"}).headers["content-disposition"].startswith('attachment; filename="voicedrill-hard-close-')
    # one person's reps are named so (two people's downloads had one name: found by a new user)
    named = client.get("/export.csv", params={"drill": "hard-close", "who": "Émile O'Neil\"; x"}).headers["content-disposition"]
    assert named.startswith('attachment; filename="voicedrill-Emile-O-Neil-x-hard-close-') and named.count('"') == 2


def test_a_drill_file_of_a_long_name_in_any_script_uploads(client):
    """A hundred "𝄞" are 400 bytes, over the 255 a file name may have: a 500 (found by a fault attack)."""
    answer = client.post("/drills", files={"file": ("𝄞" * 100 + ".toml", GOOD_DRILL, "text/plain")}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/drills/team-greeting")


def test_a_recording_named_with_control_codes_is_kept_under_a_name_any_history_holds(client, reps):
    """A NUL in an uploaded file's name kept the rep out of a team database for good (PostgreSQL
    text holds no NUL; found by a fault attack): it is saved as "?"."""
    body = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a\x00b\x1b.wav"\r\nContent-Type: audio/wav\r\n\r\n'
            + reps[1].read_bytes() + b"\r\n--x--\r\n")  # (as a browser or curl sends it: httpx would write the NUL as %00)
    answer = client.post("/api/check", content=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 200, answer.text
    from voicedrill import history

    store = history.open_store(write=False)
    assert [r.source for r in store.reps()][-1] == "a?b?.wav"
    store.close()


def test_limits_answer_in_the_apps_own_words(server, client):
    huge = client.post("/drills", files={"file": ("huge.toml", b'name = "huge"\n#' + b"x" * 300_000, "text/plain")})
    assert huge.status_code == 413 and "too large for a drill file" in huge.text and "<nav>" in huge.text
    huger = client.post("/drills", files={"file": ("huger.toml", b"x" * 2_000_000, "text/plain")})  # refused at the door, in the same words
    assert huger.status_code == 413 and "too large for a drill file (the limit is 256 KB)" in huger.text
    small = TestClient(Guard(asgi(server[0]).app, {"127.0.0.1:8000"}, max_body=1000), base_url="http://127.0.0.1:8000")
    page = small.post("/check", files={"file": ("big.wav", b"\0" * 5000, "audio/wav")})
    assert page.status_code == 413 and "<html" in page.text and "Back to voicedrill" in page.text
    assert small.post("/api/check", files={"file": ("big.wav", b"\0" * 5000, "audio/wav")}).json()["error"].startswith("That file is too large")


def test_stop_right_after_start_ends_the_run_and_keeps_no_empty_rep(server, client):
    app, _ = server
    assert client.post("/api/start", data={"reps": "10"}).status_code == 202
    assert client.post("/api/stop").json() == {"stopping": True}
    wait_idle(app)
    assert all(r.report.words for r in app._read("reps")) and len(app._read("reps")) <= 1


def test_a_page_opened_after_a_run_starts_clean():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from voicedrill.app.runs import Broadcast

    async def subscribe(broadcast: Broadcast) -> list[str]:
        queue = broadcast.subscribe()
        return [queue.get_nowait()["type"] for _ in range(queue.qsize())]

    def replay(messages: list[dict]) -> list[str]:
        """What a page opened after these messages is sent (on an event loop of its own)."""
        broadcast = Broadcast()
        for message in messages:
            broadcast.publish(message)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, subscribe(broadcast)).result()

    under_way = [{"type": "run_start"}, {"type": "rep_start"}, {"type": "state"}, {"type": "step"}, {"type": "state"}]
    assert replay(under_way) == ["run_start", "rep_start", "step", "state"]
    scored = under_way + [{"type": "rep_end"}, {"type": "scorecard"}]
    assert replay(scored) == ["run_start", "rep_start", "step", "rep_end", "scorecard"]  # no stale live state over the verdict
    assert replay(scored + [{"type": "run_end"}]) == []


def test_after_the_run_the_script_keeps_the_verdicts(server, page, drill):
    app, base = server
    page.goto(base + "/")
    page.click("[data-action=start]")
    page.wait_for_function("document.querySelector('[data-action=start]').disabled === false && document.querySelector('#summary').textContent", timeout=60000)
    states = page.eval_on_selector_all("[data-step]", "els => els.map(e => e.dataset.state)")
    assert states == ["ok"] * len(drill.steps)
    assert page.is_enabled("input[name=customer]")  # the hard close has customer lines


def test_an_optional_step_not_needed_is_not_struck_out_after_a_clean_rep(server, page, drill):
    """soft-to-hard's concern, said only when the customer hesitates, was struck through in red
    with ✗ after a rep that scored 100, whose scorecard said "not needed"; live it was numbered
    as a step to say (found by a new user)."""
    from voicedrill.drills import user_drills_dir

    app, base = server
    folder = user_drills_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shipped = (Path(__file__).parents[1] / "drills" / "hard-close.toml").read_text()
    concern = '[[steps]]\nid = "concern"\nline = "I understand. Here is how we handle that."\nkeywords = ["understand"]\noptional = true\n\n'
    (folder / "close-with-concern.toml").write_text(shipped.replace('name = "hard-close"', 'name = "close-with-concern"')
                                                   .replace('[[steps]]\nid = "phone"', concern + '[[steps]]\nid = "phone"', 1))
    page.goto(base + "/?drill=close-with-concern")
    assert page.inner_text("[data-step=concern]").endswith("(if needed)")
    page.click("[data-action=start]")
    page.wait_for_function("document.querySelector('[data-action=start]').disabled === false && document.querySelector('#summary').textContent", timeout=60000)
    states = dict(zip(page.eval_on_selector_all("[data-step]", "els => els.map(e => e.dataset.step)"),
                      page.eval_on_selector_all("[data-step]", "els => els.map(e => e.dataset.state)")))
    assert states == {s.id: "ok" for s in drill.steps} | {"concern": "not_needed"}, states
    assert "not needed" in page.inner_text("#scorecard")


def test_a_history_that_cannot_be_read_is_said_on_the_page(client, tmp_path, monkeypatch):
    broken = tmp_path / "history.db"
    broken.write_bytes(b"not a database at all, just text" * 10)
    monkeypatch.setenv("VOICEDRILL_DB", str(broken))
    for path in ("/history", "/team", "/rep/1", "/export.csv"):
        answer = client.get(path)
        assert answer.status_code == 503 and "cannot be read" in answer.text and "Traceback" not in answer.text


def test_on_a_shared_history_the_progress_page_shows_your_own_reps_first(client, drill, monkeypatch):
    """A team database holds everyone's reps: the page opens on the app's own rep's, a choice shows
    another person's or everyone's (then with a column saying whose), and charts and downloads follow."""
    from test_history import sample_report

    from voicedrill.history import Session, Store

    monkeypatch.setenv("VOICEDRILL_USER", "maria")
    store = Store()
    for user in ("ana", "maria", "ana"):
        store.save_rep(Session.of("drill", drill, "fake", "none", user), 1, sample_report(drill), "mic")
    store.close()
    own = client.get("/history").text
    assert "Your progress" in own and 'data-reps="1"' in own and "<th>who</th>" not in own and "maria (you)" in own
    assert re.search(r'<option value="hard-close"\s*>The hard close sequence</option>', own)  # the drill filter by title (it listed file names)
    everyone = client.get("/history?who=").text
    assert "Everyone's progress" in everyone and 'data-reps="3"' in everyone and "<th>who</th>" in everyone
    ana = client.get("/history?who=ana").text
    assert "ana's progress" in ana and 'data-reps="2"' in ana and "/history/hard-close/progress.png?who=ana" in ana
    assert client.get("/export.csv?who=ana").text.count("\n") == 3  # a header and ana's two reps
    assert client.get("/history/hard-close/fluency.png?who=maria").headers["content-type"] == "image/png"
    monkeypatch.setenv("VOICEDRILL_USER", "Maria")  # the same person, another day's spelling
    own = client.get("/history").text
    assert 'data-reps="1"' in own and 'class="summary"' not in own  # one rep: no first → last line
    assert 'data-reps="2"' in client.get("/history?who=ANA").text
    none = client.get("/history?who=ana&drill=micro-commitment").text  # an empty table said nothing (found by a new user)
    assert 'data-reps="0"' in none and "No reps of Micro-commitments: the two questions by ana yet." in " ".join(none.split())


def test_a_recording_checked_while_the_team_database_is_away_shows_its_scorecard(client, reps, postgres, monkeypatch):
    """The rep waits on this computer for the team database; the page still shows its score."""
    from voicedrill.teamdb import PgStore

    url = postgres.new_database()
    PgStore(url).close()
    monkeypatch.setenv("VOICEDRILL_DB", url)
    postgres.stop()
    try:
        with open(reps[0], "rb") as f:
            page = client.post("/check", files={"file": ("mine.wav", f, "audio/wav")}, data={"drill": "hard-close"})
        with open(reps[0], "rb") as f:
            saved = client.post("/api/check", files={"file": ("mine.wav", f, "audio/wav")}).json()["saved"]
    finally:
        postgres.start()
    assert page.status_code == 200 and 'data-waiting="true"' in page.text and "cannot be reached" in page.text
    assert saved["rep"] is None and "cannot be reached" in saved["waiting"] and "goes into the history" in saved["waiting"]  # a script is told too
    assert "Score 100/100" in page.text and "timeline of rep" in page.text
    back = PgStore(url)
    assert len(back.reps()) == 2  # and they went in when the database was next opened
    back.close()


def test_a_page_that_opens_its_stream_as_the_app_stops_is_ended_too():
    """A page reconnecting while the server stops held its stream to the graceful timeout, and the
    traceback came back (found by a review)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from voicedrill.app.runs import Broadcast

    async def opened_after_close():
        broadcast = Broadcast()
        broadcast.close()
        return await asyncio.wait_for(broadcast.subscribe().get(), 1)

    with ThreadPoolExecutor(1) as elsewhere:  # (a browser test's loop may be running in this thread)
        assert elsewhere.submit(asyncio.run, opened_after_close()).result() is None
