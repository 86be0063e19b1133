"""Load and validate drill files (TOML data in `drills/`), with errors that name file, line and field."""

from __future__ import annotations

import math
import os
import re
import string
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from pathlib import Path
from typing import TypeVar

import platformdirs

from .data import in_words, normalise
from .errors import VoicedrillError
from .files import reason, regular_input

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_DRILL_BYTES = 256 * 1024  # a drill file is a page of text
MAX_STEPS = 40  # a drill is said in one go: a longer script is several drills
MAX_PHRASES = 50  # in one list (a step's variants, the words to avoid, …)
MAX_TEXT_CHARS = 1000  # in one line, tip or phrase: a paragraph, not a document
MAX_TITLE = 30  # a step's title heads a column of the scorecard at 80 columns


class Order(StrEnum):
    """How a drill's steps must be ordered: as listed, or in any order."""

    STRICT = "strict"
    ANY = "any"


_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_DRILL_NAME = 100  # characters in a drill's name (it names its file and its page)
T = TypeVar("T")


@dataclass(frozen=True)
class Step:
    """One move of the script: what the rep should say and how to recognise it."""

    id: str
    line: str
    variants: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    answer: str = ""  # what the simulated customer says back
    optional: bool = False  # may be left out
    group: str = ""  # steps sharing a group may come in any order among themselves
    repeat: bool = False  # may be said again (a loop: address the concern, soft close again)
    example: str = ""  # what the synthesised example rep says instead of `line`
    tip: str = ""  # what to do next rep when this step was skipped (default: DEFAULT_TIPS["skipped"])
    title: str = ""  # how a rep reads the step's name in tips and tables (default: its id, "next-step" as "next step")

    @property
    def named(self) -> str:
        """The step's name as a rep reads it: its title, else its id in words."""
        return self.title or in_words(self.id)

    @property
    def phrases(self) -> tuple[str, ...]:
        return (self.line, *self.variants)

    @property
    def example_line(self) -> str:
        return self.example or self.line


@dataclass(frozen=True)
class PauseRule:
    """Limits for the pause between two particular steps; min_s makes a pause required."""

    from_step: str
    to_step: str
    min_s: float = 0.0
    max_s: float | None = None


# Coaching, in the playbook's words. A drill's [tips] table overrides any of these; each kind's
# TIP_FIELDS are filled in from the rep and the drill (a step's own `tip` is a "skipped" tip).
_SAID = ("step", "line")
_REPLY = ("phrase", "gap", "limit", *_SAID)
TIP_FIELDS = {
    "skipped": (*_SAID, "after"), "repeated": _SAID, "last": _SAID, "order": (*_SAID, "sequence"), "back": (*_SAID, "after"), "loop": (*_SAID, "after"),
    "pause": (*_SAID, "gap", "limit"), "required_pause": (*_SAID, "limit"), "forbidden": ("phrase",), "filler": ("phrase",),
    "slow": ("wpm", "low", "high"), "fast": ("wpm", "low", "high"),
    "late_reply": _REPLY, "late_start": _REPLY, "stopped": ("phrase", *_SAID), "unanswered": ("phrase", *_SAID), "nothing": (), "clean": (),
    "clean_top": ("wpm", "low", "high"), "unlike": ("line",),
}
DEFAULT_TIPS = {
    "skipped": "You left out {step}: say “{line}” right after {after}.",
    "repeated": "You said “{line}” twice. Say it once, then move straight on.",
    "last": "Say {step} last: “{line}” comes after everything else.",
    "order": "Out of order: {step}. Keep the sequence: {sequence}.",
    "back": "You went back to {step} after {after}. Once you have asked for {after}, keep going; go back to {step} only after answering a concern.",
    "loop": "After {after}, say {step} again before you go on: “{line}”",
    "pause": "You paused {gap} before {step} (limit {limit}). Keep the conversation moving: go straight to “{line}”",
    "required_pause": "Hold the pause before {step}: at least {limit} of silence lets the customer talk. Then say: “{line}”",
    "forbidden": "Don't say “{phrase}”: it hands the customer a reason to stop. Go straight to your next line instead.",
    "filler": "Drop the filler words (“{phrase}”). Say your next line instead, with confidence.",
    "slow": "Speed up: {wpm} words a minute, aim for {low}–{high}. Keep the conversation moving.",
    "fast": "Slow down a little: {wpm} words a minute, aim for {low}–{high}. Conversational, not rushed.",
    "late_reply": "After the customer's “{phrase}”, you took {gap} to answer (limit {limit}). Answer calmly and at once.",
    "late_start": "After “{phrase}” you took {gap} to start (limit {limit}). Come in at once: “{line}”",
    "stopped": "After the customer's “{phrase}”, the sequence stopped. Answer calmly, then go on: “{line}”",
    "unanswered": "The customer said “{phrase}” and you went straight on. Address the concern first, calmly, then continue: “{line}”",
    "nothing": "None of the drill's lines were heard. Check this is the drill you meant to practise, then say its lines as the script has them, close to the microphone.",
    "clean": "Clean rep. Practise it until it flows without thinking.",
    "unlike": "Little of what you said matches this drill's lines: is it the drill you meant? If it is, say its lines as the script has them, starting with “{line}”",
    "clean_top": "Clean rep, at {wpm} words a minute: the top of {low}–{high}. Keep that pace and make it sound like a conversation, not a script.",
}


