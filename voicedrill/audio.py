"""Audio in: files (any rate, depth, channel count) → streamed 16 kHz mono 16-bit blocks."""

from __future__ import annotations

import os
import queue
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import VoicedrillError
from .files import keep_safe, regular_input

RATE = 16000  # what both engines want
BLOCK_S = 0.1  # 100 ms blocks: small enough for live feedback, large enough to be cheap
DITHER = 10  # ± this many 16-bit steps of noise (about −75 dBFS): a microphone's own faint hiss
MIN_RATE, MAX_RATE = 8000, 384000  # telephone to studio; outside that a header is lying
CUT_S = 0.1  # a WAV file missing this much of the audio its header promises is cut short (less: a torn last sample)
OGG_TAIL = 65307  # an OGG page's largest size: its last page is in this much of the file's end
OPEN_ENDED = 0x70000000  # a WAV data size this large or more (1.8 GB; SoX writes 0x7FFFF000): a recorder's "still recording", not a promise
MOST_NOT_NUMBERS = 0.1  # a float file with more than this share of samples not numbers is damaged (a few: a glitch)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header."""

    path: Path
    rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header; refuse what we cannot decode with a message that says why."""
    path = regular_input(path, "file")
    keep_safe(path, "the recording being checked")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise VoicedrillError(f"{path}: the file is empty (0 bytes): nothing was recorded or copied into it; record the rep again")
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        raise VoicedrillError(f"{path}: MP3 is not supported; convert it to WAV or FLAC (e.g. ffmpeg -i rep.mp3 rep.wav)")
    try:
        with sf.SoundFile(path) as f:
            info = AudioInfo(path, f.samplerate, f.channels, f.frames)
            compressed = f.format == "MPEG"
            cut = _cut_short(f.extra_info)
            unended = f.format == "OGG" and not _ogg_ended(path)
            unreadable = None if f.seekable() else f.subtype_info  # (GSM 6.10, G.721, …: opened, but not read through)
    except (sf.LibsndfileError, OSError, RuntimeError, TypeError):  # the decoder's own words mean nothing to a rep (TypeError: raw samples, no header)
        raise VoicedrillError(f"{path}: not a readable audio file (another format, or damaged); use WAV, FLAC or OGG") from None
    if unreadable:
        raise VoicedrillError(f"{path}: its sound is stored as {unreadable}, which voicedrill cannot read; save it as WAV (16-bit PCM), FLAC or OGG")
    if unended:
        raise VoicedrillError(f"{path}: the recording is cut short: its end is missing (an unfinished copy or download); copy it again, or record the rep again")
    should_s = info.seconds * cut[1] / cut[0] if cut else info.seconds
    if should_s - info.seconds >= CUT_S:
        raise VoicedrillError(f"{path}: the recording is cut short: the file holds {info.seconds:.1f} s of the {should_s:.1f} s it "
                              "should (an unfinished copy or download); copy it again, or record the rep again")
    if compressed:
        raise VoicedrillError(f"{path}: MP3 is not supported; convert it to WAV or FLAC (e.g. ffmpeg -i rep.mp3 rep.wav)")
    if not MIN_RATE <= info.rate <= MAX_RATE:
        raise VoicedrillError(f"{path}: its header says {info.rate} Hz, which is not a recording rate (expected {MIN_RATE}–{MAX_RATE} Hz); the file is damaged or not audio")
    if info.frames <= 0:
        raise VoicedrillError(f"{path}: contains no audio (0 samples)")
    return info


def _ogg_ended(path: Path) -> bool:
    """Does an OGG file end as a finished one does: its last page whole and marked end-of-stream
    (bytes after it, a tag, may follow)? No header says how long its sound is: half an OGG file was
    scored as a rep that stopped halfway. "OggS" inside a page's sound is passed over."""
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - OGG_TAIL))
        tail = f.read()
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:
        segments = tail[at + 26] if len(tail) - at > 26 else 0
        table = tail[at + 27 : at + 27 + segments]
        whole = len(tail) - at > 26 and len(table) == segments and len(tail) - at >= 27 + segments + sum(table)
        if whole and tail[at + 4] == 0:  # (a page: version 0, all of it here)
            return bool(tail[at + 5] & 0x04)  # the last whole page: finished, or cut after it
    return False


