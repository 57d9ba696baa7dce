// Quantize a whisper.cpp ggml model inside the sandbox (docs/CONTRACT.md, "Quantize").
//
// Why in the guest: the same ggml that later runs the model does the quantization
// (ggml_quantize_chunk), so every format ggml can read is one RM Studio can make, byte for byte
// what whisper.cpp's own quantize tool writes, without a native ggml build on the host. The
// host preopens the input's directory read-only and a fresh output directory writable; the
// guest sees nothing else.
//
// Which tensors are quantized follows whisper.cpp's examples/quantize: every 2-D tensor except
// the conv biases (stored as [1, n_state]) and the two positional embeddings; 1-D tensors
// (biases, layer norms) and the 3-D conv weights keep their type. One deliberate difference:
// when the input has f32 weights, upstream copies the conv weights as f32, but whisper.cpp's
// loader wants them f16 in any file whose weight type is not f32 (it sizes them as f16 and
// rejects the file), so they are rounded to f16 here and the result loads.
//
// The file is read twice: a first pass walks every record (seeking over the data) and checks it,
// so a damaged or unsuitable input fails before anything is written; the second pass streams
// tensor by tensor in chunks of whole rows, so memory stays at a few MiB whatever the model size.
#include "quantize.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.hpp"
#include "events.hpp"
#include "fatal.hpp"
#include "ggml.h"
#include "json_io.hpp"
#include "request.hpp"

namespace rm {
namespace {

struct QuantType {
    const char* name;  // ggml_type_name spelling
    ggml_type type;
    ggml_ftype ftype;  // written to the header (plus the quantization version)
};

// The types whisper.cpp's quantize tool offers (examples/common-ggml.cpp): quantized by
// ggml_quantize_chunk without an importance matrix and readable by whisper.cpp's loader.
const QuantType kTypes[] = {
    {"q8_0", GGML_TYPE_Q8_0, GGML_FTYPE_MOSTLY_Q8_0}, {"q5_1", GGML_TYPE_Q5_1, GGML_FTYPE_MOSTLY_Q5_1},
    {"q5_0", GGML_TYPE_Q5_0, GGML_FTYPE_MOSTLY_Q5_0}, {"q4_1", GGML_TYPE_Q4_1, GGML_FTYPE_MOSTLY_Q4_1},
    {"q4_0", GGML_TYPE_Q4_0, GGML_FTYPE_MOSTLY_Q4_0}, {"q6_K", GGML_TYPE_Q6_K, GGML_FTYPE_MOSTLY_Q6_K},
    {"q5_K", GGML_TYPE_Q5_K, GGML_FTYPE_MOSTLY_Q5_K}, {"q4_K", GGML_TYPE_Q4_K, GGML_FTYPE_MOSTLY_Q4_K},
    {"q3_K", GGML_TYPE_Q3_K, GGML_FTYPE_MOSTLY_Q3_K}, {"q2_K", GGML_TYPE_Q2_K, GGML_FTYPE_MOSTLY_Q2_K},
};

// 2-D tensors whisper.cpp keeps in f32 whatever the file type (its loader creates them f32).
const char* const kKeepF32[] = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
                                "decoder.positional_embedding"};
// 3-D tensors the loader creates f16 unless the whole file is f32.
const char* const kConvWeights[] = {"encoder.conv1.weight", "encoder.conv2.weight"};

constexpr int kHparams = 11;
constexpr std::uint64_t kHeaderBytes = 4 + 4 * kHparams;
constexpr std::size_t kMaxNameBytes = 255;
constexpr std::uint32_t kMaxTokenBytes = 1024;
constexpr std::int64_t kMaxDim = std::int64_t(1) << 24;
constexpr std::size_t kMaxTensors = 1 << 16;  // large-v3 has ~1300; a file of tiny records is hostile
constexpr std::size_t kChunkValues = std::size_t(1) << 20;  // values per quantize call (4 MiB as f32)
constexpr std::size_t kCopyBytes = std::size_t(1) << 20;
const char* const kNodeId = "quantize";

const char* kFromF16Hint = "Quantize from a model with f16 or f32 weights, e.g. `rmstudio models quantize tiny.en`";
const char* kDamagedHint = "The file is truncated or damaged; re-import or convert the model again";

std::string lower(std::string s) {
    for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return s;
}

const QuantType* find_type(const std::string& name) {
    const std::string want = lower(name);
    for (const QuantType& t : kTypes) {
        if (lower(t.name) == want) return &t;
    }
    return nullptr;
}

std::string type_list() {
    std::string out;
    for (const QuantType& t : kTypes) out += (out.empty() ? "" : ", ") + std::string(t.name);
    return out;
}

bool listed(const std::string& name, const char* const* begin, const char* const* end) {
    for (const char* const* p = begin; p != end; ++p) {
        if (name == *p) return true;
    }
    return false;
}

std::string at_byte(std::uint64_t offset) { return " (at byte " + std::to_string(offset) + ")"; }

// ---- ggml diagnostics -----------------------------------------------------------------------

// ggml's aborts (a failed assertion) end as the structured internal error, not raw text on
// stderr; its warnings become log events, its info output is dropped.
char g_abort_text[512];
void on_ggml_abort(const char* message) {
    std::snprintf(g_abort_text, sizeof g_abort_text, "ggml aborted while quantizing: %s", message ? message : "");
    fatal_internal(g_abort_text);
}

void on_ggml_log(ggml_log_level level, const char* text, void*) {
    if ((level != GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_ERROR) || !text) return;
    std::string line(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) events::log("warning", "ggml: " + line, kNodeId);
}

// ---- Input ----------------------------------------------------------------------------------

class Input {
  public:
    ~Input() {
        if (f_) std::fclose(f_);
    }