@dataclass(frozen=True)
class CustomerLines:
    """The simulated customer's lines for `--customer` mode."""

    cue: str = ""  # the yes to the soft close that starts the rep
    hesitations: tuple[str, ...] = ()  # said, at one random step, instead of the answer
    next_step_answers: bool = False  # the script's next line answers a hesitation (micro-commitment's "that makes sense"): nothing to address first


@dataclass(frozen=True)
class Drill:
    """A drill: ordered steps plus the rules a rep is judged by."""

    name: str
    title: str
    steps: tuple[Step, ...]
    order: Order = Order.STRICT
    last: tuple[str, ...] = ()
    max_pause_s: float = 1.0
    pace_wpm: tuple[float, float] = (140.0, 200.0)
    forbidden: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    source: str = ""
    description: str = ""
    customer: CustomerLines = CustomerLines()
    pause_rules: tuple[PauseRule, ...] = ()
    tips: tuple[tuple[str, str], ...] = ()  # the drill's own [tips], over DEFAULT_TIPS

    def tip(self, kind: str, step_id: str | None = None) -> str:
        """The coaching line for a kind of problem: the step's own tip for a skipped step, else the drill's, else the default."""
        step = next((s for s in self.steps if s.id == step_id), None)
        if kind == "skipped" and step is not None and step.tip:
            return step.tip
        return dict(self.tips).get(kind) or DEFAULT_TIPS[kind]

    def step(self, step_id: str) -> Step:
        """The drill's step of that id."""
        return next(s for s in self.steps if s.id == step_id)

    def named(self, step_id: str) -> str:
        """A step's name as a rep reads it (Step.named); an id the drill does not have, in words."""
        return next((s.named for s in self.steps if s.id == step_id), in_words(step_id))

    def said_before(self, step_id: str) -> str | None:
        """The required step said just before this one: before its group (the probes, in any
        order), past optional steps (the concern); None for the first."""
        return next((s.id for s in reversed(self.steps[: self.order_rank(step_id)]) if not s.optional), None)

    def pause_limits(self, from_step: str, to_step: str) -> tuple[float, float]:
        """(minimum, maximum) pause allowed between these two steps."""
        rule = next((r for r in self.pause_rules if (r.from_step, r.to_step) == (from_step, to_step)), None)
        if rule is None:
            return 0.0, self.max_pause_s
        return rule.min_s, self.max_pause_s if rule.max_s is None else rule.max_s

    def order_rank(self, step_id: str) -> int:
        """Position in the order; steps of one group share the position of the group's first step."""
        step = self.step(step_id)
        return next(i for i, s in enumerate(self.steps) if s is step or (step.group and s.group == step.group))

    @property
    def sequence(self) -> str:
        """The steps in the order to say them, in words: "name, phone, …, then handoff" (a group's
        steps "in any order", an optional step "if needed")."""
        named = [[s.named + (" if needed" if s.optional else "") for s in steps] for _, steps in groupby(self.steps, key=lambda s: self.order_rank(s.id))]
        parts = [" / ".join(ids) + " in any order" if len(ids) > 1 else ids[0] for ids in named]
        return ", ".join(parts[:-1]) + f", then {parts[-1]}" if len(parts) > 1 else parts[0]

    @property
    def has_customer(self) -> bool:
        """Whether the simulated customer has anything to say in this drill (a cue or an answer)."""
        return bool(self.customer.cue or any(s.answer for s in self.steps))

    def script_lines(self) -> list[str]:
        """Every phrase the drill knows: steps, variants, forbidden phrases and fillers."""
        return [p for s in self.steps for p in s.phrases] + list(self.forbidden) + list(self.fillers)


def _spaced(text: str) -> str:
    """A wording's words as one string with a space either side: " what's the best email " holds
    the keyword " email " as words, never inside one ("emailing")."""
    return f" {' '.join(normalise(text))} "