def _cut_short(extra_info: str) -> tuple[int, int] | None:
    """(bytes held, bytes promised) of a WAV, W64, RF64 or AIFF file whose audio ends before its
    header says, read from libsndfile's notes on it ("data : 96000 (should be 47978)"; the audio's
    chunk where it names one, else the file's: "riff", "Riff size", "FORM"); None if it is whole,
    if only what follows its audio is cut, or open-ended (a recorder that never wrote the final size)."""
    audio, length = (re.search(pattern, extra_info, re.MULTILINE) for pattern in (r"^\s*(?:data|SSND) : (\d+)\s*$", r"^Length : (\d+)"))
    if audio and length and int(audio[1]) <= int(length[1]):
        return None  # the audio's chunk fits in the file: what is missing comes after it (a tag, a comment)
    notes = dict(re.findall(r"^\s*(data|SSND|RIFF|riff|Riff size|FORM) : (\d+ \(should be \d+\))", extra_info, re.MULTILINE))
    chunk = next((notes[name] for name in ("data", "SSND", "RIFF", "riff", "Riff size", "FORM") if name in notes), None)
    if chunk is None:
        return None
    promised, held = (int(n) for n in re.findall(r"\d+", chunk))
    return (held, promised) if 0 < held < promised < OPEN_ENDED else None


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16, clipping anything louder."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def with_hiss(audio: np.ndarray, level: int = DITHER, seed: int = 0) -> np.ndarray:
    """16-bit samples with a microphone's faint hiss (± `level`) under them, the same every time
    for a seed. Heard again on its own, a stretch of a synthesised rep made by the bench or the
    tests (digital silence — exact zeros — between its lines) is heard as nothing at all by
    pocketsphinx (measured: a bare "Email?" between 1.3 s pauses; and with every utterance of a
    clean rep decoded whole, false alarms on 62 % of reps)."""
    hiss = np.random.default_rng(seed).integers(-level, level + 1, audio.size)
    return np.clip(audio.astype(np.int32) + hiss, -32768, 32767).astype(np.int16)


def stream_file(source: str | Path | AudioInfo, block_s: float = BLOCK_S) -> Iterator[np.ndarray]:
    """Yield 16 kHz mono int16 blocks from a file (probed already, or now) without loading it whole."""
    info = source if isinstance(source, AudioInfo) else probe(source)
    block = max(1, int(info.rate * block_s))
    resampler = None if info.rate == RATE else soxr.ResampleStream(info.rate, RATE, 1, dtype="float32")
    try:
        f = sf.SoundFile(info.path)
    except (sf.LibsndfileError, OSError):
        gone = not info.path.exists()
        raise VoicedrillError(f"{info.path}: " + ("the file is gone (moved or deleted during the run)" if gone else "the file can no longer be read")) from None
    not_numbers = 0
    try:
        with f:
            for chunk in f.blocks(blocksize=block, dtype="float32", always_2d=True):
                # a float file may hold NaN or infinite samples: a few are heard as silence and full
                # scale; a channel of them (a dead one) is left out; a file mostly of them is damaged
                lost = np.isnan(chunk)
                not_numbers += int(lost.all(axis=1).sum())
                if not_numbers > MOST_NOT_NUMBERS * info.frames:
                    raise VoicedrillError(f"{info.path}: the audio is damaged: much of it is not sound at all (samples that are not numbers); record the rep again")
                mono = np.where(lost, 0.0, chunk).sum(axis=1) / np.maximum(1, (~lost).sum(axis=1))  # the channels that hold numbers
                mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float32)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=False)
                if mono.size:
                    yield to_pcm16(mono)
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
                if tail.size:
                    yield to_pcm16(tail)
    except sf.LibsndfileError:
        raise VoicedrillError(f"{info.path}: the audio is damaged partway through; record the rep again or convert it to WAV") from None


def clip_file(source: str | Path | AudioInfo, start_s: float, end_s: float) -> np.ndarray:
    """The file's 16 kHz samples from `start_s` to `end_s`, streamed again (a long file stays out of memory)."""
    return clip_blocks(stream_file(source), start_s, end_s)


