"""The Slaney-style mel filterbank that Whisper was trained with, computed with numpy.

A ggml file carries its own mel filters and whisper.cpp uses them as-is, so a converted
model must contain exactly the filterbank OpenAI's Whisper uses (its ``mel_filters.npz``,
which is librosa's ``filters.mel(sr=16000, n_fft=400, n_mels=80 or 128)``). CTranslate2
directories do not ship it, and we do not want librosa as a dependency, so it is computed
here: triangles on the Slaney mel scale (linear below 1 kHz, logarithmic above), each
scaled to unit area ("slaney" normalisation). The steps and the float32 rounding points
follow that recipe so the values match the filters in whisper.cpp's own model files
bit for bit (a unit test compares against them).
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3  # Hz per mel in the linear region
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mels
_LOGSTEP = np.log(6.4) / 27.0  # log-region step: 6.4x in frequency per 27 mels


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    above = hz >= _MIN_LOG_HZ
    mel = np.where(above, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mel)
    return mel


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    above = mel >= _MIN_LOG_MEL
    return np.where(above, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), hz)


def mel_filterbank(n_mels: int = 80, sample_rate: int = 16000, n_fft: int = 400) -> np.ndarray:
    """``n_mels × (1 + n_fft // 2)`` float32 triangular filters from 0 Hz to Nyquist, area-normalised."""
    n_bins = 1 + n_fft // 2
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_bins)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2))
    widths = np.diff(edges_hz)
    # distance of every FFT bin from every band edge; the rising and falling slopes of
    # triangle i are its distances from edge i and edge i+2 over the two half-widths
    dist = edges_hz[:, None] - bin_hz[None, :]
    filters = np.zeros((n_mels, n_bins), dtype=np.float32)
    for i in range(n_mels):
        rising = -dist[i] / widths[i]
        falling = dist[i + 2] / widths[i + 1]
        filters[i] = np.maximum(0.0, np.minimum(rising, falling))
    area = 2.0 / (edges_hz[2 : n_mels + 2] - edges_hz[:n_mels])
    filters *= area[:, None]  # float64 product rounded once more to float32, as the reference does
    return filters
