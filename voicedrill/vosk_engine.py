"""The vosk engine: the main recogniser, streaming with word times and confidences."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence

import numpy as np

from .audio import RATE
from .data import Word
from .drills import Drill
from .errors import VoicedrillError
from .models import FoundModel

UNKNOWN = "[unk]"


@contextlib.contextmanager
def _kaldi_quiet() -> Iterator[None]:
    """Standard error closed to Kaldi's own log lines ("ERROR: ConstFst::Read…") while a model
    loads: a model that fails says so in one line of ours."""
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to quiet, and no load error to blame on it
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [
        Word(r["word"], float(r["start"]), float(r["end"]), float(r.get("conf", 1.0)))
        for r in result.get("result", result.get("partial_result", []))
        if r["word"] != UNKNOWN
    ]


def phrase_list(drill: Drill) -> str:
    """The drill's script as a vosk phrase list (JSON): its lines, variants, forbidden phrases and
    fillers, and "[unk]" for anything else. Small vosk models build their graph from it at run time;
    words the model does not know are left out (vosk says which). vosk reads the JSON as UTF-8 text,
    not escapes."""
    return json.dumps([_spoken(line) for line in drill.script_lines()] + [UNKNOWN], ensure_ascii=False)


def _heard(recognizer, audio: np.ndarray) -> str | None:
    """`audio` decoded whole by a fresh vosk recognizer: its words, "[unk]" left out, or None."""
    recognizer.AcceptWaveform(audio.tobytes())
    return " ".join(w for w in json.loads(recognizer.FinalResult()).get("text", "").split() if w != UNKNOWN) or None


def _spoken(line: str) -> str:
    """A line as vosk's words: lower case, punctuation dropped, any script's letters kept."""
    return " ".join(re.findall(r"[\w']+", line.lower()))


class VoskRecognizer:
    """One stream over a loaded vosk model, free or held to a phrase list."""

    def __init__(self, model: object, phrases: str | None = None):
        import vosk

        self._rec = vosk.KaldiRecognizer(model, RATE, phrases) if phrases else vosk.KaldiRecognizer(model, RATE)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)

    def accept(self, pcm: np.ndarray) -> list[Word]:
        if self._rec.AcceptWaveform(pcm.tobytes()):
            return _words(self._rec.Result())
        return []

    def partial(self) -> list[Word]:
        return _words(self._rec.PartialResult())

    def finish(self) -> list[Word]:
        return _words(self._rec.FinalResult())

    def close(self) -> None:
        """Nothing to give back: each vosk stream has a recogniser of its own."""


class VoskEngine:
    """Loads a vosk model once; each rep gets a fresh recogniser over it.

    With `phrases` (a drill's phrase_list) recognition is held to the script: off-script speech
    comes back as nothing rather than as words, so it is for measuring (bench/run.py
    --vosk-phrases) until an English model shows it pays.
    """

    name = "vosk"
    recipe = None  # vosk lets go of Python's lock while it decodes, and a second copy of a large model would double its memory

    def __init__(self, found: FoundModel, phrases: str | None = None):
        import vosk

        vosk.SetLogLevel(-2)  # errors only: Kaldi warnings (e.g. "partial word at end of utterance") mean nothing to a rep
        try:
            with _kaldi_quiet():
                self.model = vosk.Model(str(found.path))
                VoskRecognizer(self.model, phrases)  # a damaged graph loads as a model and fails only here
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model" / "…a recognizer")
            raise VoicedrillError(f"{found.path}: vosk could not load this model ({exc}); re-download it with: voicedrill model download") from None
        self.description = f"vosk, model {found.path.name} ({found.why})"
        self.model_name = str(found.path)
        self.phrases = phrases

    def hear_only(self, audio: np.ndarray, phrases: Sequence[str]) -> str | None:
        """Decode `audio` held to just these phrases and "[unk]" (see second_look): the words
        heard (vosk makes a small language model of the phrases), or None."""
        import vosk

        allowed = sorted({_spoken(p) for p in phrases} - {""})  # vosk itself drops words its model lacks
        if not allowed or not audio.size:
            return None
        return _heard(vosk.KaldiRecognizer(self.model, RATE, json.dumps([*allowed, UNKNOWN], ensure_ascii=False)), audio)

    def hear_freely(self, audio: np.ndarray) -> str | None:
        """Decode `audio` by the model free of the phrase list this engine is held to (see
        second_look): the words heard, or None. An engine held to none streams freely already: None."""
        import vosk

        if self.phrases is None or not audio.size:
            return None
        return _heard(vosk.KaldiRecognizer(self.model, RATE), audio)

    def hear_filler(self, audio: np.ndarray, fillers: Sequence[str], words: Sequence[str]) -> str | None:
        """Decode a lone sound held to these fillers and words, or "[unk]" (see second_look): what was heard, or None."""
        return self.hear_only(audio, [*fillers, *words])

    def recognizer(self) -> VoskRecognizer:
        return VoskRecognizer(self.model, self.phrases)
