// The audio nodes (catalog category "audio"): MediaReaderNode, AudioTransform, AudioGain,
// AudioNormalize, AudioBuffer, VADTrim. Semantics, edge cases and error wording follow
// docs/CONTRACT.md ("Audio node semantics", "Audio details both executors follow") and the
// reference implementation, rmstudio/core/native/nodes_audio.py. Every node reads its items with
// parse_audio (audio_item.hpp) and emits {data: float32, sample_rate, channels, start_time},
// computing in double and rounding to float32 once.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "audio_item.hpp"
#include "json_io.hpp"
#include "node.hpp"

namespace rm {
namespace {

// 10^(db / 20) in double.
double db_to_gain(double db) { return std::pow(10.0, db / 20.0); }

// A duration in ms as a whole number of frames, rounding half up.
long long ms_to_frames(double ms, std::uint32_t rate) {
    return static_cast<long long>(std::floor(ms * static_cast<double>(rate) / 1000.0 + 0.5));
}

// Python's "{x:g}".
std::string format_g(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
}

// float32(samples · factor) computed in double; node_failed when a result overflows float32.
Error scaled(const AudioIn& in, double factor, const NodeContext& ctx, const std::string& what,
             std::vector<float>& out) {
    out.resize(in.count);
    bool finite = true;
    for (std::size_t i = 0; i < in.count; ++i) {
        out[i] = static_cast<float>(in.at(i) * factor);
        finite = finite && std::isfinite(out[i]);
    }
    if (!finite) return ctx.failed(what + " overflows the float32 range (factor " + format_g(factor) + ")");
    return ok();
}

std::string describe_format(const AudioIn& a) {
    return std::to_string(a.sample_rate) + " Hz with " + std::to_string(a.channels) + " channel" +
           (a.channels != 1 ? "s" : "");
}

// Checks that every item is audio and passes it on (as float32, integer data scaled).
class MediaReaderNode final : public MapNode {
  protected:
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        AudioIn in;
        Error err = parse_audio(item, index, ctx, in);
        if (err.failed()) return err;
        if (item.is_audio()) {
            result = std::move(item);  // already float32 audio: nothing to convert
            return ok();
        }
        result = audio_value(in.to_float32(), in.sample_rate, in.channels, in.start_time);
        return ok();
    }
};

// Channel conversion (mean downmix / copy upmix), then band-limited resampling.
class AudioTransformNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext& ctx) override {
        rate_ = static_cast<std::uint32_t>(params.integer("output_sample_rate", 16000));
        channels_ = static_cast<std::uint32_t>(params.integer("output_channels", 1));
        const std::string quality = params.string("quality", "high");
        if (!zero_crossings_for(quality, zero_crossings_)) {
            return ctx.failed("unknown quality '" + quality + "'");  // the validator rules this out
        }
        return ok();
    }

  protected:
    // Progress is reported in items (MapNode), not in seconds: "s" progress feeds the host's
    // real-time-factor plot, which is about transcription, not about a resampling pass.
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        AudioIn in;
        Error err = parse_audio(item, index, ctx, in);
        if (err.failed()) return err;
        err = check_transform_size(in, rate_, channels_, index, ctx);
        if (err.failed()) return err;
        std::vector<float> out = transform_audio(in, rate_, channels_, zero_crossings_);
        result = audio_value(std::move(out), rate_, channels_, in.start_time);
        return ok();
    }

  private:
    std::uint32_t rate_ = 16000;
    std::uint32_t channels_ = 1;
    int zero_crossings_ = 24;
};

// Every sample times 10^(gain_db / 20).
class AudioGainNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext&) override {
        gain_db_ = params.number("gain_db", 0.0);
        return ok();
    }

  protected:
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        AudioIn in;
        Error err = parse_audio(item, index, ctx, in);
        if (err.failed()) return err;
        std::vector<float> out;
        err = scaled(in, db_to_gain(gain_db_), ctx,
                     "a gain of " + number_text(gain_db_) + " dB on item " + std::to_string(index), out);
        if (err.failed()) return err;
        result = audio_value(std::move(out), in.sample_rate, in.channels, in.start_time);
        return ok();
    }

  private:
    double gain_db_ = 0.0;
};

// Scales so that the peak magnitude over all channels is 10^(target_db / 20); the factor is
// 10^(target_db / 20) / peak in double. Silence and empty items pass on untouched.
class AudioNormalizeNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext&) override {
        target_ = db_to_gain(params.number("target_db", -1.0));
        return ok();
    }

  protected:
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        AudioIn in;
        Error err = parse_audio(item, index, ctx, in);
        if (err.failed()) return err;
        double peak = 0.0;
        for (std::size_t i = 0; i < in.count; ++i) peak = std::max(peak, std::fabs(in.at(i)));
        std::vector<float> out;
        if (peak == 0.0) {
            out = in.to_float32();
        } else {
            err = scaled(in, target_ / peak, ctx, "normalizing item " + std::to_string(index), out);
            if (err.failed()) return err;
        }
        result = audio_value(std::move(out), in.sample_rate, in.channels, in.start_time);
        return ok();
    }

  private:
    double target_ = 1.0;
};

