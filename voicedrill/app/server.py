"""The voicedrill app: pages for practice, checking a recording, progress and drills, served locally.

Every figure and verdict on a page comes from the same report and history the CLI uses; the pages
only lay them out. Live practice arrives over one server-sent event stream (/api/events).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .. import history
from ..audio import input_devices, probe
from ..drills import MAX_DRILL_BYTES, Drill, list_drills, listed_problem, drill_name, load_drill_file, load_named_drill, shipped_dirs, shipped_names, user_drills_dir
from ..drills import titles as drill_titles
from ..errors import InUse, NotAllowed, VoicedrillError
from ..files import write_atomic, write_file
from ..metrics import tip_examples
from ..plots import fluency_figure, png_bytes, progress_figure, team_figure
from ..progress import export
from ..report import counted, drill_rules, step_notes, summary, summary_line, to_dict
from ..report import shown as shown_text
from ..schema import LARGEST_ID
from ..team import NO_NAME, TeamRow, team_rows
from ..webpage import REPORT_STYLE, body, rep_section, team_body, title
from .guard import Guard, own_hosts
from .runs import AppConfig, Broadcast, Practice, uploads_dir

HERE = Path(__file__).parent
CHART_REPS = 40  # the history page's charts show a drill's newest reps
KEEPALIVE_S = 15.0
DELETES_KEPT = 20  # the last deletes' messages kept for the page each lands on


class App:
    """The request handlers, around one Practice (one engine) and one Broadcast."""

    def __init__(self, config: AppConfig):
        self.practice = Practice(config, Broadcast())
        self.config = config
        self._pages: set[history.Store] = set()  # histories open for a page's read or delete
        self._stopping = False
        self._deleted: dict[str, str] = {}  # what a delete removed, by the token its redirect carries (a link's own words were shown)
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals["report_style"] = Markup(REPORT_STYLE)  # (ours, not escaped: a quote in it is CSS)
        self.templates.env.globals["counted"] = counted
        self.templates.env.globals["drill_titles"] = drill_titles  # a page shows a drill by its title, not its file name

    def page(self, request: Request, name: str, status: int = 200, **context) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def problem(self, request: Request, message: str, status: int = 400) -> Response:
        """A refusal in words: JSON for /api, a page otherwise."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        return self.page(request, "problem.html", status, message=message)

    # practice -------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        drills = [d for _, d in await run_in_threadpool(list_drills) if isinstance(d, Drill)]
        chosen = request.query_params.get("drill", "hard-close")
        names = ", ".join(i.path.name for i in self.config.inputs)
        several = len(self.config.inputs) > 1
        named = f"recordings, one per rep in turn: {names}" if several else f"recording: {names}"
        sources = [("file", named if len(names) < 60 else f"the {len(self.config.inputs)} recordings the app was started with, in turn")] if self.config.inputs else []
        sources += [(str(i), f"microphone: {name}") for i, name in await run_in_threadpool(input_devices)]
        steps = {d.name: {"title": d.title, "customer": d.has_customer,
                          "steps": [{"id": s.id, "title": s.named, "line": s.line, "optional": s.optional} for s in d.steps]} for d in drills}
        return self.page(request, "practice.html", drills=drills, chosen=chosen, sources=sources, steps=steps,
                         running=self.practice.running())

    async def start(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=6)
        reps, customer, source = str(form.get("reps", "1")), str(form.get("customer", "off")), str(form.get("source", "file"))
        for field, value, allowed in (("reps", reps, reps in ("1", "10")), ("customer", customer, customer in ("on", "off")),
                                      ("source", source, source == "file" or re.fullmatch(r"[0-9]{1,4}", source) is not None)):
            if not allowed:
                return self.problem(request, f"{field}={value[:40]!r} is not a choice on this page (reps: 1 or 10; customer: on or off; source: file or a microphone number)")
        try:
            drill = await run_in_threadpool(load_named_drill, str(form.get("drill") or "hard-close"))
            opened = await run_in_threadpool(self.practice.start, drill, int(reps), customer == "on", source)
            await asyncio.wrap_future(opened)  # (no worker thread waits on a locked history: the app's stop would wait for it)
        except VoicedrillError as exc:
            return self.problem(request, exc.plain, _status(exc))
        return JSONResponse({"started": drill.name, "reps": int(reps)}, status_code=202)

    async def stop(self, request: Request) -> Response:
        return JSONResponse({"stopping": self.practice.stop()})

    async def status(self, request: Request) -> Response:
        return JSONResponse({"running": self.practice.running()})

    async def events(self, request: Request) -> Response:
        """The live stream: every message of the run under way, as server-sent events."""
        broadcast = self.practice.broadcast
        queue = broadcast.subscribe()

        async def stream():
            try:
                yield ": voicedrill live\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if message is None:  # the app is stopping (Broadcast.close)
                        return
                    yield f"data: {json.dumps(message, ensure_ascii=False)}\n\n"
            finally:
                broadcast.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # check a recording ----------------------------------------------------------------------

    async def check_page(self, request: Request) -> Response:
        drills = [d for _, d in await run_in_threadpool(list_drills) if isinstance(d, Drill)]
        return self.page(request, "check.html", drills=drills, chosen=request.query_params.get("drill", "hard-close"))

    async def _checked(self, request: Request) -> tuple[dict, history.Saved, history.SavedRep] | Response:
        """The uploaded recording scored (and kept), or the refusal to show."""
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return self.problem(request, "choose a recording (WAV, FLAC or OGG) to check")
        path = None
        try:
            drill = await run_in_threadpool(load_named_drill, str(form.get("drill") or "hard-close"))
            self.practice.refuse_if_running()  # before the upload is kept
            path = await run_in_threadpool(_keep_upload, upload)
            try:
                info = await run_in_threadpool(probe, path)
                named = shown_text(Path(upload.filename).name)  # as the rep's source: no control codes (a NUL kept it from a team database for good)
                report, saved, shown = await run_in_threadpool(self.practice.check, info, drill, named)
            except VoicedrillError:
                path.unlink(missing_ok=True)  # not checked: nothing worth keeping
                raise
        except VoicedrillError as exc:
            message = exc.plain.replace(str(path), Path(upload.filename).name) if path else exc.plain
            return self.problem(request, message, _status(exc))
        return to_dict(report), saved, shown

    async def api_check(self, request: Request) -> Response:
        """`voicedrill check --json` over HTTP (multipart field `file`, optional `drill`), and
        `saved`: the rep's number in the history, or why it waits and where (as check says it)."""
        result = await self._checked(request)
        if isinstance(result, Response):
            return result
        report, saved, _ = result
        return JSONResponse(report | {"saved": {"rep": saved.rep, "waiting": None if saved.rep else saved.waiting}})

    async def check(self, request: Request) -> Response:
        result = await self._checked(request)
        if isinstance(result, Response):
            return result
        _, saved, shown = result
        if saved.rep is None:  # scored, and waiting for the history: the scorecard here, with where the rep is
            return self.page(request, "checked.html", waiting=saved.waiting, section=rep_section(shown))
        return RedirectResponse(f"/rep/{saved.rep}", status_code=303)

    # progress -------------------------------------------------------------------------------

    @contextmanager
    def _history(self, **options) -> Iterator[history.Store]:
        """The history, opened for one page's read or delete (hurried if the app is stopping)."""
        store = history.open_store(**options)
        self._pages.add(store)
        try:
            if self._stopping:
                store.hurry()
            yield store
        finally:
            self._pages.discard(store)
            store.close()

    async def wind_down_pages(self, timeout_s: float) -> None:
        """The app is stopping: a page waiting on a team server that went quiet is answered in
        words within `timeout_s` (it was cut by the server's stop, with a traceback, after 1 s)."""
        self._stopping = True
        for store in list(self._pages):
            store.hurry()
        deadline = time.monotonic() + timeout_s
        while self._pages and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def _read(self, what: str, **which) -> list:
        """`reps`, `team_reps` or `people` from the history, opened for this read only."""
        with self._history(write=False, create=False) as store:
            return getattr(store, what)(**which)

    @staticmethod
    def _whose(request: Request, people: set[str], me: str) -> str | None:
        """Whose reps a progress page shows: `?who=NAME`, `?who=` for everyone; by default the app's
        own rep's, `me` (on a history several people share, e.g. a team database), else everyone's."""
        if "who" in request.query_params:
            return request.query_params["who"] or None
        return me if len(people) > 1 and me in people else None

    async def history_page(self, request: Request) -> Response:
        drill = request.query_params.get("drill") or None
        everything = await run_in_threadpool(self._read, "reps")
        people, me = {r.user for r in everything}, history.who(self.config.user)
        me = next((p for p in people if history.same_person(p, me)), me)  # as the history spells it
        who = self._whose(request, people, me)
        reps = [r for r in everything if drill in (None, r.drill) and (who is None or history.same_person(r.user, who))]
        one = len({r.drill for r in reps}) == 1 and len({history.person_key(r.user) for r in reps}) == 1  # (everyone's: ana's first rep → dev's last was no trend)
        info = summary([r.report for r in reps], [r.id for r in reps]) if len(reps) > 1 and one else None  # first → last needs two
        return self.page(request, "history.html", reps=reps[::-1], drill=drill, drills=sorted({r.drill for r in everything}),
                         charted=sorted({r.drill for r in reps}), line=summary_line(info) if info else "",
                         people=sorted(people) if len(people) > 1 else [], who=who, me=me,
                         leaver=await self._leaver(who, me, everything),
                         deleted=self._deleted.pop(request.query_params.get("deleted", ""), ""))  # said once: a reload does not say it again

    async def chart(self, request: Request) -> Response:
        """A drill's progress (score, pace, longest pause) or fluency curve (time from the first line to the last), as PNG."""
        drill, kind = request.path_params["drill"], request.path_params["kind"]
        if kind not in ("progress", "fluency"):
            raise HTTPException(404)
        reps = (await run_in_threadpool(self._read, "reps", drill=drill, user=request.query_params.get("who") or None))[-CHART_REPS:]
        if not reps:
            raise HTTPException(404, f"no reps of drill {drill!r} yet")
        if kind == "progress":
            return Response(await run_in_threadpool(lambda: png_bytes(progress_figure(reps))), media_type="image/png")
        people = await run_in_threadpool(self._read, "people")  # (a person's colour as in every chart)
        return Response(await run_in_threadpool(lambda: png_bytes(fluency_figure(reps, people))), media_type="image/png")

    async def _picked(self, request: Request) -> tuple[str, int, list[history.SavedRep]]:
        """/rep/N or /session/N: its reps (404 for anything else, or when there are none)."""
        kind, number = request.path_params["kind"], request.path_params["number"]
        if kind not in ("rep", "session"):
            raise HTTPException(404)
        reps = await run_in_threadpool(self._read, "reps", **{kind: number}) if number <= LARGEST_ID else []  # (SQLite holds no bigger number)
        if not reps:
            raise HTTPException(404, f"There is no {'rep ' if kind == 'rep' else 'session s'}{number} in your history (it may have been deleted).")
        return kind, number, reps

    async def report_page(self, request: Request) -> Response:
        kind, number, reps = await self._picked(request)
        content = await run_in_threadpool(body, reps)
        return self.page(request, "report.html", content=content, title=title(reps), kind=kind, number=number, reps=reps)

    async def download(self, request: Request) -> Response:
        """What `report --html` writes, `export` prints: as a file download."""
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "jsonl"):
            raise HTTPException(404)
        drill, who = request.query_params.get("drill") or None, request.query_params.get("who") or None
        try:
            drill = drill and drill_name(drill)  # (it names the file: a header carries no "✓", nor a line break)
        except VoicedrillError as exc:
            return self.problem(request, exc.plain)
        reps = await run_in_threadpool(self._read, "reps", drill=drill, user=who)
        text = await run_in_threadpool(export, reps, "jsonl" if fmt == "jsonl" else "csv")
        name = "-".join(filter(None, ["voicedrill", who and _in_a_file_name(who), drill or "all", f"{datetime.now():%Y%m%d}"])) + f".{fmt}"  # (one person's: named)
        return Response(text, media_type="text/csv" if fmt == "csv" else "application/jsonl",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def delete(self, request: Request) -> Response:
        kind, number, reps = await self._picked(request)
        if self.practice.session_under_way() in {r.session for r in reps}:
            return self.problem(request, "this rep's session is the practice run under way: stop the run first, then delete", 409)
        others = history.others(reps, history.who(self.config.user))  # a shared history: someone else's reps, said so
        if request.method == "GET":
            own_view = "/history?" + urlencode({"drill": reps[0].drill} | ({"who": others[0]} if len(others) == 1 else {}))  # (asked from the rep's page)
            return self.page(request, "delete.html", kind=kind, number=number, reps=reps, title=title(reps), others=others,
                             back=_progress_view(request.headers.get("referer", ""), own_view))
        back = _progress_view(str((await request.form(max_files=0, max_fields=2)).get("back", "")))  # (read before anything is deleted)

        def gone() -> int:
            with self._history() as store:
                return store.delete(**{kind: number})

        count = await run_in_threadpool(gone)
        what = f"Rep {number}" if kind == "rep" else f"Session s{number}"
        about = ", ".join(filter(None, [f"{' and '.join(others)}'s" if others else "", drill_titles().get(reps[0].drill, reps[0].drill),
                                        counted(count, "rep") if kind == "session" else ""]))
        said = f"{what} ({about}) deleted from the history." if count else f"{what} was already gone: nothing was deleted."
        return RedirectResponse(f"{back}{'&' if '?' in back else '?'}deleted={self._said_once(said)}", status_code=303)

    async def delete_person(self, request: Request) -> Response:
        """Every rep of one person (one who left the team), after asking; then the team page says what went."""
        asked = request.query_params.get("who", "") if request.method == "GET" else str((await request.form(max_files=0, max_fields=1)).get("who", ""))
        try:
            asked = history.person(asked)
        except VoicedrillError:  # (blank, or no name at all: never echoed back)
            raise HTTPException(404, "Choose whose reps to delete: each name on the Team page opens that person's progress, which ends with the delete.") from None
        name, reps, count = await run_in_threadpool(self._counted, asked)
        if not count:
            raise HTTPException(404, f"There are no reps of {asked} in the history (they may have been deleted already).")
        if self.practice.session_under_way() in {r.session for r in reps}:
            return self.problem(request, f"{name}'s practice run is under way here: stop the run first, then delete", 409)
        if request.method == "GET":
            mine = history.same_person(name, history.who(self.config.user))
            return self.page(request, "delete.html", kind="person", person=name, reps=reps, count=count, others=[] if mine else [name],
                             title=f"every rep of {name}", back="/history?" + urlencode({"who": name}))

        def gone() -> int:
            with self._history() as store:
                return store.delete(user=name)

        count = await run_in_threadpool(gone)
        said = f"Every rep of {name} ({counted(count, 'rep')}) deleted from the history." if count else f"{name}'s reps were already gone: nothing was deleted."
        return RedirectResponse(f"/team?deleted={self._said_once(said)}", status_code=303)

    async def _leaver(self, who: str | None, me: str, everything: list[history.SavedRep]) -> str | None:
        """Whose reps a progress page offers to delete, for one who left: the person shown, never
        oneself, and only one the history holds reps of (damaged ones too)."""
        if not who or history.same_person(who, me):
            return None
        seen = next((r.user for r in everything if history.same_person(r.user, who)), None)  # (as the history spells it)
        if seen is not None:
            return seen
        name, _, count = await run_in_threadpool(self._counted, who)  # (every rep of theirs damaged)
        return name if count else None

    def _counted(self, user: str) -> tuple[str, list[history.SavedRep], int]:
        """A person's name as the history holds it, their reps that can be read, and how many the
        history holds, damaged ones too (what a delete takes)."""
        with self._history(write=False, create=False) as store:
            return store.spelt(user), store.reps(user=user), store.count(user=user)

    def _said_once(self, message: str) -> str:
        """A token for the page a delete lands on to say `message` once (a reload does not say it again)."""
        token = secrets.token_urlsafe(8)
        self._deleted[token] = message
        while len(self._deleted) > DELETES_KEPT:
            self._deleted.pop(next(iter(self._deleted)))
        return token

    async def team_page(self, request: Request) -> Response:
        """The manager's view of everyone in this history (per person and drill)."""
        drill = request.query_params.get("drill") or None
        everyone = await run_in_threadpool(self._read, "team_reps")  # headlines only, read once
        reps = [r for r in everyone if drill in (None, r.drill)]
        rows = team_rows(reps, datetime.now().astimezone())

        def chart(shown: str) -> str:
            return f"/team.png?drill={quote(shown)}"

        return self.page(request, "team.html", content=team_body(rows, reps, chart, await run_in_threadpool(drill_titles), _their_progress), drill=drill, drills=sorted({r.drill for r in everyone}),
                         deleted=self._deleted.pop(request.query_params.get("deleted", ""), ""))

    async def team_chart(self, request: Request) -> Response:
        reps = await run_in_threadpool(self._read, "team_reps", drill=request.query_params.get("drill") or None)
        if not reps:
            raise HTTPException(404, "no reps yet")
        people = await run_in_threadpool(self._read, "people")  # (a person's colour as in every drill's chart)
        return Response(await run_in_threadpool(lambda: png_bytes(team_figure(reps, people))), media_type="image/png")

    # drills ---------------------------------------------------------------------------------

    async def drills_page(self, request: Request, status: int = 200, **context) -> Response:
        found = [(path, d if isinstance(d, Drill) else listed_problem(path, d)) for path, d in await run_in_threadpool(list_drills)]
        return self.page(request, "drills.html", status, found=found, **context)

    async def drill_format(self, request: Request) -> Response:
        """How a drill file is written: the shipped drills folder's README, as it reads."""
        readme = next((d / "README.md" for d in shipped_dirs() if (d / "README.md").is_file()), None)
        if readme is None:
            raise HTTPException(404, "the drill file guide is not installed with this copy of voicedrill")
        return self.page(request, "format.html", guide=Markup(await run_in_threadpool(_guide, readme)))

    async def drill_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            drill = await run_in_threadpool(load_named_drill, name)
        except VoicedrillError as exc:  # (a drill of the rep's own by its file name, never the server's folders)
            raise HTTPException(404, exc.plain.replace(f"{user_drills_dir()}{os.sep}", "")) from None
        return self.page(request, "drill.html", drill=drill, notes={s.id: step_notes(drill, s.id) for s in drill.steps}, rules=drill_rules(drill),
                         tips=tip_examples(drill), folder=user_drills_dir())

    async def upload_drill(self, request: Request) -> Response:
        """A drill file checked line by line; a good one joins the rep's own drills."""
        form = await request.form(max_files=1, max_fields=2)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self.drills_page(request, 400, error="choose a drill file (.toml) to upload")
        data = await upload.read(MAX_DRILL_BYTES + 1)
        shown = Path(upload.filename).name
        if len(data) > MAX_DRILL_BYTES:
            return await self.drills_page(request, 413, error=f"{shown}: too large for a drill file (the limit is {MAX_DRILL_BYTES // 1024} KB)")
        with tempfile.TemporaryDirectory() as folder:
            stem = re.sub(r"[\x00-\x1f]", "", Path(shown).stem).encode()[:100].decode(errors="ignore") or "drill"  # (a name's limit is in bytes)
            path = Path(folder) / (stem + ".toml")
            path.write_bytes(data)
            try:
                drill = await run_in_threadpool(load_drill_file, path)
            except VoicedrillError as exc:
                said = [m.replace(str(path), shown) for m in getattr(exc, "mistakes", (str(exc),))]
                return await self.drills_page(request, 400, mistakes=[(m, _line_named(m, shown, data)) for m in said])
        if drill.name in shipped_names():
            return await self.drills_page(request, 400, error=f"{shown}: a drill that comes with voicedrill is called {drill.name!r}; give yours another name")
        try:
            earlier = await run_in_threadpool(_save_drill, drill.name, data)
        except VoicedrillError as exc:
            return await self.drills_page(request, 400, error=exc.plain)
        said = f"kept={quote(earlier)}" if earlier else "added=1"
        return RedirectResponse(f"/drills/{drill.name}?{said}", status_code=303)

    async def unavailable(self, request: Request, exc: VoicedrillError) -> Response:
        """The history (or a drill) could not be used for this page: said in words, never a stack
        trace; 403 where the user may not do it (a delete by a role that may only read), 409 where
        another program holds it for now."""
        return self.problem(request, exc.plain, _status(exc, 503))

    async def not_found(self, request: Request, exc: HTTPException) -> Response:
        message = exc.detail if exc.status_code == 404 and exc.detail != "Not Found" else "There is no such page in the voicedrill app."
        return self.problem(request, message if exc.status_code == 404 else str(exc.detail), exc.status_code)


def _in_a_file_name(name: str) -> str:
    """A person's name as a downloaded file's name may hold it: letters, digits, "_" and "-" ("Émile O'Neil": "Emile-O-Neil")."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_]+", "-", plain).strip("-")[:40] or "someone"


def _their_progress(row: TeamRow) -> str:
    """A team row's person's progress page on its drill (none for reps saved without a name: no page picks them)."""
    return "" if row.user == NO_NAME else "/history?" + urlencode({"drill": row.drill, "who": row.user})


def _status(exc: VoicedrillError, otherwise: int = 400) -> int:
    """The HTTP status a refusal answers: 403 for who the user is, 409 for something held for now."""
    return 403 if isinstance(exc, NotAllowed) else 409 if isinstance(exc, InUse) else otherwise


def _progress_view(address: str, otherwise: str = "/history") -> str:
    """The progress page a delete was asked from, with its drill and person chosen (a delete from
    another person's reps landed on one's own); asked from elsewhere (a rep's page), `otherwise`."""
    try:
        parts = urlsplit(address)
    except ValueError:  # ("//[oops" is no address: a 500 and a traceback)
        return "/history"
    if parts.path != "/history":
        return _progress_view(otherwise) if otherwise != "/history" else "/history"
    kept = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key in ("drill", "who")]
    return "/history" + (f"?{urlencode(kept)}" if kept else "")


def _guide(readme: Path) -> str:
    """The drill file guide as a page: its Markdown (tables included) made HTML; any HTML written
    in it is shown as text, never run (the page showed the Markdown itself, pipes and all)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(readme.read_text(encoding="utf-8"))


def _line_named(message: str, name: str, data: bytes) -> str | None:
    """The drill file's line a refusal names ("mine.toml:6: …"), as the manager wrote it."""
    found = re.match(re.escape(name) + r":(\d+):", message)
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[int(found[1]) - 1] if found and 0 < int(found[1]) <= len(lines) else None


def _keep_upload(upload: UploadFile) -> Path:
    """The uploaded recording, kept under the app's uploads folder (the rep's page names it)."""
    folder = uploads_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VoicedrillError(f"cannot keep the recording ({exc.strerror})") from None
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(upload.filename or "rep").name)[-80:].lstrip(".") or "rep"
    path = folder / f"{datetime.now():%Y%m%d-%H%M%S-%f}-{name}"
    upload.file.seek(0)
    write_atomic(path, lambda tmp: tmp.write_bytes(upload.file.read()), new="the recording")
    return path


