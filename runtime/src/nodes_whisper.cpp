// WhisperTranscriber: speech to text with whisper.cpp (docs/CONTRACT.md, "Whisper").
//
// The reference implementation is rmstudio/core/native/nodes_whisper.py (pywhispercpp over the
// same whisper.cpp 1.8.5): same decoding params, same output item, same language rule. What is
// specific to the sandbox:
//  * one thread: WASI preview 1 has none, ggml's pool would fail in pthread_create, so
//    n_threads is ignored and the output says "effective_threads": 1;
//  * the model is read from a preopened directory with stdio, straight into ggml's buffers
//    (whisper.cpp's loader reads each tensor into its buffer; the file is never held whole);
//  * whisper.cpp / ggml logs would go to stderr, which is the JSON-lines event stream: they are
//    routed to `log` events (warnings and errors) or dropped (info and debug noise);
//  * out of memory under the host's cap: ggml reports a failed allocation by returning null or
//    aborting; both end as a structured `out_of_memory` error (see fatal.hpp);
//  * the loaded model outlives the request (see "Loaded models" below), which only matters in
//    the reactor module, where one instance serves many requests.
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "audio_item.hpp"
#include "catalog.hpp"
#include "events.hpp"
#include "fatal.hpp"
#include "ggml.h"
#include "node.hpp"
#include "whisper.h"

namespace rm {
namespace {

constexpr int kRate = WHISPER_SAMPLE_RATE;  // 16 kHz
constexpr int kMaxDecoders = 8;             // WHISPER_MAX_DECODERS in whisper.cpp (not exported)

// ---- whisper.cpp and ggml diagnostics -------------------------------------------------------

// Log lines arrive in pieces (GGML_LOG_LEVEL_CONT continues the previous line). Complete
// warnings and errors become `log` events of the node that is running whisper; the last one is
// kept for error messages. Info and debug lines (model hyper-parameters, buffer sizes, timings)
// are dropped: they would flood the event stream.
struct LogState {
    std::string node_id;
    std::string pending;
    ggml_log_level level = GGML_LOG_LEVEL_INFO;
    std::string last_problem;
};
LogState g_log;

void flush_log_line() {
    std::string line = std::move(g_log.pending);
    g_log.pending.clear();
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty()) return;
    if (g_log.level == GGML_LOG_LEVEL_WARN || g_log.level == GGML_LOG_LEVEL_ERROR) {
        g_log.last_problem = line;
        events::log("warning", "whisper.cpp: " + line, g_log.node_id);
    }
}

void on_whisper_log(ggml_log_level level, const char* text, void*) {
    if (level != GGML_LOG_LEVEL_CONT) {
        if (!g_log.pending.empty()) flush_log_line();
        g_log.level = level;
    }
    if (!text) return;
    for (const char* p = text; *p; ++p) {
        if (*p == '\n') {
            flush_log_line();
        } else {
            g_log.pending += *p;
        }
    }
}

// GGML_ABORT / GGML_ASSERT: ggml formats the message, calls this, then abort(). Ending here
// writes the JSON error (out_of_memory when a failed allocation led to it) instead of ggml's
// raw text and backtrace on stderr.
char g_abort_text[512];
void on_ggml_abort(const char* message) {
    std::snprintf(g_abort_text, sizeof g_abort_text, "whisper.cpp/ggml aborted: %s", message ? message : "");
    fatal_internal(g_abort_text);
}

void install_hooks_once() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    whisper_log_set(on_whisper_log, nullptr);  // also sets ggml's logger
    ggml_set_abort_callback(on_ggml_abort);
}

// ---- Model file -----------------------------------------------------------------------------

struct FileLoader {
    std::FILE* f = nullptr;
};

std::size_t loader_read(void* ctx, void* out, std::size_t n) {
    return std::fread(out, 1, n, static_cast<FileLoader*>(ctx)->f);
}
bool loader_eof(void* ctx) { return std::feof(static_cast<FileLoader*>(ctx)->f) != 0; }
void loader_close(void* ctx) {
    FileLoader* l = static_cast<FileLoader*>(ctx);
    if (l->f) std::fclose(l->f);
    l->f = nullptr;
}