    Error open(const std::string& path) {
        path_ = path;
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) {
            const int e = errno;
            return Error(e == ENOENT ? "file_not_found" : "io_error",
                         "cannot open the model '" + path + "': " + std::strerror(e))
                .at("/quantize/input")
                .with_hint("The guest sees only directories the host preopened (wasmtime run --dir HOST::/in)");
        }
        if (!S_ISREG(st.st_mode)) {
            return Error("io_error", "the model path '" + path + "' is not a regular file").at("/quantize/input");
        }
        f_ = std::fopen(path.c_str(), "rb");
        if (!f_) {
            const int e = errno;
            return Error("io_error", "cannot open the model '" + path + "': " + std::strerror(e)).at("/quantize/input");
        }
        size_ = static_cast<std::uint64_t>(st.st_size);
        return ok();
    }

    // Exactly n bytes, or invalid_model naming what the file ends inside.
    Error read(void* out, std::size_t n, const std::string& what) {
        if (n == 0) return ok();
        if (size_ - pos_ < n) return truncated(n, what);
        const std::size_t got = std::fread(out, 1, n, f_);
        if (got != n) {
            if (std::ferror(f_)) return io_failure();
            return truncated(n, what);
        }
        pos_ += n;
        return ok();
    }

    Error skip(std::uint64_t n, const std::string& what) {
        if (size_ - pos_ < n) return truncated(n, what);
        if (n <= sizeof scratch_) return read(scratch_, static_cast<std::size_t>(n), what);  // a seek drops stdio's buffer
        return seek(pos_ + n);
    }

    Error seek(std::uint64_t to) {
        if (fseeko(f_, static_cast<off_t>(to), SEEK_SET) != 0) return io_failure();
        pos_ = to;
        return ok();
    }

    Error i32(std::int32_t& out, const std::string& what) { return read(&out, sizeof out, what); }

    Error invalid(std::uint64_t offset, const std::string& message, const char* hint = kDamagedHint) const {
        return Error("invalid_model", "'" + path_ + "' is not a usable whisper.cpp model: " + message + at_byte(offset))
            .at("/quantize/input")
            .with_hint(hint);
    }

    std::uint64_t pos() const { return pos_; }
    std::uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

