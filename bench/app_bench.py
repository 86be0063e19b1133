"""The app's figures: page load time, live event delay from the recogniser to the browser, memory
after 50 reps — measured on a real `voicedrill app` process driven by Debian's chromium.

    python bench/app_bench.py REP.wav     (or: python bench/run.py --app, on a synthesised rep)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if Path(p).is_file()), None)
PAGES = ("/", "/check", "/history", "/drills", "/rep/1")


def start_app(rep: Path, speed: float, data: Path) -> tuple[subprocess.Popen, str]:
    """`voicedrill app` on a free port with its own history; returns the process and its address."""
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    process = subprocess.Popen(
        [sys.executable, "-m", "voicedrill.cli", "app", "--no-browser", "--no-speech", "--engine", "pocketsphinx", "--input", str(rep), "--speed", str(speed)],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    for _ in range(5):
        line = process.stderr.readline()
        if "voicedrill app:" in line:
            return process, line.split()[2].rstrip("/")
    process.kill()
    raise RuntimeError("the app did not start")


def post(url: str, fields: dict[str, str]) -> None:
    data = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    urllib.request.urlopen(urllib.request.Request(url, data, {"Content-Type": "application/x-www-form-urlencoded"}))


def wait_idle(base: str, limit_s: float = 3600) -> None:
    deadline = time.monotonic() + limit_s
    while json.load(urllib.request.urlopen(base + "/api/status"))["running"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the run did not finish")
        time.sleep(0.5)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_app(rep: Path, reps_for_memory: int = 50) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict = {}
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        # live event delay: a rep fed at real time, each message timed from its sending to the page
        process, base = start_app(rep, 1.0, Path(folder) / "live")
        try:
            page = browser.new_page()
            page.add_init_script("""window.delays = [];
                const Real = window.EventSource;
                window.EventSource = function (url) { const s = new Real(url);
                  s.addEventListener("message", (e) => { const m = JSON.parse(e.data); window.delays.push([m.type, Date.now() / 1000 - m.sent]); });
                  return s; };""")
            page.goto(base + "/")
            page.click("[data-action=start]")
            page.wait_for_selector("#scorecard[data-score]", timeout=120000)
            wait_idle(base)
            delays = page.evaluate("window.delays")
            live = np.array([d for kind, d in delays if kind in ("step", "pause_alarm", "customer", "state")])
            results["app_event_delay_p50_ms"] = float(np.median(live) * 1000)
            results["app_event_delay_p95_ms"] = float(np.percentile(live, 95) * 1000)
            results["app_event_delay_max_ms"] = float(live.max() * 1000)
            results["app_events_timed"] = int(live.size)
            for path in PAGES:
                times = []
                for _ in range(5):
                    page.goto(base + path)
                    times.append(page.evaluate("performance.getEntriesByType('navigation')[0].duration"))
                results[f"app_page_load_ms {path}"] = float(np.median(times))
        finally:
            process.terminate()
            process.wait(10)
        # memory: the same process through many reps, as fast as they decode
        process, base = start_app(rep, 0.0, Path(folder) / "memory")
        try:
            post(base + "/api/start", {"drill": "hard-close", "reps": "1", "source": "file"})
            wait_idle(base)
            results["app_rss_after_1_rep_mb"] = rss_mb(process.pid)
            for _ in range((reps_for_memory - 1) // 10):
                post(base + "/api/start", {"drill": "hard-close", "reps": "10", "source": "file"})
                wait_idle(base)
            for _ in range((reps_for_memory - 1) % 10):
                post(base + "/api/start", {"drill": "hard-close", "reps": "1", "source": "file"})
                wait_idle(base)
            results[f"app_rss_after_{reps_for_memory}_reps_mb"] = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(10)
        browser.close()
    return results


if __name__ == "__main__":
    print(json.dumps(bench_app(Path(sys.argv[1])), indent=1))