def _save_drill(name: str, data: bytes) -> str | None:
    """Save an uploaded drill among the rep's own. A different one of that name is kept beside it,
    dated, under a name no drill list reads (an upload replaced it without a trace): its file name."""
    folder = user_drills_dir()
    target = folder / f"{name}.toml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        before = target.read_bytes() if target.is_file() else None
    except OSError as exc:
        raise VoicedrillError(f"cannot save the drill in {folder} ({exc.strerror})") from None
    earlier = None
    if before is not None and before != data:
        earlier = f"{name}.toml.{datetime.now():%Y%m%d-%H%M%S-%f}.earlier"  # (two uploads in one second keep both)
        write_file(folder / earlier, before)
    write_file(target, data)
    return earlier


def asgi(app: App, host: str = "127.0.0.1", port: int = 8000) -> Guard:
    """The app as an ASGI application that answers only to its own address."""
    number = "{number:int}"
    routes = [
        Route("/", app.home),
        Route("/api/start", app.start, methods=["POST"]),
        Route("/api/stop", app.stop, methods=["POST"]),
        Route("/api/status", app.status),
        Route("/api/events", app.events),
        Route("/api/check", app.api_check, methods=["POST"]),
        Route("/check", app.check_page),
        Route("/check", app.check, methods=["POST"]),
        Route("/history", app.history_page),
        Route("/history/{drill}/{kind:str}.png", app.chart),
        Route("/export.{fmt:str}", app.download),
        Route("/team", app.team_page),
        Route("/team.png", app.team_chart),
        Route("/person/delete", app.delete_person, methods=["GET", "POST"]),
        Route("/{kind:str}/" + number, app.report_page),
        Route("/{kind:str}/" + number + "/delete", app.delete, methods=["GET", "POST"]),
        Route("/drills", app.drills_page),
        Route("/drill-format", app.drill_format),
        Route("/drills", app.upload_drill, methods=["POST"]),
        Route("/drills/{name:str}", app.drill_page),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    handlers = {HTTPException: app.not_found, VoicedrillError: app.unavailable}
    drill_cap = (MAX_DRILL_BYTES + 64 * 1024, f"That file is too large for a drill file (the limit is {MAX_DRILL_BYTES // 1024} KB).")  # (with the form's own bytes)
    return Guard(Starlette(routes=routes, exception_handlers=handlers), own_hosts(host, port), caps={"/drills": drill_cap})