def user_drills_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicedrill")) / "drills"


def drill_dirs() -> list[Path]:
    """Where drills live: shipped (inside an installed wheel, or `drills/` of a source checkout),
    then the user's own drills folder."""
    candidates = (PACKAGE_DIR / "_drills", PACKAGE_DIR.parent / "drills", user_drills_dir())
    return [d for d in candidates if d.is_dir()]


def list_drills() -> list[tuple[Path, Drill | VoicedrillError]]:
    """Every drill file found, each loaded or with the error that stops it being used (a file of
    the rep's own that shares a name with a drill coming with voicedrill is one of those)."""
    shipped: dict[str, Path] = {}
    for folder in shipped_dirs():
        for path in sorted(folder.glob("*.toml")):
            shipped.setdefault(path.stem, path)
    mine = sorted(user_drills_dir().glob("*.toml")) if user_drills_dir().is_dir() else []
    result: list[tuple[Path, Drill | VoicedrillError]] = []
    for path in sorted([*shipped.values(), *mine], key=lambda p: (p.stem, p in mine)):
        try:
            result.append((path, usable(path, load_drill_file(path))))
        except VoicedrillError as exc:
            result.append((path, exc))
    return result


def titles() -> dict[str, str]:
    """Each drill's title by its name, for views that hold only the name (a drill whose file is
    gone or broken has none: its name is shown)."""
    return {d.name: d.title for _, d in list_drills() if isinstance(d, Drill)}


def shipped_dirs() -> list[Path]:
    """The folders of the drills that come with voicedrill (not the rep's own)."""
    return [folder for folder in drill_dirs() if folder != user_drills_dir()]


def shipped_names() -> set[str]:
    """The names of the drills that come with voicedrill."""
    return {p.stem for folder in shipped_dirs() for p in folder.glob("*.toml")}


def usable(path: Path, drill: Drill) -> Drill:
    """The drill, unless it is a file in the rep's own drills folder (as found: a link there too)
    that is never used: it shares its file name or its name = with a drill coming with voicedrill
    (by name the shipped one is found; its reps would mix with that drill's history and targets),
    or its name = is not its file name (a drill is found by its file name)."""
    if Path(os.path.abspath(path)).parent != Path(os.path.abspath(user_drills_dir())):
        return drill
    shipped = shipped_names()
    if path.stem not in shipped and drill.name not in shipped:
        if drill.name != path.stem:
            raise NotUsed(f"{path}: not used: its name = line says {drill.name!r}, so voicedrill looks for it as {drill.name}.toml; rename the file or change that line")
        return drill
    fix = {(True, True): "rename the file and its name = line", (True, False): "rename the file", (False, True): "change its name = line"}
    taken = path.stem if path.stem in shipped else drill.name
    raise NotUsed(f"{path}: not used: voicedrill comes with a drill called {taken!r}; {fix[path.stem in shipped, drill.name in shipped]}")


class NotUsed(VoicedrillError):
    """A drill file that is fine but never used (see usable)."""


def listed_problem(path: Path, problem: VoicedrillError) -> str:
    """Why a drill file in the drills list is not offered, said without its folder (the list says where drills are)."""
    return problem.plain.removeprefix(f"{path}: ") if isinstance(problem, NotUsed) else "broken: " + problem.plain.replace(str(path), path.name)


