#include "resample.hpp"

#include <algorithm>
#include <cmath>

namespace rm {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kCutoff = 0.97;
constexpr double kBeta = 8.0;
// A table of every phase's taps is built when it pays off (more outputs than phases) and
// stays small (the reference uses the same bound); otherwise taps are computed per output.
constexpr std::size_t kMaxTableElements = std::size_t(1) << 22;
constexpr std::uint64_t kProgressEvery = 1 << 16;

std::uint64_t gcd(std::uint64_t a, std::uint64_t b) {
    while (b != 0) {
        const std::uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// h(u), not normalised. Written term for term as the reference (numpy's sinc is sin(y)/y
// with y = π·x; the product is (c · sinc) · window).
double kernel(double u, const ResamplePlan& p, double i0_beta) {
    if (!(std::fabs(u) < p.reach)) return 0.0;
    const double x = u / p.reach;
    const double window = bessel_i0(kBeta * std::sqrt(1.0 - x * x)) / i0_beta;
    const double cu = p.cutoff * u;
    double sinc = 1.0;
    if (cu != 0.0) {
        const double y = kPi * cu;
        sinc = std::sin(y) / y;
    }
    return p.cutoff * sinc * window;
}

// The normalised taps of phase `phase` into taps[0 .. taps_per_phase): taps[j - jlo] weighs
// x[i0 + j]. The normalising sum runs over all of them, inside the signal or not.
void phase_taps(const ResamplePlan& p, std::uint64_t phase, double i0_beta, double* taps) {
    const double frac = static_cast<double>(phase) / static_cast<double>(p.up);
    const std::size_t n = p.taps_per_phase();
    double total = 0.0;
    for (std::size_t t = 0; t < n; ++t) {
        const double j = static_cast<double>(p.jlo + static_cast<std::int64_t>(t));
        taps[t] = kernel(frac - j, p, i0_beta);
        total += taps[t];
    }
    for (std::size_t t = 0; t < n; ++t) taps[t] /= total;
}

}  // namespace

double bessel_i0(double x) {
    double term = 1.0;
    double total = 1.0;
    const double q = (x / 2.0) * (x / 2.0);
    int k = 0;
    while (term > 1e-17 * total) {
        ++k;
        term *= q / (static_cast<double>(k) * static_cast<double>(k));
        total += term;
    }
    return total;
}

bool zero_crossings_for(std::string_view quality, int& zero_crossings) {
    if (quality == "high") {
        zero_crossings = 24;
    } else if (quality == "medium") {
        zero_crossings = 16;
    } else if (quality == "low") {
        zero_crossings = 8;
    } else {
        return false;
    }
    return true;
}

ResamplePlan make_resample_plan(std::uint64_t in_rate, std::uint64_t out_rate, int zero_crossings) {
    ResamplePlan p;
    p.in_rate = in_rate;
    p.out_rate = out_rate;
    const std::uint64_t g = gcd(in_rate, out_rate);
    p.up = out_rate / g;
    p.down = in_rate / g;
    p.zero_crossings = zero_crossings;
    // The division first, then the product (as the contract and the reference write it).
    p.cutoff = kCutoff * std::min(1.0, static_cast<double>(p.up) / static_cast<double>(p.down));
    p.reach = static_cast<double>(zero_crossings) / p.cutoff;
    p.jlo = static_cast<std::int64_t>(std::floor(-p.reach));
    p.jhi = static_cast<std::int64_t>(std::floor(p.reach)) + 1;
    return p;
}

template <class T>
void resample_interleaved(const T* x, std::size_t frames, std::uint32_t channels, const ResamplePlan& p,
                          float* out, ResampleProgress progress, void* user) {
    const std::uint64_t n_out = p.output_length(frames);
    if (n_out == 0) return;
    const std::size_t n_taps = p.taps_per_phase();
    const double i0_beta = bessel_i0(kBeta);

    std::vector<double> table;
    const bool use_table = n_out > p.up && p.up * n_taps <= kMaxTableElements;
    if (use_table) {
        table.resize(p.up * n_taps);
        for (std::uint64_t ph = 0; ph < p.up; ++ph) phase_taps(p, ph, i0_beta, table.data() + ph * n_taps);
    }
    std::vector<double> scratch(use_table ? 0 : n_taps);
    std::vector<double> acc(channels);

    const std::int64_t n_frames = static_cast<std::int64_t>(frames);
    const std::uint64_t step_whole = p.down / p.up;
    const std::uint64_t step_frac = p.down % p.up;
    std::uint64_t i0 = 0;     // (n·M) div L
    std::uint64_t phase = 0;  // (n·M) mod L
    for (std::uint64_t n = 0; n < n_out; ++n) {
        const double* w;
        if (use_table) {
            w = table.data() + phase * n_taps;
        } else {
            phase_taps(p, phase, i0_beta, scratch.data());
            w = scratch.data();
        }
        // Taps whose input index lies inside the signal (x is zero elsewhere).
        const std::int64_t base = static_cast<std::int64_t>(i0);
        const std::int64_t j0 = std::max(p.jlo, -base);
        const std::int64_t j1 = std::min(p.jhi, n_frames - 1 - base);
        if (channels == 1) {
            double sum = 0.0;
            for (std::int64_t j = j0; j <= j1; ++j) sum += static_cast<double>(x[base + j]) * w[j - p.jlo];
            out[n] = static_cast<float>(sum);
        } else {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (std::int64_t j = j0; j <= j1; ++j) {
                const T* frame = x + static_cast<std::size_t>(base + j) * channels;
                const double wj = w[j - p.jlo];
                for (std::uint32_t c = 0; c < channels; ++c) acc[c] += static_cast<double>(frame[c]) * wj;
            }
            float* o = out + n * channels;
            for (std::uint32_t c = 0; c < channels; ++c) o[c] = static_cast<float>(acc[c]);
        }
        i0 += step_whole;
        phase += step_frac;
        if (phase >= p.up) {
            phase -= p.up;
            ++i0;
        }
        if (progress && (n + 1) % kProgressEvery == 0) progress(user, n + 1, n_out);
    }
    if (progress) progress(user, n_out, n_out);
}

template void resample_interleaved<float>(const float*, std::size_t, std::uint32_t, const ResamplePlan&, float*,
                                          ResampleProgress, void*);
template void resample_interleaved<double>(const double*, std::size_t, std::uint32_t, const ResamplePlan&, float*,
                                           ResampleProgress, void*);

}  // namespace rm
