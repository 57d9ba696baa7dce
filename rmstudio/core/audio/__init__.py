"""Audio on the host: decode files, convert channels and rates, summarise for plotting.

Pure Python + numpy + soundfile; no Qt. The resampler here is the reference the guest's C++
is tested against (docs/CONTRACT.md, "Audio").
The name ``resample`` is the module (``audio.resample.resample(x, 44100, 16000)``), so the
package does not re-export the function of the same name.
"""

from rmstudio.core.audio.item import GUEST_INPUT_DIR, AudioPayload, read_file_reference, to_item
from rmstudio.core.audio.load import (
    AUDIO_EXTENSIONS,
    Audio,
    AudioInfo,
    audio_info,
    is_audio_path,
    load_audio,
    readable_formats,
)
from rmstudio.core.audio.resample import convert_channels, transform
from rmstudio.core.audio.waveform import WaveformSummary, summarize_array, summarize_file

__all__ = [
    "AUDIO_EXTENSIONS",
    "GUEST_INPUT_DIR",
    "Audio",
    "AudioInfo",
    "AudioPayload",
    "WaveformSummary",
    "audio_info",
    "convert_channels",
    "is_audio_path",
    "load_audio",
    "read_file_reference",
    "readable_formats",
    "summarize_array",
    "summarize_file",
    "to_item",
    "transform",
]
