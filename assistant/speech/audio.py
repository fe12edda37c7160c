"""Audio in: files, raw PCM and the microphone, checked and turned into what recognisers eat.

Every recogniser here takes 16-bit mono PCM at one rate, so everything that
comes in is read into an `Audio` (int16 mono samples and their rate), checked,
mixed down and resampled once. Native decoders crash or hang on some inputs
(a rate of zero, an odd byte count), so nothing reaches them unchecked: every
problem becomes an `AudioError` that names what is wrong.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

log = logging.getLogger(__name__)

FILE_FORMATS = {"WAV", "FLAC", "OGG", "MP3", "AIFF", "RF64", "W64"}
"""Container formats read through soundfile (libsndfile 1.1 or later reads MP3): what recorders, phones' voice
memo exports and audio tools write, WAV's large-file variants included."""
FORMAT_NAMES = "WAV, FLAC, OGG, MP3 or AIFF"
RAW_SUFFIXES = {".raw", ".pcm", ".s16", ".s16le"}
MAX_RATE = 384_000
MAX_SAMPLES_PER_SECOND = 192_000
"""Decoded samples (all channels) a second of a file may hold where its length is limited: 96 kHz stereo; a
99 KB FLAC of 8 channels at 384 kHz would decode to half a gigabyte."""
STREAM_RATES = (8000, 48000)
"""Rates a live stream may declare (the daemon, the WebSocket): what microphones send. Files may have any rate
up to `MAX_RATE`; a stream is fed chunk by chunk, so an exotic rate would cost its resampling again and again."""


class AudioError(AssistantError):
    """Audio that cannot be recognised; the message says what is wrong with it."""


class AudioTooLong(AudioError):
    """Audio beyond the length allowed (the REST API answers 413)."""


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit samples and their rate: the one shape audio has past this module."""

    samples: np.ndarray
    """int16, one channel."""
    rate: int
    """Samples per second."""

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @property
    def pcm(self) -> bytes:
        """Little-endian 16-bit PCM, as the recognisers take it."""
        return self.samples.astype("<i2", copy=False).tobytes()


def check_rate(rate) -> int:
    """A sample rate as an int, or an `AudioError`: native decoders abort or divide by zero on bad ones."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise AudioError(f"sample rate must be a number of Hz, not {type(rate).__name__}")
    if not math.isfinite(rate) or rate <= 0:
        raise AudioError(f"sample rate must be positive, not {rate}")
    if int(rate) != rate:
        raise AudioError(f"sample rate must be a whole number of Hz, not {rate}")
    if rate > MAX_RATE:
        raise AudioError(f"sample rate {int(rate)} Hz is beyond {MAX_RATE} Hz")
    return int(rate)


def _check_length(n_samples: int, rate: int, max_seconds: float | None, what: str) -> None:
    if n_samples == 0:
        raise AudioError(f"{what}: no audio (0 samples)")
    if max_seconds is not None and n_samples / rate > max_seconds:
        raise AudioTooLong(f"{what}: {n_samples / rate:.1f} s of audio is longer than the {max_seconds:g} s allowed")