// Joins all incoming audio (one format required) and cuts it into chunks of
// buffer_size_samples frames; the last chunk may be shorter, no frames give no chunks. A
// chunk's start_time is that of the item holding its first frame plus the frame's offset in it.
class AudioBufferNode final : public Node {
  public:
    Error init(const Params& params, NodeContext&) override {
        size_ = static_cast<std::size_t>(params.integer("buffer_size_samples", 1));
        if (size_ == 0) size_ = 1;  // the validator rules this out
        return ok();
    }

    Error process(std::vector<Value>& items, std::vector<Value>& out, NodeContext& ctx) override {
        std::vector<AudioIn> parsed(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            Error err = parse_audio(items[i], i, ctx, parsed[i]);
            if (err.failed()) return err;
            if (i > 0 && (parsed[i].sample_rate != parsed[0].sample_rate || parsed[i].channels != parsed[0].channels)) {
                return ctx.invalid_input(i, "item " + std::to_string(i) + ": AudioBuffer joins audio of one format, but item " +
                                                std::to_string(i) + " is " + describe_format(parsed[i]) +
                                                " and item 0 is " + describe_format(parsed[0]) +
                                                "; put an AudioTransform before the AudioBuffer");
            }
        }
        out.clear();
        if (parsed.empty()) return ok();
        const std::uint32_t rate = parsed[0].sample_rate;
        const std::uint32_t channels = parsed[0].channels;
        std::size_t total = 0;
        for (const AudioIn& a : parsed) total += a.frames();

        const std::size_t chunks = (total + size_ - 1) / size_;
        out.reserve(chunks);
        std::size_t k = 0;       // the item holding frame `pos`
        std::size_t k_start = 0; // its first frame in the joined stream
        for (std::size_t pos = 0; pos < total; pos += size_) {
            // The last item that starts at or before pos and holds frames (skips empty items).
            while (k_start + parsed[k].frames() <= pos) {
                k_start += parsed[k].frames();
                ++k;
            }
            const double start_time =
                parsed[k].start_time + static_cast<double>(pos - k_start) / static_cast<double>(rate);
            const std::size_t n = std::min(size_, total - pos);
            std::vector<float> chunk;
            chunk.reserve(n * channels);
            std::size_t item = k, offset = pos - k_start, need = n;
            while (need > 0) {
                const std::size_t take = std::min(need, parsed[item].frames() - offset);
                parsed[item].append_float32(offset, take, chunk);
                need -= take;
                ++item;
                offset = 0;
            }
            out.push_back(audio_value(std::move(chunk), rate, channels, start_time));
            ctx.progress(static_cast<double>(out.size()), static_cast<double>(chunks), "items");
        }
        return ok();
    }

  private:
    std::size_t size_ = 1;
};

// Energy voice-activity trim of leading and trailing silence (frames of F, voiced when the mean
// square over all their samples is positive and at least threshold_db in dBFS; the kept range
// is widened by P on each side and clipped; no voiced frame gives a zero-frame item).
class VADTrimNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext&) override {
        threshold_db_ = params.number("threshold_db", -45.0);
        frame_ms_ = params.number("frame_ms", 30.0);
        padding_ms_ = params.number("padding_ms", 300.0);
        return ok();
    }

  protected:
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        AudioIn in;
        Error err = parse_audio(item, index, ctx, in);
        if (err.failed()) return err;
        const std::uint32_t rate = in.sample_rate;
        const std::size_t frame = static_cast<std::size_t>(std::max(1LL, ms_to_frames(frame_ms_, rate)));
        const long long pad = ms_to_frames(padding_ms_, rate);
        const std::size_t n = in.frames();
        const std::size_t count = (n + frame - 1) / frame;
        long long first = -1, last = -1;
        for (std::size_t f = 0; f < count; ++f) {
            const std::size_t b = f * frame * in.channels;
            const std::size_t e = std::min(n, (f + 1) * frame) * in.channels;
            double energy = 0.0;
            for (std::size_t i = b; i < e; ++i) energy += in.at(i) * in.at(i);
            const double mean_square = energy / static_cast<double>(e - b);
            if (mean_square > 0 && 10.0 * std::log10(mean_square) >= threshold_db_) {
                if (first < 0) first = static_cast<long long>(f);
                last = static_cast<long long>(f);
            }
        }
        std::vector<float> out;
        if (first < 0) {
            result = audio_value(std::move(out), rate, in.channels, in.start_time);
            return ok();
        }
        const long long total = static_cast<long long>(n);
        const long long begin = std::max(0LL, first * static_cast<long long>(frame) - pad);
        const long long end = std::min(total, std::min(total, (last + 1) * static_cast<long long>(frame)) + pad);
        in.append_float32(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin), out);
        result = audio_value(std::move(out), rate, in.channels,
                             in.start_time + static_cast<double>(begin) / static_cast<double>(rate));
        return ok();
    }

  private:
    double threshold_db_ = -45.0;
    double frame_ms_ = 30.0;
    double padding_ms_ = 300.0;
};

}  // namespace

RM_REGISTER_NODE("MediaReaderNode", MediaReaderNode);
RM_REGISTER_NODE("AudioTransform", AudioTransformNode);
RM_REGISTER_NODE("AudioGain", AudioGainNode);
RM_REGISTER_NODE("AudioNormalize", AudioNormalizeNode);
RM_REGISTER_NODE("AudioBuffer", AudioBufferNode);
RM_REGISTER_NODE("VADTrim", VADTrimNode);

}  // namespace rm