// Checks the ggml header (magic + hyper-parameters) so a wrong file gets a plain message rather
// than whatever whisper.cpp makes of random numbers. Returns "" when it looks like a model.
std::string check_model_header(std::FILE* f) {
    std::int32_t h[12];
    std::size_t got = std::fread(h, sizeof(std::int32_t), 12, f);
    std::rewind(f);
    if (got < 1 || static_cast<std::uint32_t>(h[0]) != 0x67676d6cu) {
        return got >= 1 && std::memcmp(h, "GGUF", 4) == 0
                   ? "it is a GGUF file; whisper.cpp reads the older ggml format (ggml-*.bin)"
                   : "it does not start with the ggml magic (0x67676d6c), so it is not a whisper.cpp model";
    }
    if (got < 12) return "it ends inside the model header";
    const std::int32_t n_vocab = h[1], n_audio_ctx = h[2], n_audio_state = h[3], n_audio_head = h[4],
                       n_audio_layer = h[5], n_text_ctx = h[6], n_text_state = h[7], n_text_head = h[8],
                       n_text_layer = h[9], n_mels = h[10];
    auto in = [](std::int32_t v, std::int32_t lo, std::int32_t hi) { return v >= lo && v <= hi; };
    if (!in(n_vocab, 1, 1 << 20) || !in(n_audio_ctx, 1, 1 << 16) || !in(n_audio_state, 1, 1 << 16) ||
        !in(n_audio_head, 1, 1024) || !in(n_audio_layer, 1, 1024) || !in(n_text_ctx, 1, 1 << 16) ||
        !in(n_text_state, 1, 1 << 16) || !in(n_text_head, 1, 1024) || !in(n_text_layer, 1, 1024) ||
        !in(n_mels, 1, 1024)) {
        return "its header holds implausible hyper-parameters (a damaged or non-Whisper ggml file)";
    }
    return std::string();
}

const char* kModelHint =
    "The guest sees only directories the host preopened. Run through RM Studio (rmstudio run / "
    "transcribe mount models from the store), or preopen the model's directory yourself: "
    "wasmtime run --dir HOST_DIR::/models rm_executor.wasm";

// ---- Loaded models, kept between requests ------------------------------------------------------

// Loading tiny.en takes 0.15-0.25 s (reading 40-75 MB and building whisper.cpp's state), as
// long as transcribing a few seconds of speech. A warm instance (the reactor) keeps the last
// model it loaded, and a later request naming the same file reuses it. The file's identity as
// the guest sees it is the key, so a model replaced on disk is read again. One model at most:
// loading another drops the first (once no node of the running pipeline holds it), which keeps
// a warm instance's memory at what one model needs.
//
// What a reused context carries from one request to the next: only the weights and buffers.
// whisper_full clears the results, the prompt history (no_context, which the node never turns
// off) and reseeds every decoder's random generator on each call, so a warm transcription
// gives the same result as a fresh one (tests/integration/test_warm_guest.py checks it).
struct ModelKey {
    std::string path;
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_s = 0, mtime_ns = 0;

    bool operator==(const ModelKey& o) const {
        return path == o.path && dev == o.dev && ino == o.ino && size == o.size && mtime_s == o.mtime_s &&
               mtime_ns == o.mtime_ns;
    }
};

ModelKey model_key(const std::string& path, const struct stat& st) {
    ModelKey k;
    k.path = path;
    k.dev = static_cast<std::uint64_t>(st.st_dev);
    k.ino = static_cast<std::uint64_t>(st.st_ino);
    k.size = static_cast<std::uint64_t>(st.st_size);
    k.mtime_s = static_cast<std::int64_t>(st.st_mtim.tv_sec);
    k.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_nsec);
    return k;
}

using ModelRef = std::shared_ptr<whisper_context>;

struct LoadedModel {
    ModelKey key;
    ModelRef ctx;
};
LoadedModel g_loaded;

ModelRef take_loaded(const ModelKey& key) { return g_loaded.ctx && g_loaded.key == key ? g_loaded.ctx : nullptr; }

// After a failed whisper_full the state may be half-updated: never hand it to another request.
void forget_loaded(const ModelRef& ctx) {
    if (g_loaded.ctx == ctx) g_loaded = LoadedModel();
}

// ---- One transcription ----------------------------------------------------------------------

struct Job {
    const std::string* node_id = nullptr;
    double offset = 0;    // start_time of the group's first item
    double duration = 0;  // seconds of 16 kHz audio in the group
    double progress_done = -1;
};

void report_progress(Job& job, double done) {
    if (done > job.duration) done = job.duration;
    if (done <= job.progress_done) return;
    job.progress_done = done;
    events::progress(*job.node_id, done, job.duration, "s");
}

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    std::size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return std::string();
    std::size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