def _to_int16(frames: np.ndarray) -> np.ndarray:
    """Float frames in [-1, 1] (any channel count) to int16 mono: channels averaged, NaN as silence."""
    if frames.ndim == 2:
        frames = frames.mean(axis=1)
    frames = np.nan_to_num(frames.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
    return (np.clip(frames, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def from_pcm(data: bytes, rate, channels: int | None, width: int = 2, max_seconds: float | None = None,
             what: str = "raw PCM") -> Audio:
    """Raw little-endian signed PCM (headerless): the rate and channel count must be declared, since nothing in the bytes says them."""
    rate = check_rate(rate)
    if channels is None:
        raise AudioError(f"{what}: raw PCM has no header, so its channel count must be given (1 for mono, 2 for stereo)")
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 32:
        raise AudioError(f"{what}: channel count must be 1 to 32, not {channels!r}")
    if width != 2:
        raise AudioError(f"{what}: only 16-bit PCM (2 bytes a sample) is supported, not {width!r} bytes")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise AudioError(f"{what}: PCM must be bytes, not {type(data).__name__}")
    frame_bytes = width * channels
    if len(data) % frame_bytes:
        raise AudioError(f"{what}: {len(data)} bytes is not a whole number of {channels}-channel 16-bit frames ({frame_bytes} bytes each)")
    _check_length(len(data) // frame_bytes, rate, max_seconds, what)
    samples = np.frombuffer(bytes(data), dtype="<i2").reshape(-1, channels)
    if channels > 1:
        samples = samples.astype(np.int32).mean(axis=1).round().astype(np.int16)
    else:
        samples = samples[:, 0].astype(np.int16)
    return Audio(samples, rate)


def load_audio(path: str | Path, max_seconds: float | None = None, raw_rate=None, raw_channels: int | None = None) -> Audio:
    """Read a WAV, FLAC, OGG, MP3 or AIFF file (or raw 16-bit PCM when `raw_rate` is given or the suffix says raw), mixed to mono."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if raw_rate is not None or path.suffix.lower() in RAW_SUFFIXES:
        if raw_rate is None:
            raise AudioError(f"{path}: raw PCM has no header, so its sample rate must be given")
        return from_pcm(path.read_bytes(), raw_rate, raw_channels, max_seconds=max_seconds, what=str(path))
    return decode(str(path), max_seconds, str(path))


def decode(source, max_seconds: float | None = None, what: str = "audio") -> Audio:
    """A WAV, FLAC, OGG, MP3 or AIFF file, from a path or a binary file object (an upload held in memory), mixed to mono."""
    import soundfile

    try:
        info = soundfile.info(source)
    except Exception as e:  # libsndfile raises its own error type for every unreadable file
        reason = str(e).splitlines()[0].split(": ", 1)[-1]  # libsndfile's own words, without its repr of the source
        raise AudioError(f"{what}: not a readable audio file ({FORMAT_NAMES}): {reason}") from None
    if info.format not in FILE_FORMATS:
        raise AudioError(f"{what}: {info.format} audio is not supported; use {FORMAT_NAMES}")
    rate = check_rate(info.samplerate)
    _check_length(info.frames, rate, max_seconds, what)
    if max_seconds is not None and info.frames * info.channels > max_seconds * MAX_SAMPLES_PER_SECOND:
        raise AudioTooLong(f"{what}: {info.channels} channels at {rate} Hz is more audio data than {max_seconds:g} s may hold "
                           f"({MAX_SAMPLES_PER_SECOND} samples a second); send mono or stereo at 48 kHz or less")
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        frames, _ = soundfile.read(source, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(f"{what}: cannot decode: {str(e).splitlines()[0]}") from None
    _check_length(len(frames), rate, max_seconds, what)
    return Audio(_to_int16(frames), rate)


def resample(audio: Audio, rate: int) -> Audio:
    """The same audio at another rate (libsoxr's high-quality filter: no aliasing when going down, any ratio)."""
    import soxr

    rate = check_rate(rate)
    if audio.rate == rate:
        return audio
    out = soxr.resample(audio.samples.astype(np.float32), audio.rate, rate, quality="HQ")
    return Audio(np.clip(out, -32768, 32767).round().astype(np.int16), rate)


class Resampler:
    """One utterance's audio to another rate, chunk by chunk, through one libsoxr stream: the filter is
    designed once (at odd rates that costs more than the audio), and chunk boundaries leave no seams."""

    def __init__(self, rate_in: int, rate_out: int):
        import soxr

        self.rate_in, self.rate_out = check_rate(rate_in), check_rate(rate_out)
        self._stream = None if self.rate_in == self.rate_out else soxr.ResampleStream(self.rate_in, self.rate_out, 1, dtype="float32", quality="HQ")

    def feed(self, samples: np.ndarray, last: bool = False) -> bytes:
        """int16 mono samples in, 16-bit PCM at `rate_out` out (what the filter holds back comes with `last`)."""
        if self._stream is None:
            return samples.astype("<i2", copy=False).tobytes()
        out = self._stream.resample_chunk(samples.astype(np.float32), last=last)
        return np.clip(out, -32768, 32767).round().astype("<i2").tobytes()


class NoiseFloor:
    """Adds the same faint noise (by default about -55 dBFS) to every stream, sample for sample.

    Digital silence (exact zeros, as in synthesised or gated audio) has no
    log-energy, and the decoders' noise and cepstral-mean estimates fall apart
    on it: on synthesised commands, pocketsphinx's accuracy goes from 1 in 40 to
    30 in 40 with this floor. It is Kaldi's dither made repeatable: seeded, so
    the same audio still gives the same transcript.
    """

    LEVEL = 60.0
    BLOCK = 1 << 16

    def __init__(self, level: float = LEVEL, at: int = 0):
        """`at`: the sample of the stream the first `add` starts at, so that a part of a stream is given again
        the floor it had."""
        self._noise = np.random.default_rng(0).normal(0.0, level, self.BLOCK).astype(np.float32)
        self._at = at % self.BLOCK

    def add(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        index = (self._at + np.arange(len(samples))) % self.BLOCK
        self._at = (self._at + len(samples)) % self.BLOCK
        return np.clip(samples + self._noise[index], -32768, 32767).round().astype("<i2").tobytes()


QUIET_PEAK = 0.1 * 32768
"""A recording whose peak is below this (-20 dBFS) is quiet, and `raised` brings it up."""
RAISED_PEAK = 0.25 * 32768
"""Where `raised` brings a quiet recording's peak (-12 dBFS): the quietest of the synthetic voices the engines'
bars were fitted on peak there, and every clip of the speech benchmark is above `QUIET_PEAK`."""
MOST_GAIN = 100.0
"""At most 40 dB: a far microphone's whisper, not a recording of the room's hum, is what needs raising."""


def raised(pcm: bytes, quiet: float = QUIET_PEAK, peak: float = RAISED_PEAK, most: float = MOST_GAIN) -> bytes:
    """16-bit PCM whose peak (the 99.9th percentile of the magnitudes, so a click does not count) is below `quiet`,
    amplified to reach `peak` (at most `most` times); other audio as it is (the same object).

    pocketsphinx's features start from a fixed cepstral mean and its noise floor (`NoiseFloor`) is at a fixed
    level: of recordings 30 dB below full scale, as a laptop's or a far microphone's are, it understood 2.5 % of
    commands against 80 % at the synthetic voices' level (`scripts/bench_recording.py`). Whisper and Kaldi
    normalise for themselves."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    if not len(samples):
        return pcm
    level = float(np.percentile(np.abs(samples), 99.9))
    if level >= quiet or level <= 0:
        return pcm
    gain = min(most, peak / level)
    return np.clip(samples * gain, -32768, 32767).round().astype("<i2").tobytes()


def microphone(rate: int, device: str | int | None = None, block_seconds: float = 0.1) -> Iterator[bytes]:
    """16-bit mono PCM blocks from an input device until the caller stops iterating.

    Raises `AudioError` when there is no input device (or no PortAudio), so a
    headless machine gets a sentence, not a traceback.
    """
    rate = check_rate(rate)
    try:
        import sounddevice
    except OSError as e:  # the PortAudio library itself is missing
        raise AudioError(f"no audio input: PortAudio is not installed ({e}); install libportaudio2") from None
    if isinstance(device, str):
        device = int(device) if device.isdigit() else (device or None)
    try:
        sounddevice.check_input_settings(device=device, channels=1, dtype="int16", samplerate=rate)
        stream = sounddevice.RawInputStream(samplerate=rate, channels=1, dtype="int16", device=device,
                                            blocksize=int(rate * block_seconds))
    except Exception as e:  # sounddevice raises PortAudioError or ValueError for missing devices
        raise AudioError(f"no usable microphone{f' {device!r}' if device is not None else ''}: {e}") from None
    with stream:
        log.info("listening on %s at %d Hz", device if device is not None else "the default input device", rate)
        while True:
            data, overflowed = stream.read(stream.blocksize)
            if overflowed:
                log.debug("microphone overflow: audio was dropped")
            yield bytes(data)