def find_drill(name_or_path: str) -> Path:
    """Resolve `--drill NAME|PATH` to a file."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".toml" or os.path.lexists(path) or "/" in name_or_path:
        return path  # a path: load_drill_file says what is wrong with it, if anything
    for folder in drill_dirs():
        candidate = folder / f"{name_or_path}.toml"
        if os.path.lexists(candidate):  # (isfile: False, not an error, for names the system cannot hold)
            return candidate  # a pipe or a folder by that name: load_drill_file says what it is
    known = sorted({p.stem for d in drill_dirs() for p in d.glob("*.toml") if p.is_file()})
    raise VoicedrillError(f"no drill named {name_or_path!r} (known: {', '.join(known) or 'none'}); use one of these, or a drill file (.toml)")


def drill_name(name: str) -> str:
    """`name`, if it can name a drill (a page's choice, never a path), else refused in words."""
    if not _ID.match(name) or len(name) > MAX_DRILL_NAME:
        raise VoicedrillError(f"no drill named {name[:60]!r}: choose one from the drills list")
    return name


def load_named_drill(name: str) -> Drill:
    """A drill by its name only (never a path): what the app accepts from a page."""
    return load_drill(drill_name(name))


def load_drill(name_or_path: str) -> Drill:
    """Find (by name or path), read and validate a drill (never one of the rep's own that a
    shipped drill's name hides: see usable)."""
    path = find_drill(name_or_path)
    return usable(path, load_drill_file(path))


def load_drill_file(path: Path) -> Drill:
    """Read and validate the drill file at `path` (a path, never a name to look up)."""
    regular_input(path, "drill file")
    try:
        if path.stat().st_size > MAX_DRILL_BYTES:
            raise VoicedrillError(f"{path}: too large for a drill file (the limit is {MAX_DRILL_BYTES // 1024} KB)")
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark from Windows editors is fine
    except OSError as exc:
        raise VoicedrillError(f"{path}: cannot read drill file ({reason(exc)})") from None
    except UnicodeDecodeError:
        raise VoicedrillError(f"{path}: cannot read drill file (not UTF-8 text); save it as UTF-8") from None
    return parse_drill(text, str(path))


def _hint(text: str, line: int, problem: str) -> str:
    """What a manager most likely did on a line TOML refuses: curly quotes from a word processor,
    a quote left open, a quote inside a text, or a field given twice."""
    said = (text.splitlines() or [""])[min(line, len(text.splitlines() or [""])) - 1]
    if problem.startswith("Cannot overwrite") or problem.startswith("Cannot declare"):
        return " (this field or table is given twice: keep one of them)"
    if re.search(r"=\s*[“‘]", said):  # (a curly apostrophe inside straight quotes, "we’ll", is fine)
        return " (curly quotes “ ” from a word processor: type the text between straight quotes \" \")"
    if said.count('"') % 2:
        return " (a quote \" is not closed on this line: every text goes between two straight quotes)"
    if re.search(r'=\s*"[^"]*"[^"#]*"', said):
        return " (a straight quote \" inside a text ends it: quote words in it with curly quotes “ ”, or write \\\" for each)"
    return ""


def parse_drill(text: str, filename: str) -> Drill:
    """Parse drill TOML text; every problem is reported as `file:line: field: problem`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = match.group(1) if match else "1"
        problem = re.sub(r"\s*\(at line.*\)", "", str(exc))
        raise VoicedrillError(f"{filename}:{line}: invalid TOML: {problem}{_hint(text, int(line), problem)}") from None
    except RecursionError:
        raise VoicedrillError(f"{filename}:1: invalid TOML: tables or lists nested too deeply") from None
    return _Validator(text, filename).drill(data)


class DrillMistakes(VoicedrillError):
    """Every mistake found in one drill file, in file order, each `file:line: field: problem`.

    The message is the first one and how many more there are; `mistakes` lists them all."""

    def __init__(self, mistakes: list[str]):
        more = len(mistakes) - 1
        super().__init__(mistakes[0] + (f" (and {more} more mistake{'s' if more > 1 else ''} in this file)" if more else ""))
        self.mistakes = tuple(mistakes)


class _Mistake(VoicedrillError):
    """One mistake, with the source line it is on (for putting mistakes in file order)."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


class _Validator:
    """Checks a parsed drill table field by field, pointing errors at source lines.

    A mistake in one part does not stop the other parts being checked: the manager sees every one."""

    def __init__(self, text: str, filename: str):
        self.filename = filename
        self.lines = _key_lines(text)
        self.found: list[_Mistake] = []

    def fail(self, field: str, problem: str) -> _Mistake:
        line = self.line_of(field)
        return _Mistake(f"{self.filename}:{line}: {_counted(field)}: {problem}", line)

    def checked(self, part: Callable[[], T], fallback: T) -> T:
        """`part()`, or `fallback` with the mistake that stopped it recorded."""
        try:
            return part()
        except _Mistake as mistake:
            self.found.append(mistake)
            return fallback

    def line_of(self, field: str) -> int:
        """Best line for a field: its own key, else its table, else line 1."""
        while field not in self.lines:
            parent = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", field)
            if parent == field:
                return 1
            field = parent
        return self.lines[field]

    def drill(self, data: dict) -> Drill:
        """The drill, or DrillMistakes naming every mistake found. A check that rests on a part
        with a mistake of its own is left out (no mistake is reported only because of another)."""
        self.no_unknown(data, "", {"name", "title", "source", "description", "rules", "steps", "customer", "tips"})
        name = self.checked(lambda: self.name(data), "")
        rules = self.checked(lambda: self.table(data, "rules", "[rules]"), {})
        self.no_unknown(rules, "rules.", {"order", "last", "max_pause_s", "pace_wpm", "forbidden", "fillers", "pauses"})
        raw = data.get("steps")
        written = _written(raw) if isinstance(raw, list) and any(isinstance(e, dict) for e in raw) else None  # step id → group, as written (None: no steps to check against)
        steps = self.steps(raw)
        max_pause_s = self.checked(lambda: self.seconds(rules, "rules", "max_pause_s", 1.0), None)
        drill = Drill(
            name=name,
            title=self.checked(lambda: self.text(data, "title"), "") or name,
            source=self.checked(lambda: self.text(data, "source"), ""),
            description=" ".join(self.checked(lambda: self.text(data, "description"), "").split()),
            steps=steps,
            order=self.checked(lambda: self.order(rules), Order.STRICT),
            last=self.checked(lambda: self.last(rules, written), ()),
            max_pause_s=max_pause_s or 1.0,
            pace_wpm=self.checked(lambda: self.band(rules), (140.0, 200.0)),
            forbidden=self.checked(lambda: self.strings(rules, "rules.forbidden", "forbidden"), ()),
            fillers=self.checked(lambda: self.strings(rules, "rules.fillers", "fillers"), ()),
            customer=self.checked(lambda: self.customer(data.get("customer", {})), CustomerLines()),
            pause_rules=self.pause_rules(rules.get("pauses", []), written, max_pause_s),
            tips=self.checked(lambda: self.tips(data.get("tips", {})), ()),
        )
        if not self.found:
            self.said_apart(drill)
        if self.found:
            raise DrillMistakes([m.plain for m in sorted(self.found, key=lambda m: m.line)])
        return drill

    def said_apart(self, drill: Drill) -> None:
        """What a drill written well in each part still cannot tell apart when a rep reads it: a
        filler one of its lines says (reading the line exactly cost every rep 5 points), a wording
        two steps share (the second was always "skipped"), keywords none of a step's wordings holds
        (its own line read aloud scored 0), and an example line the example rep would be faulted for."""
        fillers = {" ".join(normalise(f)): f for f in drill.fillers}
        owner: dict[str, int] = {}
        wordings = [(i, phrase, _spaced(phrase)) for i, step in enumerate(drill.steps) for phrase in step.phrases]
        for i, step in enumerate(drill.steps):
            said = [_spaced(p) for p in step.phrases]
            if blank := next((p for p, spaced in zip(step.phrases, said) if not spaced.strip()), None):
                self.note(f"steps[{i}]", f"“{blank}” has no word the recogniser can hear (it hears English words): write it in words")
                continue
            inside = next(((phrase, j) for j, phrase, other in wordings if j != i for mine in said if mine in other and mine != other), None)
            if inside:
                self.note(f"steps[{i}]", f"its wording is inside step {inside[1] + 1}'s “{inside[0]}” ({drill.steps[inside[1]].named}): a rep saying "
                                         "that line would be heard saying this one too; word them apart")
            for filler in sorted({t for spaced in said for t in spaced.split()} & fillers.keys()):
                self.note("rules.fillers", f"“{fillers.pop(filler)}” is a filler, but step {i + 1} ({step.named}) says it: reading the line "
                                           "would count it as a filler; take it out of the fillers")
            for phrase, spaced in zip(step.phrases, said):
                if (first := owner.setdefault(spaced, i)) != i:
                    self.note(f"steps[{i}]", f"says “{phrase}” as step {first + 1} ({drill.steps[first].named}) does: a rep's line could "
                                             "never be told apart; word it differently (or make one step with repeat = true)")
                    break
            keyed = lambda spaced: not step.keywords or any(_spaced(k) in spaced for k in step.keywords)  # noqa: E731
            if not any(keyed(spaced) for spaced in said):
                self.note(f"steps[{i}].keywords", "none of them is in the step's line or variants: a rep reading the line would not be "
                                                  "heard saying it; list words the line says")
            elif step.example and (example := _spaced(step.example)).strip() and (set(example.split()) & fillers.keys() or not keyed(example)):
                self.note(f"steps[{i}].example", "the example rep would be heard " + ("saying a filler" if set(example.split()) & fillers.keys() else
                          "leaving the step out: none of its keywords is in it") + "; write it as a rep should say the line")

    def note(self, field: str, problem: str) -> None:
        """Record a mistake and go on checking."""
        self.found.append(self.fail(field, problem))

    def name(self, data: dict) -> str:
        name = self.text(data, "name", required=True)
        if not _ID.match(name):
            raise self.fail("name", f"{name!r} must be lower-case letters, digits, - or _ (it names files)")
        if len(name) > MAX_DRILL_NAME:  # (one of 101 was added, then could not be opened or practised: found by a fault attack)
            raise self.fail("name", f"{name[:40]!r}… is {len(name)} characters; at most {MAX_DRILL_NAME}")
        return name

    def table(self, data: dict, key: str, written: str) -> dict:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table ({written})")
        return value

    def order(self, rules: dict) -> Order:
        order = rules.get("order", "strict")
        if order not in tuple(Order):
            raise self.fail("rules.order", f"unknown order rule {order!r} (use one of: {', '.join(Order)})")
        return Order(order)

    def last(self, rules: dict, written: dict[str, str] | None) -> tuple[str, ...]:
        """`rules.last`: steps that exist, each once, in the order they are written, never splitting a group."""
        last = self.strings(rules, "rules.last", "last")
        if written is not None and (unknown := next((s for s in last if s not in written), None)):
            raise self.fail("rules.last", f"names unknown step {unknown!r}")
        if len(set(last)) != len(last):
            raise self.fail("rules.last", "lists a step twice")
        if written is not None and (wrong := next(((a, b) for a, b in zip(last, last[1:]) if list(written).index(a) > list(written).index(b)), None)):
            raise self.fail("rules.last", f"contradiction: {wrong[0]!r} before {wrong[1]!r}, but the steps are written the other way round "
                                          "(the drill said as written would be out of order): list them as the steps are written")
        for group in dict.fromkeys(g for g in (written or {}).values() if g):
            members = [step_id for step_id, g in written.items() if g == group]
            if 0 < sum(m in last for m in members) < len(members):
                raise self.fail("rules.last", f"contradiction: group {group!r} mixes last and other steps")
        return last

    def tips(self, table: object) -> tuple[tuple[str, str], ...]:
        if not isinstance(table, dict):
            raise self.fail("tips", "must be a table ([tips])")
        self.no_unknown(table, "tips.", set(DEFAULT_TIPS))
        tips = ((key, self.checked(lambda: self.tip(table, key, "tips", key), None)) for key in table if key in DEFAULT_TIPS)
        return tuple((key, tip) for key, tip in tips if tip is not None)

    def pause_rules(self, raw: object, written: dict[str, str] | None, max_pause_s: float | None) -> tuple[PauseRule, ...]:
        if not isinstance(raw, list):
            self.note("rules.pauses", "must be a list of [[rules.pauses]] tables")
            return ()
        rules = (self.pause_rule(f"rules.pauses[{i}]", entry, written, max_pause_s) for i, entry in enumerate(raw))
        return tuple(rule for rule in rules if rule is not None)

    def pause_rule(self, where: str, entry: object, written: dict[str, str] | None, max_pause_s: float | None) -> PauseRule | None:
        """One [[rules.pauses]] entry, or None with each of its mistakes recorded."""
        if not isinstance(entry, dict):
            self.note(where, "must be a table with from and to")
            return None
        before = len(self.found)
        self.no_unknown(entry, f"{where}.", {"from", "to", "min_s", "max_s"})
        ends = [self.checked(lambda key=key: self.text(entry, key, required=True, where=where), "") for key in ("from", "to")]
        for key, step_id in zip(("from", "to"), ends):
            if step_id and written is not None and step_id not in written:
                self.note(f"{where}.{key}", f"unknown step {step_id!r}")
        if ends[0] and ends[0] == ends[1]:
            self.note(f"{where}.to", "a pause goes between two different steps")
        low = self.checked(lambda: self.seconds(entry, where, "min_s", 0.0, allow_zero=True), None)
        high = self.checked(lambda: self.seconds(entry, where, "max_s", None), None) if "max_s" in entry else None
        if low is not None and high is not None and low > high:
            self.note(f"{where}.min_s", f"contradiction: min_s {low:g} is above max_s {high:g}")
        if low is not None and "max_s" not in entry and max_pause_s is not None and low > max_pause_s:
            self.note(f"{where}.min_s", f"contradiction: min_s {low:g} is above the drill's max_pause_s {max_pause_s:g}; give this pause its own max_s")
        return PauseRule(ends[0], ends[1], low or 0.0, high) if len(self.found) == before else None

    def customer(self, table: object) -> CustomerLines:
        if not isinstance(table, dict):
            raise self.fail("customer", "must be a table ([customer])")
        self.no_unknown(table, "customer.", {"cue", "hesitations", "next_step_answers"})
        return CustomerLines(self.checked(lambda: self.text(table, "cue", where="customer"), ""),
                             self.checked(lambda: self.strings(table, "customer.hesitations", "hesitations"), ()),
                             self.checked(lambda: self.flag(table, "customer", "next_step_answers"), False))

    def steps(self, raw: object) -> tuple[Step, ...]:
        """Every step written well; each step with a mistake is recorded and left out."""
        if raw is None:
            self.note("steps", "missing: a drill needs at least one [[steps]] entry")
            return ()
        if not isinstance(raw, list) or not raw:
            self.note("steps", "must be a non-empty list of [[steps]] tables")
            return ()
        if len(raw) > MAX_STEPS:
            self.note("steps", f"{len(raw)} steps: a drill is said in one go, so it has at most {MAX_STEPS}; split it into several drills")
            return ()
        steps: list[Step] = []
        shown: dict[str, int] = {}  # a step's name as shown (in any case) → its entry
        for i, entry in enumerate(raw):
            if (step := self.step(f"steps[{i}]", entry, set(_written(raw[:i])))) is not None:  # (a duplicate of a step with a mistake too)
                if (twin := shown.get(step.named.casefold())) is not None:  # said at the title written, this one's or the other's
                    where = i if step.title else twin
                    self.note(f"steps[{where}].title", f"{step.id} would be shown as {step.named!r}, as {raw[twin]['id']} is: give each step its own title")
                    continue
                shown[step.named.casefold()] = i
                steps.append(step)
        groups = [(i, e["group"].strip()) for i, e in enumerate(raw) if isinstance(e, dict) and isinstance(e.get("group"), str) and e["group"].strip()]
        for group in dict.fromkeys(g for _, g in groups):  # as written: a step left out for a mistake of its own still holds its place
            spots = [i for i, g in groups if g == group]
            if spots != list(range(spots[0], spots[0] + len(spots))):
                self.note(f"steps[{spots[-1]}].group", f"the steps of group {group!r} must be listed together")
        return tuple(steps)

    def step(self, where: str, entry: object, seen: set[str]) -> Step | None:
        """One [[steps]] entry, or None with each of its mistakes recorded."""
        if not isinstance(entry, dict):
            self.note(where, "must be a table with id and line")
            return None
        before = len(self.found)
        self.no_unknown(entry, f"{where}.", {"id", "title", "line", "variants", "keywords", "answer", "optional", "group", "repeat", "example", "tip"})
        step_id = self.checked(lambda: self.step_id(entry, where, seen), "")
        step = Step(
            id=step_id,
            line=self.checked(lambda: self.text(entry, "line", required=True, where=where), ""),
            variants=self.checked(lambda: self.strings(entry, f"{where}.variants", "variants"), ()),
            keywords=self.checked(lambda: self.strings(entry, f"{where}.keywords", "keywords"), ()),
            answer=self.checked(lambda: self.text(entry, "answer", where=where), ""),
            optional=self.checked(lambda: self.flag(entry, where, "optional"), False),
            group=self.checked(lambda: self.text(entry, "group", where=where), ""),
            repeat=self.checked(lambda: self.flag(entry, where, "repeat"), False),
            example=self.checked(lambda: self.text(entry, "example", where=where), ""),
            tip=self.checked(lambda: self.tip(entry, "tip", where, "skipped"), ""),
            title=self.checked(lambda: self.step_title(entry, where), ""),
        )
        return step if len(self.found) == before else None

    def step_id(self, entry: dict, where: str, seen: set[str]) -> str:
        step_id = self.text(entry, "id", required=True, where=where)
        if not _ID.match(step_id):
            raise self.fail(f"{where}.id", f"{step_id!r} must be lower-case letters, digits, - or _")
        if step_id in seen:
            raise self.fail(f"{where}.id", f"duplicate id {step_id!r}")
        return step_id

    def step_title(self, entry: dict, where: str) -> str:
        """A step's `title`: short, as it heads a column of the scorecard."""
        title = " ".join(self.text(entry, "title", where=where).split())
        if "title" in entry and all(unicodedata.category(c) in ("Cf", "Zs", "Cc") for c in title):  # (a zero-width space shows nothing)
            raise self.fail(f"{where}.title", "is empty: leave the line out to show the step's id")
        if len(title) > MAX_TITLE:
            raise self.fail(f"{where}.title", f"{len(title)} characters: a step's title heads a column, so it has at most {MAX_TITLE}")
        return title

    def no_unknown(self, table: dict, prefix: str, allowed: set[str]) -> None:
        """Record every field that is not one of `allowed`."""
        for key in table:
            if key not in allowed:
                self.note(f"{prefix}{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def text(self, table: dict, key: str, required: bool = False, where: str = "") -> str:
        field = f"{where}.{key}" if where else key
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(field, "missing required field")
            return ""
        if not isinstance(value, str):
            raise self.fail(field, f"must be a string, not {type(value).__name__}")
        if required and not value.strip():
            raise self.fail(field, "must not be empty")
        self.printable(field, value)
        return value.strip()

    def tip(self, table: dict, key: str, where: str, kind: str) -> str:
        """A coaching line of a `kind` whose {fields} are all ones voicedrill fills in for it,
        written plainly (a typo would otherwise fail every rep it coaches, or read as nothing)."""
        value, field, fields = self.text(table, key, where=where), f"{where}.{key}", TIP_FIELDS[kind]
        try:
            parts = list(string.Formatter().parse(value))
        except ValueError:
            raise self.fail(field, "has a { or } with no partner; write {{ or }} for a brace itself") from None
        for _, name, spec, conversion in parts:
            if name is not None and name not in fields:
                known = "use " + ", ".join(f"{{{f}}}" for f in fields) if fields else "it has none"
                raise self.fail(field, f"{{{name}}} is not a field voicedrill fills in for this tip; {known}")
            if spec or conversion:
                raise self.fail(field, f"write just {{{name}}}: voicedrill writes it out for you")
        return value

    def printable(self, field: str, value: str) -> None:
        """Text the rep's screen can show: no control characters (terminal escape codes among them
        would reach it raw), and not longer than a paragraph."""
        if len(value) > MAX_TEXT_CHARS:
            raise self.fail(field, f"{len(value)} characters: at most {MAX_TEXT_CHARS}")
        if bad := next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\t"), None):
            raise self.fail(field, f"contains a control character (U+{ord(bad):04X}); remove it")

    def strings(self, table: dict, field: str, key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        if len(value) > MAX_PHRASES:
            raise self.fail(field, f"{len(value)} entries: at most {MAX_PHRASES}")
        for v in value:
            self.printable(field, v)
        return tuple(v.strip() for v in value)

    def flag(self, table: dict, where: str, key: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", f"must be true or false, not {value!r}")
        return value

    def seconds(self, table: dict, where: str, key: str, default: float | None, allow_zero: bool = False) -> float:
        value = table.get(key, default)
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < 0 or (value == 0 and not allow_zero) or value >= 3600:
            least = "0 or more" if allow_zero else "above 0"
            raise self.fail(f"{where}.{key}", f"must be a number of seconds {least}, got {value!r}")
        return float(value)

    def band(self, rules: dict) -> tuple[float, float]:
        value = rules.get("pace_wpm", [140, 200])
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and 0 < value[0] < value[1] <= 600
        )
        if not ok:
            raise self.fail("rules.pace_wpm", f"must be [low, high] words per minute with 0 < low < high <= 600, got {value!r}")
        return float(value[0]), float(value[1])


def _written(raw: list) -> dict[str, str]:
    """Each step id the drill's [[steps]] write, with its group ("" for none), whatever else is
    wrong with their steps: the rules that name a step rest on what the manager wrote."""
    entries = [e for e in raw if isinstance(e, dict) and isinstance(e.get("id"), str)]
    return {e["id"].strip(): e["group"].strip() if isinstance(e.get("group"), str) else "" for e in entries}


def _counted(field: str) -> str:
    """A field path as a manager counts: `steps[1].keywords` is "step 2, keywords", `rules.pauses[0]`
    is "rules.pauses, entry 1"."""
    def one(match: re.Match) -> str:
        number = int(match.group(2)) + 1
        return (f"step {number}" if match.group(1) == "steps" else f"{match.group(1)}, entry {number}") + (", " if match.group(3) else "")
    return re.sub(r"([A-Za-z_.]+)\[(\d+)\](\.?)", one, field)


def _key_lines(text: str) -> dict[str, int]:
    """Map field paths like `steps[2].id` and `rules.max_pause_s` to their 1-based source lines
    (the lines inside a multi-line string are text, never a table or a key)."""
    lines: dict[str, int] = {}
    table = ""
    counts: dict[str, int] = {}
    inside = ""  # the quotes of the multi-line string the line is in
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if inside:
            inside = "" if raw.count(inside) % 2 else inside
            continue
        inside = next((quotes for quotes in ('"""', "'''") if raw.count(quotes) % 2), "")
        if line.startswith("[["):
            name = line.strip("[] ")
            index = counts.get(name, -1) + 1
            counts[name] = index
            table = f"{name}[{index}]"
            lines.setdefault(name, number)
            lines[table] = number
        elif line.startswith("["):
            table = line.strip("[] ")
            lines.setdefault(table, number)
        else:
            match = re.match(r"""^["']?([A-Za-z0-9_-]+)["']?\s*=""", line)
            if match:
                key = f"{table}.{match.group(1)}" if table else match.group(1)
                lines.setdefault(key, number)
    return lines
