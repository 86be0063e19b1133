"""The history stores side by side: saves per second and the `team` view's time at 100,000 reps, on
an SQLite file and on a PostgreSQL server started for the run (Debian's initdb + pg_ctl).

    python bench/store_bench.py [--reps 100000] [--saves 2000]     (or: python bench/run.py --stores)

Saves go through `Store.save_rep` one rep at a time (20 people); the history is then filled up to
--reps by copying those rows in SQL (same sizes, new numbers), and `team` is timed as the command
runs it: open, read the reps, build the rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import Postgres  # noqa: E402  (the tests' throwaway server)
from test_history import sample_report  # noqa: E402  (a rep from hand-made timed words)

from voicedrill.drills import load_drill  # noqa: E402
from voicedrill.history import Session, Store  # noqa: E402
from voicedrill.team import team_rows  # noqa: E402
from voicedrill.teamdb import PgStore  # noqa: E402

FILL = {
    # copies of the saved reps with new numbers (and sessions), `n` copies at a time
    "sqlite": ("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)"
               " INSERT INTO reps (id, uid, session_id, number, saved_at, source, audio, duration_s, speech_wpm, longest_pause_s,"
               " order_errors, score, report, levels, timed_s, fix_first) SELECT r.id + k.i * ?, r.uid || '-' || k.i, r.session_id, r.number + k.i * 1000,"
               " r.saved_at, r.source, r.audio, r.duration_s, r.speech_wpm, r.longest_pause_s, r.order_errors, r.score, r.report, r.levels, r.timed_s, r.fix_first"
               " FROM reps r, k WHERE r.id <= ?"),
    "postgres": ("INSERT INTO reps (id, uid, session_id, number, saved_at, source, audio, duration_s, speech_wpm, longest_pause_s,"
                 " order_errors, score, report, levels, timed_s, fix_first) SELECT r.id + k.i * ?, r.uid || '-' || k.i, r.session_id, r.number + k.i * 1000,"
                 " r.saved_at, r.source, r.audio, r.duration_s, r.speech_wpm, r.longest_pause_s, r.order_errors, r.score, r.report, r.levels, r.timed_s, r.fix_first"
                 " FROM reps r, generate_series(1, ?) AS k(i) WHERE r.id <= ?"),
}


def bench_store(kind: str, open_store, total: int, saves: int) -> dict:
    drill = load_drill("hard-close")
    reports = [sample_report(drill, 0.3 + i / 10) for i in range(10)]
    store = open_store()
    sessions = [Session.of("drill", drill, "fake", "none", f"rep{n:02d}") for n in range(20)]
    started = time.perf_counter()
    for i in range(saves):
        store.save_rep(sessions[i % 20], i // 20 + 1, reports[i % 10], "mic", [-40.0] * 200)
    saves_per_s = saves / (time.perf_counter() - started)
    copies = total // saves - 1
    with store._write() as db:
        db.execute(FILL[kind], (copies, saves, saves) if kind == "sqlite" else (saves, copies, saves))
    store.close()
    started = time.perf_counter()
    store = open_store()
    reps = store.team_reps()
    rows = team_rows(reps, datetime.now().astimezone())
    team_s = time.perf_counter() - started
    store.close()
    return {f"{kind}_saves_per_s": round(saves_per_s, 1), f"{kind}_reps": len(reps), f"{kind}_team_rows": len(rows), f"{kind}_team_s": round(team_s, 2)}


def bench_stores(total: int = 100_000, saves: int = 2_000) -> dict:
    """Both stores, one after the other, in one run (compare them as a ratio)."""
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        results |= bench_store("sqlite", lambda: Store(Path(folder) / "history.db", timeout_s=60), total, saves)
        place = Path(tempfile.mkdtemp(prefix="voicedrill-pg-"))
        server = Postgres(place)
        try:
            url = server.new_database()
            results |= bench_store("postgres", lambda: PgStore(url, timeout_s=60), total, saves)
        finally:
            server.stop()
            shutil.rmtree(place, ignore_errors=True)
    results["team_time_ratio_postgres_over_sqlite"] = round(results["postgres_team_s"] / results["sqlite_team_s"], 2)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100_000)
    parser.add_argument("--saves", type=int, default=2_000)
    args = parser.parse_args()
    print(json.dumps(bench_stores(args.reps, args.saves), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
