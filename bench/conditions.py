"""Recipes that make a bench rep sound like a desk, and the corpus of conditions built from them.

A condition is a way of saying the drill (voices, speaking rate, the words used) and what happens
to the sound on its way to the recogniser (room noise, reverberation, a laptop microphone's band,
a telephone line). Every condition but `clean` has room noise under the whole rep, gaps included:
a real recording never holds digital silence. The `human` rows join pocketsphinx-testdata's
librivox sentences (a drill of their own, bench/librivox.toml) with known gaps of room noise, and
another speaker's "go somewhere and do something" as the phrase that drill forbids; the `cards`
rows do the same with its five short hands of cards said by another person (bench/cards.toml:
lines of two to nine words that share "of clubs"), forbidding "go forward ten meters".
Only numpy and soxr: filters and convolution are done in the frequency domain (pocketsphinx only
aligns the human sentences' known words, for their second truth: speech_edges).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from voicedrill.audio import RATE, to_pcm16
from voicedrill.drills import Drill, load_drill
from voicedrill.synth import Piece, Segment, build_rep

TESTDATA = Path("/usr/share/pocketsphinx/test/data")  # Debian's pocketsphinx-testdata
PHONE_RATE = 8000
BASE_SNR_DB = 30.0  # the quiet office under every condition but `clean`
PAD_S = 0.3  # silence either side of a sentence aligned alone
TAIL_S = 0.05  # kept before the forbidden phrase's first aligned word and after its last

# Lines said in other words than the hard-close drill lists (its keywords mostly kept, as a rep would).
PARAPHRASES = {
    "name": "Awesome. What name do you want on the account?",
    "phone": "And the best number to call you on?",
    "email": "What email should we use?",
    "address": "And we're at this address, correct?",
    "notes": "Anything you want me to note for the technician?",
    "payment": "Will you be paying with a credit card or a debit card?",
    "handoff": "Alright, you're all set. The tech comes out tomorrow and you're going to love it.",
}


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (1: pink, 2: brown), at unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum *= np.where(freqs < 20.0, 0.0, np.maximum(freqs, 20.0) ** (-exponent / 2))  # no DC or sub-audio drift
    noise = np.fft.irfft(spectrum, n)
    return noise / np.sqrt(np.mean(noise**2))


def room_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """An office's steady noise: a ventilation rumble (brown) under broadband hiss (pink), unit RMS."""
    noise = colored_noise(n, 2.0, rng) + 0.6 * colored_noise(n, 1.0, rng)
    return noise / np.sqrt(np.mean(noise**2))


def speech_rms(audio: np.ndarray, segments: list[Segment]) -> float:
    """RMS of the audio where speech was placed (the gaps left out)."""
    spans = [audio[int(s.start * RATE) : int(s.end * RATE)] for s in segments]
    joined = np.concatenate(spans)
    return float(np.sqrt(np.mean(joined**2)))


def add_noise(audio: np.ndarray, segments: list[Segment], snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Room noise under the whole rep at `snr_db` below the speech's own level."""
    level = speech_rms(audio, segments) / 10 ** (snr_db / 20)
    return audio + level * room_noise(audio.size, rng)


def band(audio: np.ndarray, low_hz: float, high_hz: float, rate: int = RATE) -> np.ndarray:
    """A band-pass with gentle (one octave) skirts, as a small microphone or a phone line has."""
    spectrum = np.fft.rfft(audio)
    freqs = np.maximum(np.fft.rfftfreq(audio.size, 1 / rate), 1e-3)
    low = np.clip(np.log2(freqs / low_hz) + 1, 0, 1)  # full gain from low_hz up, zero an octave below
    high = np.clip(np.log2(high_hz / freqs) + 1, 0, 1)
    return np.fft.irfft(spectrum * low * high, audio.size)


def reverb(audio: np.ndarray, rt60_s: float, rng: np.random.Generator, direct_to_reverb_db: float = 3.0) -> np.ndarray:
    """A room: the direct sound plus an exponentially decaying noise tail (a synthetic impulse response)."""
    t = np.arange(int(rt60_s * RATE)) / RATE
    tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.005 * RATE)] = 0.0  # first reflections arrive after a few milliseconds
    tail *= 10 ** (-direct_to_reverb_db / 20) / np.sqrt(np.sum(tail**2))
    tail[0] = 1.0  # the direct sound
    size = audio.size + tail.size
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(tail, size), size)
    return wet[: audio.size]


