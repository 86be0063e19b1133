"""What a rep sees while speaking: the script with the current step, ticks, transcript, timer, pause meter.

The view reads the live state and the live events after every block; it redraws from that same
loop (at most REFRESH_PER_S times a second, and at once when something happens), so what it
shows never depends on how fast the audio is fed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .data import RepReport
from .drills import Drill
from .report import render
from .live import UNHEARD_ASK, EventType, LiveEvent, Listener, LiveRep, LiveState, run_rep

REFRESH_PER_S = 12
METER_CELLS = 20


def pause_meter(state: LiveState) -> Text:
    """The pause under way: green while it is fine, red past the limit, counting up to a required pause."""
    pause = state.pause_s
    bar = "█" * min(METER_CELLS, int(pause * 10))
    if state.pause_limits is None:
        return Text(f"pause {pause:4.1f}s {bar}", style="dim")
    low, high = state.pause_limits
    if state.alarm and state.resumed:  # they are talking again: the pause is over, and was too long
        return Text(f"pause {pause:4.1f}s {bar}  too long (limit {high:g}s)", style="red")
    if state.alarm:
        return Text(f"pause {pause:4.1f}s {bar}  keep moving!", style="bold red")
    if pause < low:
        return Text(f"pause {pause:4.1f}s {bar}  hold the pause: {low - pause:.1f}s more", style="bold cyan")
    return Text(f"pause {pause:4.1f}s {bar}", style="green")


def panel(state: LiveState, title: str) -> Group:
    """The live screen for the current state."""
    script = Table.grid(padding=(0, 1))
    current = state.current_step(required=True)  # (an optional step, the concern, is said only when they hesitate)
    early, note = state.early, state.early_note()
    for step in state.drill.steps:
        if step.id in state.out_of_order:
            mark, style = "✗", "bold yellow"
        elif step.id in early:  # (out of order if the step still unheard comes after it)
            mark, style = "?", "yellow"
        elif step.id in state.heard:
            mark, style = "✓", "green"
        elif step.id == current:
            mark, style = "▶", "bold reverse"
        else:
            mark, style = " ", "dim"
        script.add_row(Text(mark, style=style), Text(step.named, style=style), Text(step.line + (f" ({note})" if step.id in early else ""), style=style))
    transcript = Text("heard: " if state.last_step else "", style="dim")
    for word, caught in state.said_line():
        transcript.append(word + " ", style="" if caught else "dim")
    status = Text(f"{title}   ⏱ {state.audio_s:5.1f}s   ")
    turn = state.customer_speaking()
    if turn:
        status.append(f"customer: “{turn.text}”", style="bold cyan")
    elif state.unheard:
        status.append(UNHEARD_ASK, style="bold yellow")
    else:
        status.append_text(pause_meter(state))
    return Group(status, script, transcript)


def event_line(event: LiveEvent, drill: Drill) -> str | None:
    """One plain line per live event, for output that is not a terminal (steps by their names)."""
    if event.type == EventType.STEP:
        if event.text:  # said early: out of order only if the step it waits on comes after it
            return f"  ? {drill.named(event.step)}, said by {event.t:.1f}s ({event.text})"
        return f"  ✓ {drill.named(event.step)}, said by {event.t:.1f}s" + ("  (out of order)" if event.out_of_order else "")
    if event.type == EventType.OUT_OF_ORDER:  # ("by": when it was heard; the scorecard's "at" is where the line starts)
        return f"  ✗ {drill.named(event.step)} out of order, said by {event.t:.1f}s" + (f" ({event.text})" if event.text else "")
    if event.type == EventType.PAUSE_ALARM:
        return f"  ! pause after {drill.named(event.after) if event.after else 'the customer'} at {event.t:.1f}s: keep moving"
    if event.type == EventType.CUSTOMER:
        return f"  customer ({event.kind}) at {event.t:.1f}s: {event.text}"
    return None


class LiveView:
    """The terminal screen of a run (practice.Screen). Runs a rep with a live display on a terminal, or event lines when output is not a terminal.

    `also` receives the same state and events (e.g. the --events stream)."""

    def __init__(self, console: Console, also: Listener | None = None):
        self.console = console
        self.also = also

    def cue(self, text: str) -> None:
        self.console.print(f"[bold]{escape(text)}[/]")

    def notice(self, text: str) -> None:
        self.console.print(text, markup=False)  # wrapped between words at the terminal's width

    def scored(self, number: int, report: RepReport, kept, title: str) -> None:
        """The scorecard, then what went wrong saving it, or right again (in words)."""
        render(report, self.console, title=title)
        for problem in kept.problems:
            self.console.print(f"[yellow]{escape(problem)}[/]")
        for note in kept.notes:
            self.console.print(escape(note))

    def wants_more(self) -> bool:
        return True  # a terminal run stops with Ctrl-C

    def run(self, rep: LiveRep, source: Iterable[np.ndarray], title: str, customer=None) -> RepReport:
        if not self.console.is_terminal:
            return run_rep(rep, source, self._listener(self._print_events), customer)
        with Live(panel(rep.state, title), console=self.console, auto_refresh=False, transient=True) as live:
            drawn = [0.0]

            def redraw(state: LiveState, events: list[LiveEvent]) -> None:
                now = time.monotonic()
                if events or now - drawn[0] >= 1 / REFRESH_PER_S:
                    drawn[0] = now
                    live.update(panel(state, title), refresh=True)

            return run_rep(rep, source, self._listener(redraw), customer)

    def _listener(self, show: Listener) -> Listener:
        if self.also is None:
            return show

        def both(state: LiveState, events: list[LiveEvent]) -> None:
            self.also(state, events)
            show(state, events)

        return both

    def _print_events(self, state: LiveState, events: list[LiveEvent]) -> None:
        for event in events:
            if line := event_line(event, state.drill):
                self.console.print(line, markup=False)
