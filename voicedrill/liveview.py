"""What a rep sees while speaking: the script with the current step, ticks, transcript, timer, pause meter."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .data import RepReport
from .live import LiveRep, LiveState, StepEvent, run_rep

REFRESH_PER_S = 12
TRANSCRIPT_WORDS = 14


def render(state: LiveState, title: str) -> Group:
    """The live screen for the current state."""
    script = Table.grid(padding=(0, 1))
    current = state.current_step()
    for step in state.drill.steps:
        event = state.heard.get(step.id)
        if step.id in state.out_of_order:
            mark, style = "✗", "bold yellow"
        elif event:
            mark, style = "✓", "green"
        elif step.id == current:
            mark, style = "▶", "bold reverse"
        else:
            mark, style = " ", "dim"
        script.add_row(Text(mark, style=style), Text(step.id, style=style), Text(step.line, style=style))
    words = state.words[-TRANSCRIPT_WORDS:]
    final_count = max(0, len(words) - len(state.partial))
    transcript = Text("… " if len(state.words) > TRANSCRIPT_WORDS else "")
    for i, word in enumerate(words):
        transcript.append(word.text + " ", style="" if i < final_count else "dim italic")
    pause = state.pause_s()
    over = pause > state.drill.max_pause_s
    meter = Text(f"pause {pause:4.1f}s " + "█" * min(20, int(pause * 10)), style="bold red" if over else "green")
    if over:
        meter.append("  keep moving!", style="bold red")
    status = Text(f"{title}   ⏱ {state.audio_s:5.1f}s   ")
    turn = state.customer_speaking()
    if turn:
        status.append(f"customer: “{turn.text}”", style="bold cyan")
    else:
        status.append_text(meter)
    return Group(status, script, transcript)


class LiveView:
    """Runs a rep with a live display on a terminal, or step lines when output is not a terminal."""

    def __init__(self, console: Console):
        self.console = console

    def run(self, rep: LiveRep, source: Iterable[np.ndarray], title: str, customer=None) -> RepReport:
        if not self.console.is_terminal:
            printed = [0]
            return run_rep(rep, source, lambda state, events: self._print_events(state, events, printed), customer)
        with Live(render(rep.state, title), console=self.console, refresh_per_second=REFRESH_PER_S, transient=True) as live:
            return run_rep(rep, source, lambda state, events: live.update(render(state, title)), customer)

    def _print_events(self, state: LiveState, events: list[StepEvent], printed: list[int]) -> None:
        """Without a terminal: one line per step heard and per customer line."""
        for turn in state.turns[printed[0] :]:
            self.console.print(f"  customer ({turn.kind}) at {turn.start:.1f}s: {turn.text}", markup=False)
        printed[0] = len(state.turns)
        for event in events:
            note = "  [yellow]out of order[/]" if event.out_of_order else ""
            self.console.print(f"  ✓ {event.step} at {event.at_s:.1f}s{note}")