Effect = Callable[[np.ndarray, list[Segment], np.random.Generator], np.ndarray]


def noisy(snr_db: float) -> Effect:
    return lambda audio, segments, rng: add_noise(audio, segments, snr_db, rng)


def reverberant(audio, segments, rng):
    return add_noise(reverb(audio, 0.5, rng), segments, BASE_SNR_DB, rng)


def laptop(audio, segments, rng):
    return band(add_noise(audio, segments, BASE_SNR_DB, rng), 100.0, 7000.0)


def telephone(audio, segments, rng):
    """The 300–3400 Hz line of a phone call; the file is then written at 8 kHz (see `render`)."""
    return band(add_noise(audio, segments, BASE_SNR_DB, rng), 300.0, 3400.0)


@dataclass(frozen=True)
class People:
    """Recordings of people made into a drill of their own (bench/<name>.toml): each line of the
    transcription (pocketsphinx's "<s> words </s> (file)") is a step's line, and a recording of
    someone else (16 kHz, 16-bit raw) says the phrase the drill forbids."""

    name: str
    folder: Path
    transcription: str
    forbidden: tuple[str, Path]  # (what is said, the recording)

    @property
    def drill(self) -> Path:
        return Path(__file__).parent / f"{self.name}.toml"


LIBRIVOX = People("librivox", TESTDATA / "librivox", "transcription", ("go somewhere and do something", TESTDATA / "something.raw"))
CARDS = People("cards", TESTDATA / "cards", "cards.transcription", ("go forward ten meters", TESTDATA / "goforward.raw"))


@dataclass(frozen=True)
class Condition:
    """One row of the bench: how the reps are said, and what happens to the sound."""

    name: str
    takes: tuple[tuple[str, int], ...]  # (voice, wpm) per rendering; --quick keeps the first
    effect: Effect = noisy(BASE_SNR_DB)
    wording: str = "example"  # "example" (the drill's example lines), "line" (the script's own: "Email?"), "paraphrase"
    file_rate: int = RATE
    people: People | None = None  # recordings of people joined, not espeak-ng's voices
    seeds: tuple[int, ...] = field(default=(0,))


VOICES = (("gmw/en-us", 175), ("gmw/en", 175), ("gmw/en-us-nyc", 175))
CONDITIONS = (
    Condition("clean", VOICES, effect=lambda audio, segments, rng: audio),
    Condition("noise-30dB", VOICES),
    Condition("noise-20dB", VOICES, noisy(20.0)),
    Condition("noise-12dB", VOICES, noisy(12.0)),
    Condition("reverb", VOICES, reverberant),
    Condition("laptop-mic", VOICES, laptop),
    Condition("phone-8k", VOICES, telephone, file_rate=PHONE_RATE),
    Condition("rate-120", (("gmw/en-us", 120), ("gmw/en", 120), ("gmw/en-us-nyc", 120))),
    Condition("rate-240", (("gmw/en-us", 240), ("gmw/en", 240), ("gmw/en-us-nyc", 240))),
    Condition("voices", (("gmw/en-us+f3", 175), ("gmw/en-gb-scotland", 190), ("gmw/en-029+m3", 160))),
    Condition("script-lines", (("gmw/en-us", 220), ("gmw/en", 175), ("gmw/en-us-nyc", 240)), wording="line"),
    Condition("paraphrase", (("gmw/en-us", 175), ("gmw/en", 200), ("gmw/en-us-nyc", 150)), wording="paraphrase"),
    Condition("human", (("librivox", 0),), people=LIBRIVOX, seeds=(0, 1, 2)),
    Condition("human-12dB", (("librivox", 0),), noisy(12.0), people=LIBRIVOX, seeds=(0, 1, 2)),
    Condition("human-reverb", (("librivox", 0),), reverberant, people=LIBRIVOX, seeds=(0, 1, 2)),
    Condition("cards", (("cards", 0),), people=CARDS, seeds=(0, 1, 2)),
    Condition("cards-12dB", (("cards", 0),), noisy(12.0), people=CARDS, seeds=(0, 1, 2)),
    Condition("cards-reverb", (("cards", 0),), reverberant, people=CARDS, seeds=(0, 1, 2)),
)


@dataclass(frozen=True)
class Case:
    """A seeded error (or none): the pieces said, each step's true status, the step it is about."""

    name: str
    pieces: list[Piece]
    expected: dict[str, str]
    target: str = ""