  private:
    Error truncated(std::uint64_t n, const std::string& what) const {
        return invalid(pos_, "the file ends inside " + what + " (" + std::to_string(size_ - pos_) + " of " +
                                 std::to_string(n) + " bytes present)");
    }
    Error io_failure() const {
        const int e = errno;
        return Error("io_error", "reading '" + path_ + "' failed: " + std::strerror(e)).at("/quantize/input");
    }

    std::FILE* f_ = nullptr;
    std::string path_;
    std::uint64_t size_ = 0;
    std::uint64_t pos_ = 0;
    char scratch_[4096];
};

// ---- Output ---------------------------------------------------------------------------------

class Output {
  public:
    ~Output() { discard(); }

    Error create(const std::string& path) {
        path_ = path;
        // O_EXCL: never replace a file, least of all the input.
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) {
            const int e = errno;
            std::string hint = e == EEXIST ? "The guest never overwrites a file: remove it or choose another name"
                                           : "The output must be in a directory the host preopened writable "
                                             "(wasmtime run --dir HOST::/out)";
            return Error("io_error", "cannot create the output '" + path + "': " + std::strerror(e))
                .at("/quantize/output")
                .with_hint(std::move(hint));
        }
        f_ = fdopen(fd, "wb");
        if (!f_) {
            ::close(fd);
            ::unlink(path.c_str());
            return Error("io_error", "cannot open the output '" + path + "' for writing").at("/quantize/output");
        }
        created_ = true;
        buffer_.resize(kCopyBytes);
        std::setvbuf(f_, buffer_.data(), _IOFBF, buffer_.size());
        return ok();
    }

    Error write(const void* data, std::size_t n) {
        if (n && std::fwrite(data, 1, n, f_) != n) return failure();
        written_ += n;
        return ok();
    }

    Error i32(std::int32_t v) { return write(&v, sizeof v); }

    // Flushes and closes; the file stays only when this succeeds.
    Error finish() {
        std::FILE* f = f_;
        f_ = nullptr;
        if (std::fflush(f) != 0) {
            Error err = failure();
            std::fclose(f);
            return err;
        }
        if (std::fclose(f) != 0) return failure();
        created_ = false;  // complete: keep it
        return ok();
    }

    // Removes a partial output (every failure path after create()).
    void discard() {
        if (f_) std::fclose(f_);
        f_ = nullptr;
        if (created_) ::unlink(path_.c_str());
        created_ = false;
    }

    std::uint64_t written() const { return written_; }

  private:
    Error failure() const {
        const int e = errno;
        return Error("io_error", "writing '" + path_ + "' failed after " + std::to_string(written_) +
                                     " bytes: " + std::strerror(e))
            .at("/quantize/output")
            .with_hint("Is the disk full? Nothing is kept of a failed output");
    }

    std::FILE* f_ = nullptr;
    std::string path_;
    bool created_ = false;
    std::uint64_t written_ = 0;
    std::vector<char> buffer_;
};

// ---- The model's structure ------------------------------------------------------------------

enum class Action { Copy, Quantize, ToF16 };

struct Tensor {
    std::string name;
    std::int32_t n_dims = 0;
    std::int32_t ne[4] = {1, 1, 1, 1};
    ggml_type type = GGML_TYPE_F32;
    std::uint64_t data_at = 0;
    std::uint64_t nbytes = 0;
    std::uint64_t rows() const { return static_cast<std::uint64_t>(ne[1]) * ne[2] * ne[3]; }
    Action action = Action::Copy;
};

struct Model {
    std::int32_t hparams[kHparams];
    std::uint64_t tensors_at = 0;  // end of header, mel filters and vocabulary
    std::vector<Tensor> tensors;
};

bool known_type(std::int32_t t) {
    if (t < 0 || t >= GGML_TYPE_COUNT) return false;
    const ggml_type type = static_cast<ggml_type>(t);
    return ggml_blck_size(type) > 0 && ggml_type_size(type) > 0;  // removed ids have size 0
}