def clip_blocks(blocks: Iterable[np.ndarray], start_s: float, end_s: float) -> np.ndarray:
    """The 16 kHz samples from `start_s` to `end_s` of audio given as consecutive blocks (never joined whole)."""
    first, last = int(start_s * RATE), int(end_s * RATE)
    parts, at = [], 0
    for block in blocks:
        if at + block.size > first:
            parts.append(block[max(0, first - at) : max(0, last - at)])
        at += block.size
        if at >= last:
            break
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class FileSource:
    """An input source that plays a file through the streaming path, optionally at real-time pace.

    `speed=None` feeds as fast as the consumer takes it; `speed=1.0` is real time (as a mic would),
    `speed=4.0` four times faster. Live mode uses this where there is no microphone.
    While `holding()` is true (the simulated customer speaks) the file waits: blocks of silence
    come instead, paced the same, so the recording stands for a rep who waits for the answer.
    """

    live = False  # a recording ends at its end, not on silence

    def __init__(self, source: str | Path | AudioInfo, speed: float | None = None, block_s: float = BLOCK_S):
        self.info = source if isinstance(source, AudioInfo) else probe(source)
        self.name = str(self.info.path)
        self.speed = speed
        self.block_s = block_s
        self.overflows = 0
        self.holding: Callable[[], bool] = lambda: False
        self.stopped = False

    @property
    def paced(self) -> bool:
        """Blocks come in time with the audio (decoding can run beside the live loop)."""
        return bool(self.speed)

    def stop(self) -> None:
        self.stopped = True

    def __iter__(self) -> Iterator[np.ndarray]:
        self.stopped = False
        started = time.monotonic()
        fed = 0.0
        blocks = stream_file(self.info, self.block_s)
        while not self.stopped:
            block = np.zeros(int(RATE * self.block_s), dtype=np.int16) if self.holding() else next(blocks, None)
            if block is None:
                return
            fed += block.size / RATE
            if self.speed:
                delay = started + fed / self.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield block


FRAME_S = 0.01  # energy envelope resolution
SMOOTH_FRAMES = 3  # levels judged over 30 ms: a noisy room's frame-to-frame flicker is not speech
NOISE_MARGIN_DB = 6.0  # silence: less than this over the noise floor (a quiet word ending is more)
SPEECH_RANGE_DB = 35.0  # …and, in a silent room, this far under the speech
HUSH_DB = 20.0  # a hush: this far or more under the speech (a breath is 25–30 dB under it)
BLIP_S = 0.03  # a louder stretch this short between two silences is the room, not a word
MIN_QUIET_S = 0.1  # a quiet stretch shorter than this is articulation (the closure before a k or t), not a pause
Silences = Sequence[tuple[float, float]]  # (start, end) s of a rep's silences, in order and apart (SilenceTracker.silences)