def cases(drill: Drill, lines: dict[str, str], gap_s: float, forbidden: str = "So you want to do it?", filler: str | None = "Um,") -> list[Case]:
    """Clean, skipped step, swapped steps, long pause, forbidden phrase, filler, repeated step.

    Which steps: the middle one skipped, the two before the last swapped, the long pause before
    the one before last, the second step repeated (for the hard close: address, notes ↔ payment,
    payment, phone). No filler case where `filler` is None (no recording of one).
    """
    from voicedrill.align import judge_order

    ids = [s.id for s in drill.steps]
    n = len(ids)
    base = [Piece(lines[i], i, gap_s) for i in ids]
    swap = list(base)
    swap[n - 3], swap[n - 2] = swap[n - 2], swap[n - 3]
    recipes = [
        ("clean", base, ""),
        ("skip", [p for p in base if p.label != ids[n // 2]], ids[n // 2]),
        ("swap", swap, ""),
        ("long-pause", [Piece(p.text, p.label, 2.0) if p.label == ids[n - 2] else p for p in base], ids[n - 2]),
        ("repeat", [*base[:3], Piece(base[1].text, "again", gap_s), *base[3:]], ids[1]),
    ]
    recipes[4:4] = [("forbidden", [base[0], Piece(forbidden, "", gap_s), *base[1:]], "")]
    if filler is not None:
        recipes[5:5] = [("filler", [*base[:2], Piece(filler, "", 0.4), *base[2:]], "")]
    result = []
    for name, pieces, target in recipes:
        said = [p.label for p in pieces if p.label in ids]
        late = judge_order(said, drill)[0]
        expected = {i: "missing" if i not in said else "out_of_order" if i in late else "ok" for i in ids}
        if name == "repeat":
            expected[target] = "repeated"
        result.append(Case(name, pieces, expected, target))
    return result


def said_in(condition: Condition, drill: Drill) -> list[Case]:
    """The cases a condition says: its wording of the drill's lines, or the people's recordings."""
    if condition.people:
        return cases(drill, {s.id: s.line for s in drill.steps}, 0.5, forbidden=condition.people.forbidden[0], filler=None)
    return cases(drill, wording(drill, condition.wording), 0.5)


def wording(drill: Drill, how: str) -> dict[str, str]:
    """Each step's line as this condition says it."""
    if how == "paraphrase":
        return PARAPHRASES
    return {s.id: s.line if how == "line" else s.example_line for s in drill.steps}


@dataclass(frozen=True)
class Rep:
    """One rendered rep of the corpus with its truth (for human speech, also the segments cut to
    the words the acoustic model aligns in each clean sentence: see speech_edges)."""

    condition: str
    case: Case
    path: Path
    segments: list[Segment]
    drill: Drill
    spoken: list[Segment] | None = None


@lru_cache(maxsize=None)
def human_clips(people: People) -> dict[str, np.ndarray]:
    """Each of the people's lines, and the phrase their drill forbids, cut to its speech (its own
    lead-in and tail of silence dropped)."""
    clips = {}
    for line in (people.folder / people.transcription).read_text().splitlines():
        text, name = re.match(r"<s> (.*) </s> \((.*)\)", line.strip()).groups()
        audio, rate = sf.read(str(people.folder / f"{name}.wav"), dtype="float32")
        clips[" ".join(text.split())] = trim(audio if rate == RATE else soxr.resample(audio, rate, RATE))
    text, path = people.forbidden
    phrase = trim(np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0)
    # cut to its words: the noise a recording keeps round them would lengthen the seeded gaps
    # (0.26 s after "something", 0.38 s before "go forward")
    first, last = aligned_edges(phrase, text)
    said = phrase[max(0, int((first - TAIL_S) * RATE)) : int((last + TAIL_S) * RATE)]
    # said as loud as the lines, as one person would say it: brought within their range of levels
    # (goforward.raw is 9 dB under the quietest hand of cards; "something" is within the sentences')
    levels, level = [loudness(c) for c in clips.values()], loudness(said)
    clips[text] = said * np.float32(10 ** ((np.clip(level, min(levels), max(levels)) - level) / 20))
    return clips


def loudness(audio: np.ndarray) -> float:
    """A recording's speech level: the 95th percentile of its 10 ms frames' levels, in dB."""
    return float(np.percentile(frame_levels(audio), 95))


def frame_levels(audio: np.ndarray, frame: int = 160) -> np.ndarray:
    """The level of each 10 ms frame of a recording, in dB."""
    frames = audio[: audio.size // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-10))


@lru_cache(maxsize=None)
def speech_edges(people: People, text: str) -> tuple[float, float]:
    """Seconds of a clean recorded line (as human_clips cuts it) before its first word and after
    its last, where pocketsphinx aligns the known words to the recording: the energy cut keeps a
    breath before "he was not…" (0.19 s) and the decay after a last word as speech."""
    clip = human_clips(people)[text]
    first, last = aligned_edges(clip, text)
    return round(max(0.0, first), 2), round(max(0.0, clip.size / RATE - last), 2)


def aligned_edges(clip: np.ndarray, text: str) -> tuple[float, float]:
    """Where pocketsphinx aligns the known words of `text` in a clean clip: its first word's start
    and its last word's end, in seconds from the clip's start."""
    import pocketsphinx

    from voicedrill.audio import with_hiss
    from voicedrill.sphinx_engine import _utterance, _words

    pad = int(PAD_S * RATE)
    audio = with_hiss(to_pcm16(np.concatenate([np.zeros(pad), clip, np.zeros(pad)])))
    decoder = pocketsphinx.Decoder(samprate=RATE, loglevel="FATAL")
    decoder.set_align_text(text)
    with _utterance(decoder):
        decoder.process_raw(audio.tobytes(), False, True)
    words = _words(decoder, -PAD_S)  # timed from the clip's start
    return words[0].start, words[-1].end


def where_words_are(people: People, segments: list[Segment]) -> list[Segment]:
    """Joined recorded lines cut to their aligned words (speech_edges): human speech's truth."""
    return [replace(s, start=s.start + lead, end=s.end - tail) for s in segments for lead, tail in [speech_edges(people, s.text)]]


def trim(audio: np.ndarray, frame: int = 160) -> np.ndarray:
    """Drop a clean recording's leading and trailing silence: frames 10 dB over its noise floor are speech."""
    db = frame_levels(audio, frame)
    loud = np.flatnonzero(db > np.percentile(db, 5) + 10.0)
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def join(pieces: list[Piece], clips: dict[str, np.ndarray], tail: float = 0.5) -> tuple[np.ndarray, list[Segment]]:
    """Recorded clips after their pauses, as synth.build_rep joins spoken pieces."""
    chunks, segments, t = [], [], 0
    for piece in pieces:
        silence = int(round(piece.pause_before * RATE))
        chunks += [np.zeros(silence, dtype=np.float32), clips[piece.text]]
        start = t + silence
        t = start + clips[piece.text].size
        segments.append(Segment(piece.text, piece.label, start / RATE, t / RATE))
    chunks.append(np.zeros(int(tail * RATE), dtype=np.float32))
    return np.concatenate(chunks), segments


def render(condition: Condition, case: Case, voice: str, wpm: int, seed: int, folder: Path, drill: Drill) -> Rep:
    """Say (or join) the case's pieces, pass the sound through the condition, write the file."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{condition.name} {case.name} {voice} {wpm}".encode())])
    spoken = None
    if condition.people:
        audio, segments = join(case.pieces, human_clips(condition.people))
        spoken = where_words_are(condition.people, segments)
    else:
        pcm, segments = build_rep(case.pieces, voice, wpm)
        audio = pcm.astype(np.float64) / 32768.0
    audio = condition.effect(audio, segments, rng)
    if condition.file_rate != RATE:
        audio = soxr.resample(audio, RATE, condition.file_rate)
    path = folder / f"{condition.name}-{case.name}-{voice.replace('/', '_')}-{wpm}-{seed}.wav"
    sf.write(str(path), to_pcm16(audio), condition.file_rate, subtype="PCM_16")
    return Rep(condition.name, case, path, segments, drill, spoken)


def build(folder: Path, quick: bool, only: tuple[str, ...] = ()) -> list[Rep]:
    """Every condition × take × case (the first take and seed of each with `quick`)."""
    hard_close = load_drill("hard-close")
    reps = []
    for condition in CONDITIONS:
        if only and condition.name not in only:
            continue
        drill = load_drill(str(condition.people.drill)) if condition.people else hard_close
        takes = condition.takes[:1] if quick else condition.takes
        seeds = condition.seeds[:1] if quick else condition.seeds
        for case in said_in(condition, drill):
            for voice, wpm in takes:
                for seed in seeds:
                    reps.append(render(condition, case, voice, wpm, seed, folder, drill))
    return reps