void on_new_segment(whisper_context*, whisper_state* state, int n_new, void* user) {
    Job& job = *static_cast<Job*>(user);
    const int n = whisper_full_n_segments_from_state(state);
    for (int i = n - n_new; i < n; ++i) {
        if (i < 0) continue;
        const double t0 = static_cast<double>(whisper_full_get_segment_t0_from_state(state, i)) / 100.0;
        const double t1 = static_cast<double>(whisper_full_get_segment_t1_from_state(state, i)) / 100.0;
        events::segment(*job.node_id, job.offset + t0, job.offset + t1,
                        trimmed(whisper_full_get_segment_text_from_state(state, i)));
        report_progress(job, t1);
    }
}

void on_progress(whisper_context*, whisper_state*, int percent, void* user) {
    Job& job = *static_cast<Job*>(user);
    report_progress(job, job.duration * percent / 100.0);
}

// Also the reference executor's wording (rmstudio/core/native/nodes_whisper.py).
constexpr const char* kLanguageHint = "Use a Whisper language code (en, de, fr, ...), its English name (german), or auto";

class WhisperNode final : public Node {
  public:
    Error init(const Params& params, NodeContext& ctx) override {
        install_hooks_once();
        model_ = params.string("model", "default");
        language_ = params.string("language", "auto");
        translate_ = params.boolean("translate");
        beam_size_ = static_cast<int>(params.integer("beam_size", 1));
        best_of_ = static_cast<int>(params.integer("best_of", 1));
        timestamps_ = params.boolean("timestamps", true);
        initial_prompt_ = params.string("initial_prompt");
        accumulate_ = params.boolean("accumulate_chunks", true);
        requested_threads_ = params.integer("n_threads", 1);
        const int decoders = beam_size_ > 1 ? beam_size_ : best_of_;
        if (decoders > kMaxDecoders) {
            const char* name = beam_size_ > 1 ? "beam_size" : "best_of";
            return Error("invalid_param", "node '" + ctx.node_id() + "' (" + ctx.node_type() + "): " + name + " " +
                                              std::to_string(decoders) + " needs more decoders than whisper.cpp has (" +
                                              std::to_string(kMaxDecoders) + ")")
                .node(ctx.node_id())
                .with_hint(std::string("Use ") + name + " 8 or less");
        }

        // whisper.cpp takes an unknown code silently (and decodes as if it were token -1).
        if (language_ != "auto" && whisper_lang_id(language_.c_str()) < 0) {
            return Error("invalid_param", "node '" + ctx.node_id() + "' (" + ctx.node_type() + "): unknown language '" +
                                              language_ + "'")
                .node(ctx.node_id())
                .with_hint(kLanguageHint);
        }

        // A name the host mapped wins over reading the value as a path.
        if (const Value* models = ctx.request_option("models")) {
            if (const Value* mapped = models->find(model_); mapped && mapped->is_string()) path_ = mapped->as_string();
        }
        if (path_.empty() && !model_.empty() && model_[0] == '/') path_ = model_;
        if (path_.empty()) {
            std::string known;
            if (const Value* models = ctx.request_option("models"); models && models->is_object()) {
                for (const Value::Member& m : models->as_object()) known += (known.empty() ? "" : ", ") + m.first;
            }
            return Error("invalid_param", "node '" + ctx.node_id() + "' (" + ctx.node_type() + "): model '" + model_ +
                                              "' is not a guest path and the host mapped no file for it" +
                                              (known.empty() ? std::string(" (options.models is empty)")
                                                             : " (options.models names: " + known + ")"))
                .node(ctx.node_id())
                .with_hint("Give an absolute guest path such as /models/ggml-tiny.en.bin, or a model name "
                           "from `rmstudio models list` when running through RM Studio");
        }
        return ok();
    }

