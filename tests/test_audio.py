"""Audio in: every common format becomes 16 kHz mono without shifting time; bad files are refused."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voicedrill.audio import RATE, FileSource, SilenceTracker, probe, stream_file, to_pcm16
from voicedrill.errors import VoicedrillError

BURST = (0.5, 1.0)  # a tone from 0.5 s to 1.0 s in 1.5 s of audio


def tone_file(path, rate: int, channels: int, subtype: str, fmt: str = "WAV") -> None:
    t = np.arange(int(1.5 * rate)) / rate
    signal = np.where((t >= BURST[0]) & (t < BURST[1]), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    sf.write(str(path), np.repeat(signal[:, None], channels, axis=1), rate, subtype=subtype, format=fmt)


def onset_and_offset(audio: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(audio) > 3000)
    return loud[0] / RATE, loud[-1] / RATE


@pytest.mark.parametrize(
    "rate, channels, subtype, fmt",
    [
        (16000, 1, "PCM_16", "WAV"),
        (8000, 1, "PCM_U8", "WAV"),
        (22050, 1, "PCM_24", "WAV"),
        (44100, 2, "PCM_32", "WAV"),
        (48000, 2, "FLOAT", "WAV"),
        (96000, 6, "DOUBLE", "WAV"),
        (44100, 2, "PCM_16", "FLAC"),
        (48000, 1, "VORBIS", "OGG"),
    ],
)
def test_formats_become_16k_mono_in_time(tmp_path, rate, channels, subtype, fmt):
    path = tmp_path / f"tone.{fmt.lower()}"
    tone_file(path, rate, channels, subtype, fmt)
    audio = np.concatenate(list(stream_file(path)))
    assert audio.dtype == np.int16 and audio.ndim == 1
    assert abs(audio.size - 1.5 * RATE) <= RATE * 0.01
    start, end = onset_and_offset(audio)
    assert abs(start - BURST[0]) < 0.01 and abs(end - BURST[1]) < 0.01


def test_streams_in_small_blocks(tmp_path):
    path = tmp_path / "tone.wav"
    tone_file(path, 44100, 2, "PCM_16")
    blocks = list(stream_file(path, block_s=0.1))
    assert len(blocks) >= 14 and max(b.size for b in blocks) <= 0.11 * RATE


def test_silences_are_found(tmp_path):
    path = tmp_path / "tone.wav"
    tone_file(path, 16000, 1, "PCM_16")
    tracker = SilenceTracker()
    for block in tracker.tee(stream_file(path)):
        pass
    (first, second) = tracker.silences()
    assert first[0] == 0.0 and abs(first[1] - BURST[0]) <= 0.02
    assert abs(second[0] - BURST[1]) <= 0.02 and abs(second[1] - 1.5) <= 0.02


def test_a_breath_is_a_hush_not_a_silence():
    """A line, a faint room, a breath 28 dB under the line, the next line: the breath is sound to
    silences() but part of the hush that begins with the room's silence, so a pause counts it
    (metrics.silence_between)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(0.5 * RATE)) / RATE
    line = 0.3 * np.sin(2 * np.pi * 220 * t)
    room = 10 ** (-75 / 20) * rng.standard_normal(int(0.6 * RATE))
    breath = 0.3 / np.sqrt(2) * 10 ** (-28 / 20) * rng.standard_normal(int(0.2 * RATE))
    tracker = SilenceTracker()
    tracker.feed(to_pcm16(np.concatenate([line, room, breath, line])))
    (gap,) = [s for s in tracker.silences() if 0.4 < s[0] < 0.6]
    assert abs(gap[0] - 0.5) <= 0.02 and abs(gap[1] - 1.1) <= 0.02  # the breath is sound
    (hush,) = [h for h in tracker.hushes() if 0.4 < h[0] < 0.6]
    assert abs(hush[0] - 0.5) <= 0.02 and abs(hush[1] - 1.3) <= 0.02  # the breath is a hush


@pytest.mark.parametrize("hz, silent", [(0, True), (10, True), (80, False), (150, False)])
def test_a_slow_rumble_after_a_line_is_silence_a_low_voice_is_not(hz, silent):
    """A line, then 0.3 s of a steady low sound 25 dB under it, then the room: a DC offset or a
    thump slower than a 10 ms frame is no voice, and the silence starts where the line stops; a
    low voice's pitch (80 Hz and up) is sound."""
    rng = np.random.default_rng(0)
    t = np.arange(int(0.5 * RATE)) / RATE
    line = 0.3 * np.sin(2 * np.pi * 220 * t)
    low = 0.3 * 10 ** (-25 / 20) * np.cos(2 * np.pi * hz * t[: int(0.3 * RATE)])
    room = 10 ** (-75 / 20) * rng.standard_normal(int(0.5 * RATE))
    tracker = SilenceTracker()
    tracker.feed(to_pcm16(np.concatenate([line, low, room, line])))
    (gap,) = [s for s in tracker.silences() if 0.4 < s[0] < 0.9]
    assert abs(gap[0] - (0.5 if silent else 0.8)) <= 0.02 and abs(gap[1] - 1.3) <= 0.02


class Clock:
    """A clock that moves only when the code under test sleeps: pacing measured without the machine's speed."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_file_source_paces_in_real_time(tmp_path, monkeypatch):
    from voicedrill import audio

    path = tmp_path / "tone.wav"
    tone_file(path, 16000, 1, "PCM_16")
    clock = Clock()
    monkeypatch.setattr(audio, "time", clock)
    times = [clock.now for _ in FileSource(path, speed=3.0)]
    assert len(times) == 15 and times == pytest.approx([n * 0.1 / 3 for n in range(1, 16)])  # block n waits until n × 0.1 s / 3
    assert sum(b.size for b in FileSource(path, speed=3.0)) == int(1.5 * RATE)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b""), r"the file is empty \(0 bytes\)"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "not a readable audio file"),
        (lambda p: p.write_text("this is not audio at all " * 20), "not a readable audio file"),
        (lambda p: sf.write(str(p), np.zeros(0, dtype=np.int16), 16000), "contains no audio"),
    ],
)
def test_bad_files_are_refused(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(VoicedrillError, match=message):
        probe(path)
