"""Driving the pipeline: an audio file through an engine into a rep report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

from .analysis import analyse
from .asr import Engine, transcribe
from .audio import SilenceTracker, probe, stream_file
from .data import RepReport
from .drills import Drill
from .synth import Piece, build_rep, write_wav

# espeak-ng's lone "Email?" is heard as "the" by pocketsphinx's en-us model (every voice and
# rate we tried), so the example says the drill's fuller email variant, which both engines hear.
EXAMPLE_LINES = {"email": "And what's the best email for you?"}
EXAMPLE_SLOW_STEP = "payment"  # the example hesitates before this step, to show a flagged pause


def check_file(path: str | Path, drill: Drill, engine: Engine) -> RepReport:
    """Transcribe a recorded rep and score it against the drill."""
    probe(path)  # fail on bad files before any decoding
    tracker = SilenceTracker()
    transcript = transcribe(engine, tracker.tee(stream_file(path)))
    return analyse(transcript.words, drill, engine.name, transcript.audio_s, tracker.silences())


def example_pieces(drill: Drill, pause_s: float = 0.3, slow_pause_s: float = 1.6) -> list[Piece]:
    """The drill said through once, with one hesitation over the limit before `payment`."""
    return [
        Piece(
            EXAMPLE_LINES.get(step.id, step.line),
            step.id,
            slow_pause_s if step.id == EXAMPLE_SLOW_STEP else pause_s,
        )
        for step in drill.steps
    ]


def example_rep(drill: Drill) -> Path:
    """A synthesised example rep of the drill, made once and kept in the user cache."""
    path = Path(platformdirs.user_cache_dir("voicedrill")) / f"example-{drill.name}.wav"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    audio, _ = build_rep(example_pieces(drill))
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        write_wav(tmp, audio)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