Error read_header(Input& in, Model& m) {
    std::uint32_t magic = 0;
    char head[4] = {0, 0, 0, 0};
    Error err = in.read(&magic, sizeof magic, "the magic number");
    if (err.failed()) return err;
    std::memcpy(head, &magic, 4);
    if (magic != GGML_FILE_MAGIC) {
        if (std::memcmp(head, "GGUF", 4) == 0) {
            return in.invalid(0, "it is a GGUF file; whisper.cpp reads the older ggml format (ggml-*.bin)",
                              "Use a whisper.cpp ggml model (ggml-*.bin)");
        }
        return in.invalid(0, "it does not start with the ggml magic 0x67676d6c",
                          "Use a whisper.cpp ggml model (ggml-*.bin), e.g. one from `rmstudio models list`");
    }
    for (int i = 0; i < kHparams; ++i) {
        err = in.i32(m.hparams[i], "the hyper-parameters");
        if (err.failed()) return err;
    }
    static const char* const names[kHparams] = {"n_vocab",      "n_audio_ctx", "n_audio_state", "n_audio_head",
                                                "n_audio_layer", "n_text_ctx", "n_text_state",  "n_text_head",
                                                "n_text_layer", "n_mels",      "ftype"};
    static const std::int32_t top[kHparams - 1] = {1 << 20, 1 << 16, 1 << 16, 1024, 1024,
                                                   1 << 16, 1 << 16, 1024,    1024, 512};
    for (int i = 0; i < kHparams - 1; ++i) {
        if (m.hparams[i] < 1 || m.hparams[i] > top[i]) {
            return in.invalid(4 + 4 * i, std::string("hyper-parameter ") + names[i] + " = " +
                                             std::to_string(m.hparams[i]) + " is outside 1.." + std::to_string(top[i]) +
                                             ", so this is not a Whisper model (or its header is damaged)");
        }
    }
    const std::int32_t ftype = m.hparams[kHparams - 1];
    if (ftype < 0) return in.invalid(44, "file type " + std::to_string(ftype) + " is negative");
    const std::int32_t base = ftype % GGML_QNT_VERSION_FACTOR;
    if (base != GGML_FTYPE_ALL_F32 && base != GGML_FTYPE_MOSTLY_F16) {
        // (not ggml_ftype_to_ggml_type: it asserts on file types it does not know)
        std::string what = "file type " + std::to_string(base);
        for (const QuantType& t : kTypes) {
            if (t.ftype == base) what = std::string(t.name) + " weights";
        }
        return Error("unsupported_model", "'" + in.path() + "' has " + what +
                                              "; only models with f16 or f32 weights can be quantized "
                                              "(quantizing twice adds the errors of both)")
            .at("/quantize/input")
            .with_hint(kFromF16Hint);
    }

    // Mel filters: n_mel x n_fft float32.
    const std::uint64_t mel_at = in.pos();
    std::int32_t n_mel = 0, n_fft = 0;
    if ((err = in.i32(n_mel, "the mel filter header")).failed()) return err;
    if ((err = in.i32(n_fft, "the mel filter header")).failed()) return err;
    if (n_mel != m.hparams[9]) {
        return in.invalid(mel_at, std::to_string(n_mel) + " mel filters but n_mels is " + std::to_string(m.hparams[9]));
    }
    if (n_fft < 1 || n_fft > 4096) return in.invalid(mel_at + 4, "mel filters span " + std::to_string(n_fft) + " bins");
    err = in.skip(static_cast<std::uint64_t>(n_mel) * static_cast<std::uint64_t>(n_fft) * 4, "the mel filters");
    if (err.failed()) return err;

    // Vocabulary: a count, then length-prefixed tokens.
    const std::uint64_t vocab_at = in.pos();
    std::int32_t n_tokens = 0;
    if ((err = in.i32(n_tokens, "the vocabulary size")).failed()) return err;
    if (n_tokens < 0 || n_tokens > m.hparams[0]) {
        return in.invalid(vocab_at, "vocabulary count " + std::to_string(n_tokens) + " is outside 0..n_vocab (" +
                                        std::to_string(m.hparams[0]) + ")");
    }
    for (std::int32_t i = 0; i < n_tokens; ++i) {
        const std::uint64_t token_at = in.pos();
        std::uint32_t len = 0;
        if ((err = in.read(&len, sizeof len, "the length of token " + std::to_string(i))).failed()) return err;
        if (len > kMaxTokenBytes) {
            return in.invalid(token_at, "token " + std::to_string(i) + " claims " + std::to_string(len) + " bytes");
        }
        if ((err = in.skip(len, "token " + std::to_string(i))).failed()) return err;
    }
    m.tensors_at = in.pos();
    return ok();
}

