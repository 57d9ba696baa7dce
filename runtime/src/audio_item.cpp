#include <cstdio>
#include "audio_item.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "json_io.hpp"
#include "output.hpp"
#include "typed_array.hpp"

namespace rm {

namespace {

// Python's repr of a JSON value, as the reference quotes what a request said.
std::string repr(const Value& v) {
    if (v.is_null()) return "None";
    if (v.is_bool()) return v.as_bool() ? "True" : "False";
    if (v.is_number()) return number_text(v.as_number());
    if (v.is_string()) return "'" + v.as_string() + "'";
    return to_json_text(v);
}

// An integer-valued JSON number (16000 or 16000.0; not a boolean), else false.
bool integral(const Value& v, double& out) {
    if (!v.is_number()) return false;
    const double x = v.as_number();
    if (!std::isfinite(x) || x != std::floor(x)) return false;
    out = x;
    return true;
}

// numpy's str() of a non-finite float: nan, inf, -inf.
std::string nonfinite_text(double x) {
    if (std::isnan(x)) return "nan";
    return x > 0 ? "inf" : "-inf";
}

// A JSON list of numbers, nested to any depth, read row-major into `flat`. Returns why not
// ("a ragged nested list", "a list containing a string"), or "" when it is one. The walk is
// the reference's (_list_samples), so the same lists are accepted and refused.
std::string list_samples(const Value& v, std::size_t depth, std::vector<std::size_t>& shape,
                         std::vector<double>& flat) {
    if (!v.is_list()) return "a ragged nested list";
    const Value::List& items = v.as_list();
    if (depth == shape.size()) {
        shape.push_back(items.size());
    } else if (depth > shape.size() || shape[depth] != items.size()) {
        return "a ragged nested list";
    }
    if (!items.empty() && !items[0].is_list()) {
        for (const Value& x : items) {
            if (!x.is_number()) return "a list containing " + x.describe();
        }
        for (const Value& x : items) flat.push_back(x.as_number());
        return std::string();
    }
    for (const Value& x : items) {
        std::string problem = list_samples(x, depth + 1, shape, flat);
        if (!problem.empty()) return problem;
    }
    return std::string();
}

// Integer dtypes scale as (x - offset) / divisor, in double (exact).
template <class T>
void scale_integers(const TypedArray& a, double offset, double divisor, std::vector<double>& out) {
    const T* p = a.elements<T>();
    const std::size_t n = a.count();
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = (static_cast<double>(p[i]) - offset) / divisor;
}

// Samples from a typed array; "" or why not.
std::string array_samples(const Value& data, AudioIn& out) {
    const TypedArray& a = data.as_array();
    out.count = a.count();
    switch (a.dtype) {
        case DType::Float32:
            out.holder = data;
            out.f32 = a.elements<float>();
            return std::string();
        case DType::Float64: {
            const double* p = a.elements<double>();
            out.f64.assign(p, p + a.count());
            return std::string();
        }
        case DType::Int8: scale_integers<std::int8_t>(a, 0.0, 128.0, out.f64); return std::string();
        case DType::Int16: scale_integers<std::int16_t>(a, 0.0, 32768.0, out.f64); return std::string();
        case DType::Int32: scale_integers<std::int32_t>(a, 0.0, 2147483648.0, out.f64); return std::string();
        case DType::UInt8: scale_integers<std::uint8_t>(a, 128.0, 128.0, out.f64); return std::string();
        default: break;
    }
    return std::string("a ") + dtype_info(a.dtype).name +
           " array (audio data must be float32, float64, int8, int16, int32 or uint8)";
}

// Index of the first non-finite sample, or count when all are finite.
std::size_t first_nonfinite(const AudioIn& a) {
    if (a.f32) {
        for (std::size_t i = 0; i < a.count; ++i) {
            if (!std::isfinite(a.f32[i])) return i;
        }
    } else {
        for (std::size_t i = 0; i < a.count; ++i) {
            if (!std::isfinite(a.f64[i])) return i;
        }
    }
    return a.count;
}

// Copies a mono signal to every one of `channels` output channels.
std::vector<float> replicate(std::vector<float> mono, std::uint32_t channels) {
    if (channels == 1) return mono;
    std::vector<float> out(mono.size() * channels);
    for (std::size_t i = 0; i < mono.size(); ++i) {
        for (std::uint32_t c = 0; c < channels; ++c) out[i * channels + c] = mono[i];
    }
    return out;
}

struct ProgressTarget {
    NodeContext* ctx;
    double rate;
};

void report_progress(void* user, std::uint64_t done, std::uint64_t total) {
    auto* t = static_cast<ProgressTarget*>(user);
    t->ctx->progress(static_cast<double>(done) / t->rate, static_cast<double>(total) / t->rate, "s");
}

}  // namespace

std::vector<float> AudioIn::to_float32() const {
    std::vector<float> out;
    append_float32(0, frames(), out);
    return out;
}

void AudioIn::append_float32(std::size_t first_frame, std::size_t n_frames, std::vector<float>& out) const {
    const std::size_t begin = first_frame * channels;
    const std::size_t end = begin + n_frames * channels;
    if (f32) {
        out.insert(out.end(), f32 + begin, f32 + end);
    } else {
        out.reserve(out.size() + (end - begin));
        for (std::size_t i = begin; i < end; ++i) out.push_back(static_cast<float>(f64[i]));
    }
}

Error parse_audio(const Value& item, std::size_t index, const NodeContext& ctx, AudioIn& out, bool remotemedia) {
    auto bad = [&](const std::string& message) {
        return ctx.invalid_input(index, "item " + std::to_string(index) + ": " + message);
    };
    out = AudioIn();

    if (item.is_audio()) {  // made by an upstream audio node: only the samples need a look
        const Audio& a = item.as_audio();
        out.holder = item;
        out.f32 = a.samples.data();
        out.count = a.samples.size();
        out.channels = a.channels;
        out.sample_rate = static_cast<std::uint32_t>(a.sample_rate);
        out.start_time = a.start_time;
    } else {
        Value converted;
        const Value* it = &item;
        if (remotemedia && item.is_list() && item.as_list().size() == 2 && !item.as_list()[0].is_number() &&
            !item.as_list()[0].is_bool()) {
            Value::Object members;
            members.emplace_back("data", item.as_list()[0]);
            members.emplace_back("sample_rate", item.as_list()[1]);
            converted = Value::object(std::move(members));
            it = &converted;
        }
        if (!it->is_object()) return bad("expects audio {data, sample_rate, channels}, got " + it->describe());

        std::string data_key = "data";
        if (remotemedia && !it->find("data")) {
            if (it->find("audio_data"))
                data_key = "audio_data";
            else if (it->find("audio"))
                data_key = "audio";
        }
        const Value* data = it->find(data_key);
        const Value* rate_v = it->find("sample_rate");
        if (!data || !rate_v) {
            std::string missing = !data ? data_key : std::string();
            if (!rate_v) missing += missing.empty() ? "sample_rate" : " and sample_rate";
            std::vector<std::string> keys;
            for (const Value::Member& m : it->as_object()) keys.push_back(m.first);
            std::sort(keys.begin(), keys.end());
            std::string have;
            for (const std::string& k : keys) have += (have.empty() ? "" : ", ") + k;
            return bad("is not audio: missing " + missing + " (keys present: " + (have.empty() ? "none" : have) + ")");
        }

        double rate = 0;
        if (!integral(*rate_v, rate) || rate < 1 || rate > kMaxSampleRate) {
            return bad("sample_rate must be an integer from 1 to " + std::to_string(kMaxSampleRate) + ", got " +
                       repr(*rate_v));
        }
        double channels = 1;
        if (const Value* ch = it->find("channels")) {
            if (!integral(*ch, channels) || channels < 1 || channels > kMaxChannels) {
                return bad("channels must be an integer from 1 to " + std::to_string(kMaxChannels) + ", got " +
                           repr(*ch));
            }
        }
        double start_time = 0;
        if (const Value* st = it->find("start_time"); st && !st->is_null()) {
            if (!st->is_number() || !std::isfinite(st->as_number())) {
                return bad("start_time must be a finite number of seconds, got " + repr(*st));
            }
            start_time = st->as_number();
        }
        out.sample_rate = static_cast<std::uint32_t>(rate);
        out.channels = static_cast<std::uint32_t>(channels);
        out.start_time = start_time;

        std::string problem;
        if (data->is_array()) {
            problem = array_samples(*data, out);
        } else if (data->is_list()) {
            std::vector<std::size_t> shape;
            problem = list_samples(*data, 0, shape, out.f64);
            out.count = out.f64.size();
        } else {
            const Value* enc = data->find("encoding");
            if (data->is_object() && enc && enc->is_string() && enc->as_string() == "file") {
                const Value* path = data->find("path");
                return bad(data_key + " is a file reference (" + (path ? repr(*path) : std::string("None")) +
                           ") that was not resolved; the host reads file references before the run");
            }
            return bad(data_key + " must be a typed float32 array or a list of numbers, got " + data->describe());
        }
        if (!problem.empty()) return bad(data_key + " is " + problem);
        if (out.count % out.channels != 0) {
            return bad(data_key + " has " + std::to_string(out.count) + " samples, which is not a multiple of channels=" +
                       std::to_string(out.channels) + " (samples are interleaved frame by frame)");
        }
        const std::size_t at = first_nonfinite(out);
        if (at != out.count) {
            return bad(data_key + " contains a non-finite sample (" + nonfinite_text(out.at(at)) + ") at sample " +
                       std::to_string(at));
        }
        return ok();
    }

    const std::size_t at = first_nonfinite(out);
    if (at != out.count) {
        return bad("data contains a non-finite sample (" + nonfinite_text(out.at(at)) + ") at sample " +
                   std::to_string(at));
    }
    return ok();
}

Value audio_value(std::vector<float> samples, std::uint32_t sample_rate, std::uint32_t channels, double start_time) {
    Audio a;
    a.samples = std::move(samples);
    a.sample_rate = sample_rate;
    a.channels = channels;
    a.start_time = start_time;
    return Value::audio(std::move(a));
}

std::vector<float> transform_audio(const AudioIn& in, std::uint32_t out_rate, std::uint32_t out_channels,
                                   int zero_crossings, NodeContext* ctx) {
    const ResamplePlan plan = make_resample_plan(in.sample_rate, out_rate, zero_crossings);
    const std::size_t frames = in.frames();
    ProgressTarget target{ctx, static_cast<double>(out_rate)};
    const ResampleProgress progress = ctx ? report_progress : nullptr;

    if (in.channels == out_channels) {
        if (plan.passthrough()) return in.to_float32();
        std::vector<float> out(plan.output_length(frames) * out_channels);
        if (in.f32)
            resample_interleaved(in.f32, frames, in.channels, plan, out.data(), progress, &target);
        else
            resample_interleaved(in.f64.data(), frames, in.channels, plan, out.data(), progress, &target);
        return out;
    }

    // A different channel count: every output channel is the same mono signal (the one input
    // channel, or the mean of the channels added in order in double), resampled once.
    std::vector<double> mono(frames);
    const std::uint32_t have = in.channels;
    for (std::size_t f = 0; f < frames; ++f) {
        double s = in.at(f * have);
        for (std::uint32_t c = 1; c < have; ++c) s += in.at(f * have + c);
        mono[f] = have > 1 ? s / static_cast<double>(have) : s;
    }
    std::vector<float> mono32;
    if (plan.passthrough()) {
        mono32.resize(frames);
        for (std::size_t f = 0; f < frames; ++f) mono32[f] = static_cast<float>(mono[f]);
    } else {
        mono32.resize(plan.output_length(frames));
        resample_interleaved(mono.data(), frames, 1, plan, mono32.data(), progress, &target);
    }
    std::vector<double>().swap(mono);
    return replicate(std::move(mono32), out_channels);
}

Error check_transform_size(const AudioIn& in, std::uint32_t out_rate, std::uint32_t out_channels,
                           std::size_t index, NodeContext& ctx) {
    const std::uint64_t frames = in.frames();
    // ceil(frames * out / in) without overflow: frames < 2^32 and rates < 2^20.
    const std::uint64_t out_frames = (frames * out_rate + in.sample_rate - 1) / in.sample_rate;
    const double bytes = static_cast<double>(out_frames) * out_channels * sizeof(float);
    if (bytes < 4294967296.0) return ok();
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.1f", bytes / 1073741824.0);
    return Error("out_of_memory", "node '" + ctx.node_id() + "' (" + ctx.node_type() + "): resampling item " +
                                      std::to_string(index) + " from " + std::to_string(in.sample_rate) + " Hz to " +
                                      std::to_string(out_rate) + " Hz gives " + gib +
                                      " GiB of samples; the sandbox holds at most 4 GiB")
        .node(ctx.node_id())
        .with_hint("Check the item's sample_rate; use shorter audio or a lower output rate");
}

Error whisper_input(const Value& item, std::size_t index, NodeContext& ctx, std::vector<float>& mono16k,
                    double& start_time, double& duration_s) {
    AudioIn in;
    Error err = parse_audio(item, index, ctx, in, true);
    if (err.failed()) return err;
    if (in.sample_rate != kWhisperRate || in.channels != 1) {
        ctx.log("converting " + std::to_string(in.sample_rate) + " Hz x " + std::to_string(in.channels) +
                    " to 16 kHz mono",
                "warning");
    }
    err = check_transform_size(in, kWhisperRate, 1, index, ctx);
    if (err.failed()) return err;
    mono16k = transform_audio(in, kWhisperRate, 1, 24);
    start_time = in.start_time;
    duration_s = static_cast<double>(mono16k.size()) / kWhisperRate;
    return ok();
}

}  // namespace rm