    Error process(std::vector<Value>& items, std::vector<Value>& out, NodeContext& ctx) override {
        out.clear();
        if (items.empty()) return ok();

        // Every item is read (and converted to 16 kHz mono) before the model is loaded, so a bad
        // item fails fast.
        struct Piece {
            std::vector<float> samples;
            double start_time = 0;
        };
        std::vector<Piece> pieces;
        pieces.reserve(accumulate_ ? 1 : items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::vector<float> mono;
            double start = 0, duration = 0;
            Error err = whisper_input(items[i], i, ctx, mono, start, duration);
            if (err.failed()) return err;
            items[i] = Value();
            if (accumulate_ && !pieces.empty()) {
                pieces.back().samples.insert(pieces.back().samples.end(), mono.begin(), mono.end());
            } else {
                pieces.push_back(Piece{std::move(mono), start});
            }
        }

        Error err = load_model(ctx);
        if (err.failed()) return err;
        for (Piece& piece : pieces) {
            Value result;
            err = transcribe(piece.samples, piece.start_time, ctx, result);
            if (err.failed()) return err;
            std::vector<float>().swap(piece.samples);
            out.push_back(std::move(result));
        }
        return ok();
    }

  private:
    // An error for a whisper.cpp call that returned failure: out_of_memory when the heap could
    // not grow meanwhile, else node_failed with whisper.cpp's last complaint.
    Error whisper_failure(NodeContext& ctx, std::size_t failed_before, const std::string& what) const {
        if (failed_allocation_bytes() != failed_before) {
            return Error("out_of_memory", "out of memory while " + what + ": an allocation of " +
                                              std::to_string(failed_allocation_bytes()) + " bytes failed with " +
                                              std::to_string(memory_bytes()) + " bytes of linear memory in use")
                .node(ctx.node_id())
                .with_hint("Raise the run's memory limit or use a smaller (quantized) model");
        }
        std::string detail = g_log.last_problem.empty() ? std::string() : " (whisper.cpp: " + g_log.last_problem + ")";
        return ctx.failed(what + " failed" + detail);
    }

    Error load_model(NodeContext& ctx) {
        if (model_ref_) return ok();
        struct stat st;
        if (::stat(path_.c_str(), &st) != 0) {
            const int e = errno;
            return ctx.failed("cannot open model file '" + path_ + "': " + std::strerror(e)).with_hint(kModelHint);
        }
        if (!S_ISREG(st.st_mode)) {
            return ctx.failed("model path '" + path_ + "' is not a regular file").with_hint(kModelHint);
        }
        const ModelKey key = model_key(path_, st);
        if ((model_ref_ = take_loaded(key))) {
            wctx_ = model_ref_.get();
            ctx.log("model '" + model_ + "' already loaded (kept from an earlier request)");
            return ok();
        }
        g_loaded = LoadedModel();  // free the previous model first (if unused) to keep the peak low
        FileLoader file;
        file.f = std::fopen(path_.c_str(), "rb");
        if (!file.f) {
            const int e = errno;
            return ctx.failed("cannot open model file '" + path_ + "': " + std::strerror(e)).with_hint(kModelHint);
        }
        std::string bad = check_model_header(file.f);
        if (!bad.empty()) {
            loader_close(&file);
            return ctx.failed("model file '" + path_ + "' is not usable: " + bad)
                .with_hint("Use a whisper.cpp ggml model (ggml-*.bin), e.g. one from `rmstudio models list`");
        }

        const double t0 = now_ms();
        whisper_model_loader loader{&file, loader_read, loader_eof, loader_close};
        whisper_context_params cp = whisper_context_default_params();
        cp.use_gpu = false;
        cp.flash_attn = true;  // upstream default; without it the encoder is several times slower
        g_log.node_id = ctx.node_id();
        g_log.last_problem.clear();
        const std::size_t failed_before = failed_allocation_bytes();
        wctx_ = whisper_init_with_params(&loader, cp);  // closes the file through the loader
        if (!wctx_) {
            Error e = whisper_failure(ctx, failed_before, "loading model '" + path_ + "'");
            if (e.code == "node_failed") {
                e.hint = "The file may be truncated or damaged, or not a Whisper model; re-import it "
                         "(rmstudio models import) or pick another";
            }
            return e;
        }
        model_ref_ = ModelRef(wctx_, whisper_free);
        g_loaded = LoadedModel{key, model_ref_};
        ctx.log("loaded " + std::string(whisper_model_type_readable(wctx_)) + " model '" + model_ + "' (" +
                std::to_string(st.st_size / (1 << 20)) + " MiB) in " +
                std::to_string(static_cast<long long>(now_ms() - t0)) + " ms");
        return ok();
    }