class SilenceTracker:
    """Keeps a 10 ms energy envelope of a stream (100 numbers a second) and finds its silences.

    A frame's level is its variance, the sound about the frame's own mean: a microphone's DC
    offset, or a thump or rumble slower than the frame (10–20 Hz after a word, 9–15 dB down), is no
    voice, and kept as the word's it would shorten the pause after it; a voice's pitch (80 Hz and
    up) keeps its level.
    The threshold follows the recording's noise floor: levels over 30 ms, a few dB over the floor,
    so a word's quiet tail stays speech even with the room's noise under it.
    Blocks fed as `held` (the customer's turn, when the rep's input is blanked or paused) are
    silence on the timeline but say nothing about the room, so they are left out of that estimate.
    Live, the same measure runs after every block; `since_s` keeps its cost to the recent frames.
    """

    def __init__(self) -> None:
        self._frame = int(RATE * FRAME_S)
        self._carry = np.zeros(0, dtype=np.float32)
        self._db = np.zeros(1024)
        self._held = np.zeros(1024, dtype=bool)
        self._size = 0
        self._levels = (-1, 0.0, 0.0)  # (frames, noise floor, speech level) when last measured

    def feed(self, pcm: np.ndarray, held: bool = False) -> None:
        samples = np.concatenate([self._carry, pcm.astype(np.float32) / 32768.0])
        whole = samples.size // self._frame * self._frame
        frames = samples[:whole].reshape(-1, self._frame)
        self._carry = samples[whole:]
        if frames.size:
            power = frames.var(axis=1)  # about the frame's own mean: see the class docstring
            self._append(10.0 * np.log10(np.maximum(power, 1e-10)), held)

    def _append(self, db: np.ndarray, held: bool) -> None:
        needed = self._size + db.size
        if needed > self._db.size:  # grow geometrically: appending stays cheap on hour-long streams
            capacity = max(needed, 2 * self._db.size)
            self._db = np.resize(self._db, capacity)
            self._held = np.resize(self._held, capacity)
        self._db[self._size : needed] = db
        self._held[self._size : needed] = held
        self._size = needed

    def tee(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass blocks through unchanged, measuring them on the way."""
        for block in blocks:
            self.feed(block)
            yield block

    def envelope(self) -> np.ndarray:
        """Frame levels in dBFS (each frame's variance: see the class docstring)."""
        return self._db[: self._size]

    def levels(self, step_s: float) -> np.ndarray:
        """The envelope coarsened to one peak level per `step_s` (for pictures of the rep)."""
        db = self.envelope()
        per = max(1, round(step_s / FRAME_S))
        padded = np.pad(db, (0, -db.size % per), constant_values=-100.0)
        return padded.reshape(-1, per).max(axis=1) if padded.size else padded

    def threshold(self, under_speech_db: float = SPEECH_RANGE_DB) -> float:
        """The smoothed level below which a frame is silence: NOISE_MARGIN_DB over the noise floor,
        or `under_speech_db` under the speech where that is higher (a silent room, digital silence)."""
        if self._levels[0] != self._size:  # live, silences and hushes are asked for after every block
            db = _smoothed(self.envelope())
            heard = db[~self._held[: self._size]]
            floor, speech = np.percentile(heard if heard.size else db, [5, 95])
            self._levels = (self._size, float(floor), float(speech))
        _, floor, speech = self._levels
        return max(floor + NOISE_MARGIN_DB, speech - under_speech_db)

    def silences(self, min_s: float = MIN_QUIET_S, since_s: float = 0.0) -> list[tuple[float, float]]:
        """(start, end) seconds of every stretch quieter than the adaptive threshold, from `since_s`
        on (a stretch under way at the end of the stream counts up to its end).

        Stretches under MIN_QUIET_S are articulation, not pauses; two stretches with only a blip of
        noise (BLIP_S) between them are one.
        """
        return self._quieter(SPEECH_RANGE_DB, min_s, since_s)

    def hushes(self, since_s: float = 0.0) -> list[tuple[float, float]]:
        """Every stretch HUSH_DB or more under the speech (or silent, where the room is louder than
        that), from `since_s` on, as silences() finds them: a breath after a silence in one is
        pause, in a quiet room as under a room's noise, which covers it (metrics.silence_between)."""
        return self._quieter(HUSH_DB, MIN_QUIET_S, since_s)

    def _quieter(self, under_speech_db: float, min_s: float, since_s: float) -> list[tuple[float, float]]:
        """The stretches under threshold(under_speech_db) lasting `min_s` or more, from `since_s` on."""
        if self._size == 0:
            return []
        first = min(self._size, max(0, int(since_s / FRAME_S)))
        margin = min(first, SMOOTH_FRAMES)  # smoothing needs the frames just before
        db = _smoothed(self.envelope()[first - margin :])[margin:]
        quiet = np.concatenate([[False], db < self.threshold(under_speech_db), [False]])
        edges = np.flatnonzero(np.diff(quiet.astype(np.int8))) + first
        stretches: list[list[int]] = []
        for start, end in zip(edges[::2], edges[1::2]):
            if stretches and (start - stretches[-1][1]) * FRAME_S <= BLIP_S:
                stretches[-1][1] = end
            else:
                stretches.append([start, end])
        return [
            (round(float(start * FRAME_S), 3), round(float(end * FRAME_S), 3))
            for start, end in stretches
            if (end - start) * FRAME_S >= min_s
        ]


def _smoothed(db: np.ndarray) -> np.ndarray:
    """Levels averaged (as power) over SMOOTH_FRAMES frames centred on each."""
    if db.size == 0:
        return db
    side = SMOOTH_FRAMES // 2
    power = np.pad(10.0 ** (db / 10.0), side, mode="edge")
    mean = np.convolve(power, np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES, mode="valid")
    return 10.0 * np.log10(np.maximum(mean, 1e-10))


class MicSource:
    """The default microphone as an input source: 16 kHz mono blocks until `stop()`.

    The audio callback only copies into a queue; recognition runs on the consumer's thread.
    Blocks the driver dropped (input overflows) are counted, never silently lost.
    """

    live = True  # a rep from the mic ends on silence after the last step
    paced = True  # blocks come in real time
    def __init__(self, device: int | str | None = None, block_s: float = BLOCK_S, stall_s: float = 2.0):
        self._sd = _sounddevice()
        try:
            self._sd.check_input_settings(device=device, channels=1, samplerate=RATE, dtype="int16")
        except (self._sd.PortAudioError, ValueError) as exc:  # no device, or it can't do 16 kHz mono
            why, advice = _why_no_microphone(self._sd, device)
            raise VoicedrillError(f"no usable microphone ({why}): {advice}", "--input FILE") from None
        self.device = device
        self.block = int(RATE * block_s)
        self.stall_s = stall_s
        self.overflows = 0
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self.stopped = False

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(indata[:, 0].copy())

    def stop(self) -> None:
        self.stopped = True

    def __iter__(self) -> Iterator[np.ndarray]:
        self.stopped = False
        try:
            with self._sd.InputStream(
                samplerate=RATE, channels=1, dtype="int16", blocksize=self.block, device=self.device, callback=self._callback
            ):
                while not self.stopped:
                    try:
                        yield self._queue.get(timeout=self.stall_s)
                    except queue.Empty:
                        raise VoicedrillError("the microphone stopped delivering audio (unplugged?); the rep was not saved") from None
        except self._sd.PortAudioError as exc:
            raise VoicedrillError(f"microphone error ({exc}); feed a recording instead with --input FILE") from None


def input_devices() -> list[tuple[int, str]]:
    """The machine's input devices (index, name) that can record 16 kHz mono; none without an audio system."""
    try:
        sd = _sounddevice()
        devices = list(enumerate(sd.query_devices()))
    except (VoicedrillError, OSError):  # no audio system: no microphone to offer
        return []
    usable = []
    for index, device in devices:
        if device.get("max_input_channels", 0) > 0:
            try:
                sd.check_input_settings(device=index, channels=1, samplerate=RATE, dtype="int16")
            except (sd.PortAudioError, ValueError):
                continue
            usable.append((index, str(device.get("name", f"input {index}"))))
    return usable


def _why_no_microphone(sd, device: int | str | None) -> tuple[str, str]:
    """Why no microphone can be used, and what to do, in words (not PortAudio's)."""
    try:
        inputs = [d for d in sd.query_devices() if d["max_input_channels"] > 0]
    except sd.PortAudioError:
        inputs = []
    if not inputs:
        return "none is connected", "plug one in"
    if device is None and sd.default.device[0] < 0:
        return "none is set as the default input", "choose one in your system's sound settings"
    return "it cannot record 16 kHz mono", "choose another in your system's sound settings"


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise VoicedrillError(f"no audio system ({exc}); install libportaudio2, or use --input FILE") from None
    return sounddevice


def play(samples: np.ndarray, rate: int = RATE, wait: bool = True) -> None:
    """Play float samples on the default output device."""
    sd = _sounddevice()
    try:
        sd.check_output_settings(channels=1, samplerate=rate)
        sd.play(samples, rate, blocking=wait)
    except (sd.PortAudioError, ValueError):  # no usable output device
        raise VoicedrillError("no speaker or headphones found") from None


def wait_played() -> None:
    """Wait for the sound started by play(wait=False) to finish."""
    _sounddevice().wait()
