// Band-limited sample-rate conversion, exactly as docs/CONTRACT.md specifies it ("Resampler"
// and "Audio details both executors follow"); rmstudio/core/audio/resample.py is the numpy
// side of the same text and the differential tests hold the two within 2e-6 per sample.
//
//   L/M = out_rate/in_rate reduced by their gcd. Output n sits at input index
//   i0 = (n·M) div L plus the fraction p/L, phase p = (n·M) mod L.
//   c = 0.97 · min(1, L/M) (division first), Z zero crossings (quality), reach R = Z / c.
//   h(u) = c · sinc(c·u) · kaiser(u / R, β = 8) for |u| < R, else 0; I0 by its power series.
//   y[n] = Σ_j x[i0 + j] · h(p/L − j) / Σ_j h(p/L − j), x zero outside the signal, the
//   normalising sum over all of the phase's taps. Double throughout, rounded to float once.
//   Output length ceil(frames·L/M). Equal rates: the samples pass through untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace rm {

struct ResamplePlan {
    std::uint64_t in_rate = 1;
    std::uint64_t out_rate = 1;
    std::uint64_t up = 1;    // L
    std::uint64_t down = 1;  // M
    int zero_crossings = 24;  // Z
    double cutoff = 0.97;     // c
    double reach = 24 / 0.97; // R = Z / c, in input samples
    std::int64_t jlo = 0;     // smallest tap offset any phase uses: floor(-R)
    std::int64_t jhi = 0;     // largest: floor(R) + 1

    bool passthrough() const { return up == down; }
    std::size_t taps_per_phase() const { return static_cast<std::size_t>(jhi - jlo + 1); }
    // ceil(frames · L / M) in integer arithmetic.
    std::uint64_t output_length(std::uint64_t frames) const { return (frames * up + down - 1) / down; }
};

// Z for a quality name ("low" 8, "medium" 16, "high" 24); false for anything else.
bool zero_crossings_for(std::string_view quality, int& zero_crossings);

// The reduced ratio and kernel constants. Rates must be positive.
ResamplePlan make_resample_plan(std::uint64_t in_rate, std::uint64_t out_rate, int zero_crossings);

// Called now and then with (output frames done, output frames in all) during long conversions.
using ResampleProgress = void (*)(void* user, std::uint64_t done, std::uint64_t total);

// Resamples `frames` interleaved frames of `channels` channels (each channel on its own, the
// same taps) into `out` (plan.output_length(frames) · channels values, interleaved). T is
// float or double; arithmetic is in double and each output is rounded to float once.
// Not for passthrough plans (callers copy the samples instead).
template <class T>
void resample_interleaved(const T* x, std::size_t frames, std::uint32_t channels, const ResamplePlan& plan,
                          float* out, ResampleProgress progress = nullptr, void* user = nullptr);

// The modified Bessel function I0 by its power series (exposed for tests of the kernel).
double bessel_i0(double x);

}  // namespace rm