Error read_tensor_records(Input& in, Model& m) {
    while (in.pos() < in.size()) {
        const std::uint64_t at = in.pos();
        const std::string which = "tensor #" + std::to_string(m.tensors.size());
        if (m.tensors.size() >= kMaxTensors) {
            return in.invalid(at, "more than " + std::to_string(kMaxTensors) + " tensors; a Whisper model has a few thousand at most");
        }
        if (in.size() - at < 12) {
            return in.invalid(at, std::to_string(in.size() - at) + " stray bytes after the last tensor");
        }
        std::int32_t n_dims = 0, name_len = 0, ttype = 0;
        Error err = in.i32(n_dims, "a tensor header");
        if (err.ok()) err = in.i32(name_len, "a tensor header");
        if (err.ok()) err = in.i32(ttype, "a tensor header");
        if (err.failed()) return err;
        if (n_dims < 0 || n_dims > 4) return in.invalid(at, which + " has " + std::to_string(n_dims) + " dimensions");
        if (name_len < 1 || static_cast<std::size_t>(name_len) > kMaxNameBytes) {
            return in.invalid(at + 4, which + " has a name of " + std::to_string(name_len) + " bytes");
        }
        if (!known_type(ttype)) return in.invalid(at + 8, which + " has unknown ggml type " + std::to_string(ttype));
        Tensor t;
        t.n_dims = n_dims;
        t.type = static_cast<ggml_type>(ttype);
        std::uint64_t count = 1;
        for (std::int32_t d = 0; d < n_dims; ++d) {
            const std::uint64_t dim_at = in.pos();
            if ((err = in.i32(t.ne[d], "a tensor shape")).failed()) return err;
            if (t.ne[d] < 1 || t.ne[d] > kMaxDim) {
                return in.invalid(dim_at, which + " has dimension " + std::to_string(d) + " = " + std::to_string(t.ne[d]));
            }
            count *= static_cast<std::uint64_t>(t.ne[d]);
            if (count > (std::uint64_t(1) << 40)) return in.invalid(dim_at, which + " has too many elements");
        }
        const std::uint64_t name_at = in.pos();
        t.name.resize(static_cast<std::size_t>(name_len));
        if ((err = in.read(&t.name[0], t.name.size(), "the name of " + which)).failed()) return err;
        for (char c : t.name) {
            if (c < 0x20 || c > 0x7e) return in.invalid(name_at, which + " has a name that is not printable ASCII");
        }
        const std::int64_t blck = ggml_blck_size(t.type);
        if (t.ne[0] % blck != 0) {
            return in.invalid(at, "tensor '" + t.name + "' rows of " + std::to_string(t.ne[0]) + " values are not whole " +
                                      ggml_type_name(t.type) + " blocks of " + std::to_string(blck));
        }
        t.nbytes = count / static_cast<std::uint64_t>(blck) * ggml_type_size(t.type);
        t.data_at = in.pos();
        if ((err = in.skip(t.nbytes, "the data of tensor '" + t.name + "'")).failed()) return err;
        m.tensors.push_back(std::move(t));
    }
    if (m.tensors.empty()) {
        return in.invalid(in.size(), "it has no tensors (a header-only test model): there is nothing to quantize",
                          "Quantize a real Whisper model such as tiny.en");
    }
    return ok();
}