    Error transcribe(const std::vector<float>& audio, double offset, NodeContext& ctx, Value& result) {
        const double t_start = now_ms();
        Job job;
        job.node_id = &ctx.node_id();
        job.offset = offset;
        job.duration = static_cast<double>(audio.size()) / kRate;

        std::string language = language_;
        if (language == "auto" && !whisper_is_multilingual(wctx_)) language = "en";  // nothing to detect

        const bool beam = beam_size_ > 1;
        whisper_full_params wp = whisper_full_default_params(beam ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
        wp.n_threads = 1;
        wp.language = language == "auto" ? "" : language.c_str();
        wp.detect_language = false;
        wp.translate = translate_;
        wp.no_timestamps = !timestamps_;
        wp.initial_prompt = initial_prompt_.c_str();
        wp.print_progress = false;
        wp.print_realtime = false;
        wp.print_timestamps = false;
        if (beam) {
            wp.beam_search.beam_size = beam_size_;
            wp.beam_search.patience = -1.0f;
        } else {
            wp.greedy.best_of = best_of_;
        }
        wp.new_segment_callback = on_new_segment;
        wp.new_segment_callback_user_data = &job;
        wp.progress_callback = on_progress;
        wp.progress_callback_user_data = &job;

        Value::List segments;
        std::string text;
        if (!audio.empty()) {
            report_progress(job, 0);  // audio processing starts now (what "warm start" measures)
            g_log.node_id = ctx.node_id();
            g_log.last_problem.clear();
            const std::size_t failed_before = failed_allocation_bytes();
            whisper_reset_timings(wctx_);  // the log line below reports this request's encoder
            const int rc = whisper_full(wctx_, wp, audio.data(), static_cast<int>(audio.size()));
            if (rc != 0) {
                forget_loaded(model_ref_);
                return whisper_failure(ctx, failed_before, "transcribing (whisper_full code " + std::to_string(rc) + ")");
            }
            const int n = whisper_full_n_segments(wctx_);
            for (int i = 0; i < n; ++i) {
                std::string seg = trimmed(whisper_full_get_segment_text(wctx_, i));
                const double t0 = offset + static_cast<double>(whisper_full_get_segment_t0(wctx_, i)) / 100.0;
                const double t1 = offset + static_cast<double>(whisper_full_get_segment_t1(wctx_, i)) / 100.0;
                if (!seg.empty()) text += (text.empty() ? "" : " ") + seg;
                segments.push_back(Value::object({{"start", Value::number(t0)},
                                                  {"end", Value::number(t1)},
                                                  {"text", Value::string(std::move(seg))}}));
            }
        }
        report_progress(job, job.duration);

        std::string detected = language;
        if (detected == "auto") {
            const int id = audio.empty() ? -1 : whisper_full_lang_id(wctx_);
            detected = id >= 0 ? whisper_lang_str(id) : "auto";
        }
        result = Value::object({
            {"text", Value::string(std::move(text))},
            {"segments", Value::list(std::move(segments))},
            {"language", Value::string(detected)},
            {"audio_duration", Value::number(job.duration)},
            {"model", Value::string(model_)},
            {"effective_threads", Value::number(1)},
        });
        char line[256];
        int used = std::snprintf(line, sizeof line, "transcribed %.1f s in %.2f s on 1 thread (%lld requested)",
                                 job.duration, (now_ms() - t_start) / 1000.0,
                                 static_cast<long long>(requested_threads_));
        // Where the time went, in whisper.cpp's own clocks: the encoder's share is what
        // benchmarks/bench_encoder_gflops.py turns into GFLOP/s against the SIMD peak.
        if (whisper_timings* t = audio.empty() ? nullptr : whisper_get_timings(wctx_)) {
            if (used > 0 && static_cast<std::size_t>(used) < sizeof line) {
                std::snprintf(line + used, sizeof line - used, "; encoder %.1f ms per pass, decoder %.2f ms per token",
                              t->encode_ms, t->decode_ms);
            }
            delete t;  // whisper_get_timings hands over a new object
        }
        ctx.log(line);
        return ok();
    }

    std::string model_, path_, language_, initial_prompt_;
    bool translate_ = false, timestamps_ = true, accumulate_ = true;
    int beam_size_ = 1, best_of_ = 1;
    long long requested_threads_ = 1;
    ModelRef model_ref_;               // keeps the context alive while this node exists
    whisper_context* wctx_ = nullptr;  // model_ref_.get()
};

}  // namespace

const char* whisper_system_info() { return whisper_print_system_info(); }

RM_REGISTER_NODE("WhisperTranscriber", WhisperNode);

}  // namespace rm
