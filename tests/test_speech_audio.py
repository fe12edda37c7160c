"""Audio input: every format in, one shape out, and a clear error for everything else."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.speech.audio import Audio, AudioError, NoiseFloor, check_rate, from_pcm, load_audio, microphone, resample

sf = pytest.importorskip("soundfile")


def tone(seconds=0.5, rate=16000, channels=1, hz=440.0):
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * math.pi * hz * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.mark.parametrize("fmt,suffix", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg"), ("MP3", ".mp3"), ("AIFF", ".aiff")])
def test_files_of_each_format_load_as_mono_int16(tmp_path, fmt, suffix):
    path = tmp_path / f"a{suffix}"
    sf.write(path, tone(0.5, 22050, channels=2), 22050, format=fmt)
    audio = load_audio(path)
    assert audio.rate == 22050 and audio.samples.dtype == np.int16 and audio.samples.ndim == 1
    assert abs(audio.seconds - 0.5) < 0.03  # MP3 frames round the length up
    assert 12000 < np.abs(audio.samples).max() < 20000


def test_stereo_is_mixed_down_not_one_channel_kept(tmp_path):
    left_only = np.stack([tone(0.2), np.zeros(3200)], axis=1)
    sf.write(tmp_path / "s.wav", left_only, 16000)
    audio = load_audio(tmp_path / "s.wav")
    assert 7000 < np.abs(audio.samples).max() < 9000  # half the left channel's amplitude


def test_resampling_keeps_length_and_pitch():
    audio = Audio((tone(1.0, 44100) * 32767).astype(np.int16), 44100)
    out = resample(audio, 16000)
    assert out.rate == 16000 and len(out.samples) == 16000
    spectrum = np.abs(np.fft.rfft(out.samples.astype(float)))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over one second
    assert resample(out, 16000) is out


def test_raw_pcm_with_declared_rate_and_channels():
    stereo = np.array([[1000, 3000], [-1000, -3000]] * 800, dtype="<i2")
    audio = from_pcm(stereo.tobytes(), 16000, 2)
    assert audio.rate == 16000 and len(audio.samples) == 1600
    assert audio.samples[0] == 2000 and audio.samples[1] == -2000


def test_raw_file_needs_its_rate(tmp_path):
    path = tmp_path / "a.raw"
    path.write_bytes(bytes(3200))
    with pytest.raises(AudioError, match="sample rate must be given"):
        load_audio(path)
    assert load_audio(path, raw_rate=16000, raw_channels=1).seconds == pytest.approx(0.1)


@pytest.mark.parametrize("rate", [0, -16000, float("nan"), float("inf"), 16000.5, "16000", None, True, 10**9])
def test_bad_rates_are_named(rate):
    with pytest.raises(AudioError, match="rate"):
        from_pcm(bytes(320), rate, 1)


def test_odd_byte_counts_are_refused():
    with pytest.raises(AudioError, match="321 bytes"):
        from_pcm(bytes(321), 16000, 1)
    with pytest.raises(AudioError, match="2-channel"):
        from_pcm(bytes(322), 16000, 2)


def test_raw_pcm_without_a_channel_count_is_refused():
    with pytest.raises(AudioError, match="channel count"):
        from_pcm(bytes(6400), 16000, None)
    with pytest.raises(AudioError, match="channel count"):
        from_pcm(bytes(6400), 16000, 0)


def test_only_16_bit_pcm():
    with pytest.raises(AudioError, match="16-bit"):
        from_pcm(bytes(6400), 16000, 1, width=4)


def test_empty_audio_is_refused(tmp_path):
    with pytest.raises(AudioError, match="no audio"):
        from_pcm(b"", 16000, 1)
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioError, match="no audio"):
        load_audio(tmp_path / "empty.wav")


def test_clips_over_the_limit_are_refused(tmp_path):
    sf.write(tmp_path / "long.wav", np.zeros(16000 * 3), 16000)
    with pytest.raises(AudioError, match="longer than the 2 s"):
        load_audio(tmp_path / "long.wav", max_seconds=2)
    with pytest.raises(AudioError, match="longer than"):
        from_pcm(bytes(32000 * 3), 16000, 1, max_seconds=2)


def test_unknown_formats_and_missing_files(tmp_path):
    (tmp_path / "notes.wav").write_text("this is not audio")
    with pytest.raises(AudioError, match="not a readable audio file"):
        load_audio(tmp_path / "notes.wav")
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    sf.write(tmp_path / "a.au", tone(0.1), 16000, format="AU")
    with pytest.raises(AudioError, match="AU audio is not supported; use WAV, FLAC, OGG, MP3 or AIFF"):
        load_audio(tmp_path / "a.au")


def test_nan_samples_become_silence(tmp_path):
    data = tone(0.1).astype(np.float32)
    data[:100] = np.nan
    sf.write(tmp_path / "nan.wav", data, 16000, subtype="FLOAT")
    audio = load_audio(tmp_path / "nan.wav")
    assert (audio.samples[:100] == 0).all()


def test_noise_floor_is_faint_and_repeatable():
    pcm = bytes(32000)
    a, b = NoiseFloor().add(pcm), NoiseFloor().add(pcm)
    assert a == b
    samples = np.frombuffer(a, dtype="<i2")
    assert 40 < samples.std() < 80
    floor = NoiseFloor()
    assert floor.add(pcm[:1000]) + floor.add(pcm[1000:]) == a  # chunking does not change it


def test_check_rate_accepts_whole_numbers():
    assert check_rate(16000) == 16000 and check_rate(16000.0) == 16000 and check_rate(np.int64(8000)) == 8000


def test_no_microphone_is_a_clear_error(monkeypatch):
    """No input device (as on this CI machine): an AudioError naming the problem, not a PortAudio traceback."""
    sd = pytest.importorskip("sounddevice", exc_type=OSError)

    def no_device(**kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "check_input_settings", no_device)
    with pytest.raises(AudioError, match="no usable microphone"):
        next(microphone(16000))


def test_a_small_file_that_decodes_huge_is_refused_before_decoding(tmp_path):
    """Issue 13, finding 6: a 99 KB FLAC of 8 channels at 384 kHz decoded to half a gigabyte."""
    import tracemalloc

    from assistant.speech.audio import AudioTooLong, decode

    path = tmp_path / "wide.flac"
    sf.write(path, np.zeros((384_000 * 10, 8), dtype=np.int16), 384_000, format="FLAC", subtype="PCM_16")
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    with pytest.raises(AudioTooLong, match="8 channels at 384000 Hz"):
        decode(str(path), max_seconds=30)
    assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    tracemalloc.stop()
    stereo = tmp_path / "stereo.flac"
    sf.write(stereo, np.zeros((96_000 * 10, 2), dtype=np.int16), 96_000, format="FLAC", subtype="PCM_16")
    assert decode(str(stereo), max_seconds=30).seconds == 10  # 96 kHz stereo is fine


def test_a_stream_resampler_matches_whole_clip_resampling():
    """The daemon and the WebSocket resample an utterance chunk by chunk through one filter: no seams."""
    from assistant.speech.audio import Resampler

    audio = Audio((tone(1.0, 44100) * 32767).astype(np.int16), 44100)
    resampler = Resampler(44100, 16000)
    pcm = b"".join(resampler.feed(audio.samples[i : i + 441]) for i in range(0, 44100, 441)) + resampler.feed(audio.samples[:0], last=True)
    streamed = np.frombuffer(pcm, dtype="<i2").astype(float)
    whole = resample(audio, 16000).samples.astype(float)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    assert np.abs(streamed[:n] - whole[:n]).max() < 200  # the same filter, a few LSBs of rounding apart