// What happens to each tensor (see the file comment); fails before any byte is written.
Error plan_tensors(Model& m, const QuantType& qt, const std::string& path) {
    const std::int64_t qblck = ggml_blck_size(qt.type);
    for (Tensor& t : m.tensors) {
        if (listed(t.name, std::begin(kKeepF32), std::end(kKeepF32))) {
            t.action = Action::Copy;
        } else if (t.n_dims == 2) {
            if (t.type != GGML_TYPE_F32 && t.type != GGML_TYPE_F16) {
                return Error("unsupported_model", "tensor '" + t.name + "' of '" + path + "' is already " +
                                                      ggml_type_name(t.type) + "; only f16 and f32 weights can be quantized")
                    .at("/quantize/input")
                    .with_hint(kFromF16Hint);
            }
            if (t.ne[0] % qblck != 0) {
                return Error("incompatible_type", "tensor '" + t.name + "' has rows of " + std::to_string(t.ne[0]) +
                                                      " values, not a multiple of " + qt.name + "'s block of " +
                                                      std::to_string(qblck) + " values")
                    .at("/quantize/type")
                    .with_hint(qblck > 32 ? "The k-quants (q*_K) need rows of a multiple of 256 (tiny models have "
                                            "384); use q8_0, q5_1, q5_0, q4_1 or q4_0"
                                          : "This model's shapes do not suit block quantization");
            }
            t.action = Action::Quantize;
        } else if (t.type == GGML_TYPE_F32 && listed(t.name, std::begin(kConvWeights), std::end(kConvWeights))) {
            t.action = Action::ToF16;
        } else {
            t.action = Action::Copy;
        }
    }
    return ok();
}

// ---- Writing --------------------------------------------------------------------------------

struct Counts {
    std::size_t quantized = 0, converted = 0, copied = 0;
};

Error copy_bytes(Input& in, Output& out, std::uint64_t n, std::vector<std::uint8_t>& buf, const std::string& what) {
    buf.resize(kCopyBytes);
    while (n > 0) {
        const std::size_t step = static_cast<std::size_t>(n < buf.size() ? n : buf.size());
        Error err = in.read(buf.data(), step, what);
        if (err.ok()) err = out.write(buf.data(), step);
        if (err.failed()) return err;
        n -= step;
    }
    return ok();
}

// Reads `rows` rows of t as float32 into f32 (widening f16 exactly); rejects NaN and infinity,
// which no quantized type can represent.
Error read_rows_f32(Input& in, const Tensor& t, std::uint64_t row0, std::size_t rows, std::vector<std::uint8_t>& raw,
                    std::vector<float>& f32) {
    const std::size_t n = rows * static_cast<std::size_t>(t.ne[0]);
    f32.resize(n);
    Error err;
    if (t.type == GGML_TYPE_F32) {
        err = in.read(f32.data(), n * sizeof(float), "the data of tensor '" + t.name + "'");
    } else {
        raw.resize(n * sizeof(ggml_fp16_t));
        err = in.read(raw.data(), raw.size(), "the data of tensor '" + t.name + "'");
        if (err.ok()) ggml_fp16_to_fp32_row(reinterpret_cast<const ggml_fp16_t*>(raw.data()), f32.data(), static_cast<std::int64_t>(n));
    }
    if (err.failed()) return err;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(f32[i])) {
            const std::uint64_t index = row0 * static_cast<std::uint64_t>(t.ne[0]) + i;
            return in.invalid(t.data_at, "tensor '" + t.name + "' holds NaN or infinity at element " + std::to_string(index));
        }
    }
    return ok();
}

