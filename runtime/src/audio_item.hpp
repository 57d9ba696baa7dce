// Audio items inside the guest (docs/CONTRACT.md, "Audio" and "Audio details both executors
// follow"); rmstudio/core/native/audio_items.py is the reference and words its errors the same.
//
// An item arrives as {"data", "sample_rate", "channels", "start_time"} whose data the edge has
// already decoded (base64 typed arrays and "encoding": "file" references become typed arrays
// before any node runs), or as an Audio Value made by an upstream audio node. parse_audio checks
// every rule and returns an AudioIn; audio_value builds the item a node emits.
//
// Rules: sample_rate an integer 1 ... 768000 (16000.0 counts); channels an integer 1 ... 32,
// default 1; start_time a finite number, null or absent meaning 0; data interleaved frame-major,
// its size a multiple of channels, as a typed array (float32, float64, or int8 / int16 / int32 /
// uint8 scaled to [-1, 1)) of any shape, or a JSON list of numbers (nested lists row-major);
// every sample finite. float32 samples are read in place; every other form is held in double,
// exactly, so that a node's result is rounded to float32 once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "error.hpp"
#include "node.hpp"
#include "resample.hpp"
#include "value.hpp"

namespace rm {

constexpr std::uint32_t kMaxSampleRate = 768000;
constexpr std::uint32_t kMaxChannels = 32;
constexpr std::uint32_t kWhisperRate = 16000;

// One validated audio item.
struct AudioIn {
    Value holder;                // keeps the float32 samples alive
    const float* f32 = nullptr;  // float32 samples, read in place; or (when null)
    std::vector<double> f64;     // the samples in double (float64, integer and JSON inputs)
    std::size_t count = 0;       // samples: frames() * channels
    std::uint32_t channels = 1;
    std::uint32_t sample_rate = 1;
    double start_time = 0;

    std::size_t frames() const { return count / channels; }
    double duration_s() const { return static_cast<double>(frames()) / sample_rate; }
    double at(std::size_t i) const { return f32 ? static_cast<double>(f32[i]) : f64[i]; }
    // The samples rounded to float32 (once; float32 input is copied as it is).
    std::vector<float> to_float32() const;
    // Samples [first_frame, first_frame + n_frames) rounded to float32, appended to out.
    void append_float32(std::size_t first_frame, std::size_t n_frames, std::vector<float>& out) const;
};

// Validates item `index` as audio. With `remotemedia` (the Whisper node only) RemoteMedia's
// shapes are accepted as well: {"audio_data" | "audio": samples, "sample_rate"} and
// [samples, sample_rate]. Errors are ctx.invalid_input(index, "item <index>: ...").
Error parse_audio(const Value& item, std::size_t index, const NodeContext& ctx, AudioIn& out,
                  bool remotemedia = false);

// The item a node emits: {data: flat float32, sample_rate, channels, start_time}.
Value audio_value(std::vector<float> samples, std::uint32_t sample_rate, std::uint32_t channels, double start_time);

// AudioTransform on a parsed item: channel conversion (mean downmix in double / mono copied to
// every channel; between two multichannel counts via mono), then the resampler; the result is
// interleaved float32 rounded once. Equal channels and rates give the input back unchanged.
// `ctx` (may be null) receives progress events in seconds of output audio.
std::vector<float> transform_audio(const AudioIn& in, std::uint32_t out_rate, std::uint32_t out_channels,
                                   int zero_crossings, NodeContext* ctx = nullptr);

// An out_of_memory error when transform_audio's result could not exist in wasm32's 4 GiB (a
// 1 Hz item resampled to 384 kHz): its size would not even fit a size_t. Call it first.
// The reference executor gives the same error (rmstudio/core/native/audio_items.py).
Error check_transform_size(const AudioIn& in, std::uint32_t out_rate, std::uint32_t out_channels,
                           std::size_t index, NodeContext& ctx);

// For the Whisper node: item `index` parsed with RemoteMedia's shapes allowed, mixed to mono
// (mean in double) and resampled to 16 kHz with the contract's resampler (quality high), as
// rmstudio/core/native/nodes_whisper.py does. When a conversion was needed a `log` warning event
// says so ("converting 44100 Hz x 2 to 16 kHz mono"). start_time is the item's, duration_s the
// length of mono16k in seconds.
Error whisper_input(const Value& item, std::size_t index, NodeContext& ctx, std::vector<float>& mono16k,
                    double& start_time, double& duration_s);

}  // namespace rm