Error write_tensor(Input& in, Output& out, const Tensor& t, const QuantType& qt, Counts& counts) {
    ggml_type out_type = t.type;
    if (t.action == Action::Quantize) out_type = qt.type;
    if (t.action == Action::ToF16) out_type = GGML_TYPE_F16;

    Error err = out.i32(t.n_dims);
    if (err.ok()) err = out.i32(static_cast<std::int32_t>(t.name.size()));
    if (err.ok()) err = out.i32(static_cast<std::int32_t>(out_type));
    for (std::int32_t d = 0; err.ok() && d < t.n_dims; ++d) err = out.i32(t.ne[d]);
    if (err.ok()) err = out.write(t.name.data(), t.name.size());
    if (err.ok()) err = in.seek(t.data_at);
    if (err.failed()) return err;

    static std::vector<std::uint8_t> raw, packed;
    static std::vector<float> f32;
    if (t.action == Action::Copy) {
        ++counts.copied;
        return copy_bytes(in, out, t.nbytes, raw, "the data of tensor '" + t.name + "'");
    }

    const std::size_t per_row = static_cast<std::size_t>(t.ne[0]);
    const std::uint64_t rows = t.rows();
    const std::size_t chunk_rows = per_row >= kChunkValues ? 1 : kChunkValues / per_row;
    for (std::uint64_t row0 = 0; row0 < rows; row0 += chunk_rows) {
        const std::size_t n_rows = static_cast<std::size_t>(rows - row0 < chunk_rows ? rows - row0 : chunk_rows);
        if ((err = read_rows_f32(in, t, row0, n_rows, raw, f32)).failed()) return err;
        if (t.action == Action::Quantize) {
            const std::size_t expect = ggml_row_size(qt.type, t.ne[0]) * n_rows;
            packed.resize(expect);
            const std::size_t got = ggml_quantize_chunk(qt.type, f32.data(), packed.data(), 0, static_cast<std::int64_t>(n_rows),
                                                        t.ne[0], nullptr);
            if (got != expect) {
                return Error("internal_error", "ggml_quantize_chunk wrote " + std::to_string(got) + " bytes for tensor '" +
                                                   t.name + "', expected " + std::to_string(expect));
            }
        } else {  // ToF16: the loader's conv weight type
            packed.resize(f32.size() * sizeof(ggml_fp16_t));
            for (float v : f32) {
                if (std::fabs(v) > 65504.0f) {
                    return in.invalid(t.data_at, "tensor '" + t.name + "' holds " + std::to_string(v) +
                                                     ", which does not fit in f16 (whisper.cpp's type for it)");
                }
            }
            ggml_fp32_to_fp16_row(f32.data(), reinterpret_cast<ggml_fp16_t*>(packed.data()), static_cast<std::int64_t>(f32.size()));
        }
        if ((err = out.write(packed.data(), packed.size())).failed()) return err;
    }
    ++(t.action == Action::Quantize ? counts.quantized : counts.converted);
    return ok();
}

// ---- The request ----------------------------------------------------------------------------

struct Params {
    std::string input, output;
    const QuantType* type = nullptr;
};

Error string_field(const Value& q, const char* key, std::string& out) {
    const std::string path = std::string("/quantize/") + key;
    const Value* v = q.find(key);
    if (!v) return Error("invalid_request", std::string("quantize.") + key + " is missing").at(path);
    if (!v->is_string() || v->as_string().empty()) {
        return Error("invalid_request", std::string("quantize.") + key + " must be a non-empty string, got " + v->describe())
            .at(path);
    }
    out = v->as_string();
    return ok();
}

Error parse_params(const Value& request, Params& p) {
    if (const Value* opts = request.find("options"); opts && !opts->is_null()) {
        if (!opts->is_object()) {
            return Error("invalid_request", std::string("options must be an object, got ") + opts->json_type()).at("/options");
        }
        if (const Value* ev = opts->find("events")) {
            if (!ev->is_bool()) {
                return Error("invalid_request", std::string("options.events must be true or false, got ") + ev->json_type())
                    .at("/options/events");
            }
            set_events_enabled(ev->as_bool());
        }
    }
    const Value* q = request.find("quantize");
    if (!q || !q->is_object()) {
        return Error("invalid_request", "a quantize request needs a \"quantize\" object")
            .at("/quantize")
            .with_hint("Send {\"command\": \"quantize\", \"quantize\": {\"input\": \"/in/ggml-tiny.en.bin\", "
                       "\"output\": \"/out/ggml-tiny.en-q5_1.bin\", \"type\": \"q5_1\"}}");
    }
    std::string type;
    Error err = string_field(*q, "input", p.input);
    if (err.ok()) err = string_field(*q, "output", p.output);
    if (err.ok()) err = string_field(*q, "type", type);
    if (err.failed()) return err;
    p.type = find_type(type);
    if (!p.type) {
        return Error("unsupported_type", "cannot quantize to '" + type + "'").at("/quantize/type").with_hint("Supported types: " +
                                                                                                            type_list());
    }
    return ok();
}

const char* type_name_of_ftype(std::int32_t ftype) {
    return ftype % GGML_QNT_VERSION_FACTOR == GGML_FTYPE_ALL_F32 ? "f32" : "f16";
}

Error quantize(const Params& p, Model& m, Input& in, Output& out, Counts& counts) {
    Error err = in.open(p.input);
    if (err.ok()) err = read_header(in, m);
    if (err.ok()) err = read_tensor_records(in, m);
    if (err.ok()) err = plan_tensors(m, *p.type, p.input);
    if (err.ok()) err = out.create(p.output);
    if (err.failed()) return err;

    events::log("info", "quantizing '" + p.input + "' (" + type_name_of_ftype(m.hparams[kHparams - 1]) + ", " +
                            std::to_string(m.tensors.size()) + " tensors) to " + p.type->name,
                kNodeId);
    std::int32_t header[kHparams + 1];
    header[0] = static_cast<std::int32_t>(GGML_FILE_MAGIC);
    for (int i = 0; i < kHparams; ++i) header[i + 1] = m.hparams[i];
    header[kHparams] = GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + p.type->ftype;
    std::vector<std::uint8_t> buf;
    err = out.write(header, sizeof header);
    if (err.ok()) err = in.seek(kHeaderBytes);
    if (err.ok()) err = copy_bytes(in, out, m.tensors_at - kHeaderBytes, buf, "the mel filters and vocabulary");
    if (err.failed()) return err;

    const std::size_t count = m.tensors.size();
    for (std::size_t i = 0; i < count; ++i) {
        const Tensor& t = m.tensors[i];
        if ((err = write_tensor(in, out, t, *p.type, counts)).failed()) return err;
        const char* to = t.action == Action::Quantize ? p.type->name
                         : t.action == Action::ToF16  ? "f16"
                                                      : ggml_type_name(t.type);
        events::tensor_progress(kNodeId, t.name, i + 1, count, t.data_at + t.nbytes, in.size(), ggml_type_name(t.type), to);
    }
    return out.finish();
}

}  // namespace

bool is_quantize_request(const Value& request) {
    if (!request.is_object()) return false;
    if (const Value* cmd = request.find("command")) return cmd->is_string() && cmd->as_string() == "quantize";
    return request.find("quantize") != nullptr && request.find("manifest") == nullptr;
}

std::vector<std::string> quantize_type_names() {
    std::vector<std::string> out;
    for (const QuantType& t : kTypes) out.emplace_back(t.name);
    return out;
}

int run_quantize(const Value& request) {
    ggml_set_abort_callback(on_ggml_abort);
    ggml_log_set(on_ggml_log, nullptr);

    Params p;
    Error err = parse_params(request, p);
    if (err.failed()) return write_failure(err);

    Model m;
    Counts counts;
    Input in;
    Output out;
    err = quantize(p, m, in, out, counts);
    if (err.failed()) {
        out.discard();
        return write_failure(err);
    }

    {
        FdSink sink(1);
        JsonWriter w(sink);
        w.begin_object();
        w.field_bool("ok", true);
        w.key("quantize");
        w.begin_object();
        w.field("input", p.input);
        w.field("output", p.output);
        w.field("type", p.type->name);
        w.field_uint("ftype", static_cast<std::uint64_t>(GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + p.type->ftype));
        w.field("input_type", type_name_of_ftype(m.hparams[kHparams - 1]));
        w.field_uint("tensors", m.tensors.size());
        w.field_uint("quantized", counts.quantized);
        w.field_uint("converted_to_f16", counts.converted);
        w.field_uint("copied", counts.copied);
        w.field_uint("input_bytes", in.size());
        w.field_uint("output_bytes", out.written());
        w.end_object();
        w.key("metrics");
        w.begin_object();
        w.field_number("total_ms", std::round(now_ms() * 1000.0) / 1000.0);
        w.field_uint("peak_memory_bytes", peak_memory_bytes());
        w.end_object();
        w.end_object();
        sink.write("\n", 1);
    }
    events::finish(true);
    return 0;
}

}  // namespace rm
