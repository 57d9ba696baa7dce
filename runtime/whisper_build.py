"""Build recipe for ggml + whisper.cpp on wasm32-wasi with Zig from PyPI, without CMake.

    units = whisper_units(whisper_dir, gen_dir)      # -> list[build.Unit], compile like any other
    incs  = whisper_include_dirs(whisper_dir)        # -> [-I dirs] for code that calls whisper.h

``whisper_dir`` is the pinned tree from ``sources.whisper_source_dir()`` (whisper.cpp 1.8.5,
ggml 0.13.1, from the pywhispercpp 1.5.1 sdist). It is only read, never modified.

What this reproduces of upstream's CMake (``ggml/src/CMakeLists.txt``,
``ggml/src/ggml-cpu/CMakeLists.txt``, ``src/CMakeLists.txt``) for
``GGML_NATIVE=OFF GGML_OPENMP=OFF BUILD_SHARED_LIBS=OFF GGML_BACKEND_DL=OFF GGML_CPU=ON``
on a ``wasm`` processor, Release:

* ggml-base: ggml.c ggml.cpp ggml-alloc.c ggml-backend.cpp ggml-backend-meta.cpp ggml-opt.cpp
  ggml-threading.cpp ggml-quants.c gguf.cpp, with ``GGML_VERSION`` / ``GGML_COMMIT``.
* ggml: ggml-backend-reg.cpp ggml-backend-dl.cpp (the registry; ``GGML_USE_CPU`` registers the
  CPU backend statically).
* ggml-cpu: ggml-cpu.c ggml-cpu.cpp quants.c traits.cpp binary-ops.cpp unary-ops.cpp vec.cpp
  ops.cpp, plus ``arch/wasm/quants.c`` (the wasm SIMD128 dot products for quantized types,
  which CMake adds only when the processor name matches ``wasm``). Left out on purpose:
  ``amx/*`` (x86 AMX only), ``hbm.cpp`` (empty without ``GGML_USE_CPU_HBM``), ``repack.cpp``
  (upstream's default ``GGML_CPU_REPACK=ON`` only has repacked kernels for AVX2 / NEON / SVE /
  RVV; on wasm it can never be chosen, so it is off and not compiled), llamafile's sgemm
  (off by default upstream).
* whisper: src/whisper.cpp with ``WHISPER_VERSION``.

Defines set here that CMake would set: ``GGML_USE_CPU`` (everywhere, as CMake's PUBLIC define
does), ``GGML_SCHED_MAX_COPIES=4`` and ``_XOPEN_SOURCE=600`` (ggml directory),
``NDEBUG`` (Release). Not set: ``GGML_USE_OPENMP`` (no OpenMP on WASI), ``GGML_BACKEND_DL``
(no dlopen in the sandbox), ``GGML_USE_CPU_REPACK``, ``GGML_USE_LLAMAFILE``.
``-msimd128`` (in ``build.ARCH_FLAGS``) makes clang define ``__wasm_simd128__``, which is what
selects ggml's wasm SIMD paths and makes ``ggml_cpu_has_wasm_simd()`` return 1
(``WASM_SIMD = 1`` in ``whisper_print_system_info``); a unit test of the guest should assert it.

Zig's libc++ for wasm32-wasi is configured single-threaded and without a filesystem
(``_LIBCPP_HAS_THREADS=0``, ``_LIBCPP_HAS_FILESYSTEM=0``), which removes ``std::mutex``,
``std::thread``, ``std::ifstream`` and ``std::filesystem``'s operations. Instead of patching the
third-party sources, ``runtime/shims/include`` is put on the include path before libc++: each
header there includes the real one (``#include_next``) and adds only what is missing:

* ``<mutex>``: ``std::mutex``/``recursive_mutex``/``scoped_lock`` (ggml-threading.cpp's critical
  section). A second lock of a held ``std::mutex`` aborts with a message instead of hanging.
* ``<thread>``: ``std::thread`` that runs its function inside the constructor, ``join()`` a
  no-op, ``hardware_concurrency() == 1``. whisper.cpp's own worker threads (log-mel, decoder
  sampling, whisper_full_parallel) are fork/join and give the same results run one after the
  other. ggml's thread pool is different: it uses pthreads, which fail on single-threaded WASI,
  so the caller must pass ``n_threads = 1`` (see below).
* ``<condition_variable>``: for completeness; a wait that nobody could ever satisfy aborts.
* ``<fstream>``: ``basic_filebuf``/``ifstream``/``ofstream``/``fstream`` over ``FILE*``, so
  ``whisper_init_from_file_with_params`` and the VAD model loader work on preopened files.
* ``<filesystem>``: ``current_path``/``exists``/``is_regular_file``/``is_directory``/
  ``directory_iterator`` over WASI libc, for ggml-backend-reg.cpp's dynamic-backend search
  (compiled although dynamic backends are off; whisper.cpp never calls it).

Source patches are applied to copies under ``gen_dir`` (never to the cached tree); each one
must find its original text exactly once, so a version bump cannot skip or misapply one:

* ``GGML_CPU_PATCHES`` (speed, wasm only): half floats widened and narrowed in SIMD registers
  instead of one at a time, a 2x2 q8_0 dot kernel, f16 products over tiles widened once, a
  4x2 register tile for the flash-attention GEMM, and the hot loops (that GEMM's K loop, the
  f16 dot products, the one-row q8_0 kernel, the softmax; the f16 widening four times)
  unrolled so wasmtime's epoch check, which spills their vector registers, comes less often
  (all bit-identical to the unpatched code),
  and a wasm SIMD ``ggml_v_expf`` for softmax (the approximation native builds use).
* ``WHISPER_PATCHES`` (memory): no up-front logits reservation, the decoder's compute buffer
  reserved for one token per decoder (linear memory for tiny.en q8_0: 324 -> 147 MiB), and
  logits computed and kept only for the tokens whose logits are read (the prompt pass reads
  its last token's; audio over 30 s: 220 -> 152 MiB). The logits that are read are
  bit-identical, and row 0 of ``state->logits`` keeps upstream's meaning, so transcripts do not
  change. docs/PERFORMANCE.md has the measurements.

Memory: the module's allocator is the executor's ``runtime/src/heap.cpp`` (it replaces Zig's
power-of-two malloc for everything linked; measured against an alternative page-run allocator
it used the same peak and was a little faster, see docs/PERFORMANCE.md).

C++ exceptions: whisper.cpp, gguf.cpp and ggml-backend-reg.cpp contain ``try``/``catch``, so the
third-party C++ units are compiled with ``-fexceptions`` (upstream's default) but without
``-fwasm-exceptions``. With the wasm ``exception-handling`` feature off, LLVM lowers every
invoke to a plain call and deletes the now unreachable ``catch`` blocks, and a ``throw``
becomes a call to ``__cxa_allocate_exception`` + ``__cxa_throw`` (nothing else: no
personality routine, no ``__cxa_begin_catch``). The final link stays ``-fno-exceptions`` (so
Zig's libc++/libc++abi are built without exception support and do not define those two
symbols); the executor defines both as ``extern "C"`` functions that report a fatal error and
abort. Every exception is therefore fatal, which is also what happens natively for these throw
sites (whisper.cpp throws only when the CPU backend or a ggml context cannot be created,
i.e. out of memory, and nothing up the stack catches). The ``catch (std::bad_alloc &)`` sites
(VAD segment vectors) never run: libc++ is built without exceptions, so a failed ``new``
aborts instead of throwing. The executor's own units keep ``-fno-exceptions``.

Using the result (executor side):

* Load models with a custom ``whisper_model_loader`` over ``FILE*`` (or
  ``whisper_init_from_file_with_params``, which works through the ``<fstream>`` shim). The
  loader streams tensors with ``fread``; it never maps the file.
* ``whisper_context_params``: ``use_gpu = false``, ``flash_attn = true`` (upstream default;
  without it the encoder is several times slower in wasm).
* ``whisper_full_params``: ``n_threads = 1`` always (clamp whatever a manifest asks for: ggml's
  thread pool would call ``pthread_create``, which fails in single-threaded WASI and ends in a
  ``GGML_ASSERT`` abort). Greedy sampling. ``no_context``/``single_segment`` as needed.
* Define ``__cxa_allocate_exception`` and ``__cxa_throw`` (see above).
* No extra link flags beyond ``build.LINK_FLAGS`` (the WASI emulation libraries are there).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIM_INCLUDE = HERE / "shims" / "include"

# ggml's CMake default, kept explicit: the scheduler's copies for pipeline parallelism.
GGML_SCHED_MAX_COPIES = 4
# Not a CMake option but an #ifndef knob in ggml-backend.cpp (default 30): how many tensors one
# graph split may take from *other* backends. Every ggml_backend_sched preallocates
# graph_size * 2 * this many tensor headers, and whisper.cpp creates four schedulers with
# graph_size 4096, so the default costs ~250 MiB of linear memory in wasm32 (natively that
# malloc stays untouched virtual memory), and each unit ~8 MiB. With the CPU backend as the
# only backend there are never cross-backend inputs (n_inputs stays 0: every source is on the
# split's own backend, and input copies are made only for n_copies > 1, which whisper.cpp's
# non-parallel schedulers never use), so 1 is enough; should a second backend ever appear,
# ggml's GGML_ASSERT(n_inputs < GGML_SCHED_MAX_SPLIT_INPUTS) fails loudly rather than
# misbehaving. Measured, tiny.en q8_0 jfk.wav: 4 -> 1 took the peak from 145.8 to 120.2 MiB.
GGML_SCHED_MAX_SPLIT_INPUTS = 1

GGML_BASE_SOURCES = [
    "ggml/src/ggml.c",
    "ggml/src/ggml.cpp",
    "ggml/src/ggml-alloc.c",
    "ggml/src/ggml-backend.cpp",
    "ggml/src/ggml-backend-meta.cpp",
    "ggml/src/ggml-opt.cpp",
    "ggml/src/ggml-threading.cpp",
    "ggml/src/ggml-quants.c",
    "ggml/src/gguf.cpp",
]
GGML_REG_SOURCES = [
    "ggml/src/ggml-backend-reg.cpp",
    "ggml/src/ggml-backend-dl.cpp",
]
GGML_CPU_SOURCES = [
    "ggml/src/ggml-cpu/ggml-cpu.c",
    "ggml/src/ggml-cpu/ggml-cpu.cpp",
    "ggml/src/ggml-cpu/quants.c",
    "ggml/src/ggml-cpu/traits.cpp",
    "ggml/src/ggml-cpu/binary-ops.cpp",
    "ggml/src/ggml-cpu/unary-ops.cpp",
    "ggml/src/ggml-cpu/vec.cpp",
    "ggml/src/ggml-cpu/ops.cpp",
    "ggml/src/ggml-cpu/arch/wasm/quants.c",
]
WHISPER_SOURCES = ["src/whisper.cpp"]

C_STD = ["-std=c11"]

# Zig builds libc++ for wasm32-wasi without its filesystem/*.cpp sources. std::filesystem::path
# is still declared by the headers, but its out-of-line parsing members (filename(),
# operator/=, ...) live in filesystem/path.cpp, which ggml-backend-reg.cpp needs at link time.
# It is pure string handling (no system calls), so we compile the toolchain's own copy, with
# the flags Zig uses for its libc++ sources (see `ZIG_VERBOSE_CC=1` on a cold libc++ build).
LIBCXX_PATH_SOURCE = "libcxx/src/filesystem/path.cpp"
LIBCXX_SOURCE_FLAGS = ["-std=c++23", "-fno-exceptions", "-D_LIBCPP_BUILDING_LIBRARY"]


# Source patches, applied to a copy of ggml/src/ggml-cpu under gen_dir (the cached tree is
# never touched). Each is (file relative to ggml-cpu, exact original text, replacement); the
# original text must occur exactly once or the build stops, so a version bump cannot silently
# skip or misapply one.
#
# wasm f16 loads: ggml's wasm SIMD path widens half floats one element at a time through the
# 256 KiB lookup table (four scalar loads and a store/reload per 4 lanes). That is the inner
# loop of every f16 matrix product (f16 weights) and of flash attention's f16 K/V. The
# replacement converts 4 lanes in registers: widen u16 -> u32, shift exponent+mantissa into
# place, rebias by multiplying with 2^112 (which also turns half subnormals into the right
# normal floats; wasm never flushes subnormals), force inf/nan exponents, copy the sign.
# Bit-identical to the table for all 65536 inputs (NaNs stay NaNs); jfk.wav transcribes the
# same, f16 model ~1.7x faster, q8_0 ~1.15x.
_F16_LOAD_ORIGINAL = """inline static v128_t __wasm_f16x4_load(const ggml_fp16_t * p) {
    float tmp[4];

    tmp[0] = GGML_CPU_FP16_TO_FP32(p[0]);
    tmp[1] = GGML_CPU_FP16_TO_FP32(p[1]);
    tmp[2] = GGML_CPU_FP16_TO_FP32(p[2]);
    tmp[3] = GGML_CPU_FP16_TO_FP32(p[3]);

    return wasm_v128_load(tmp);
}"""
_F16_LOAD_SIMD = """inline static v128_t __wasm_f16x4_load(const ggml_fp16_t * p) {
    // RM Studio patch (runtime/whisper_build.py): 4 x IEEE half -> 4 x float without the table.
    const v128_t h   = wasm_u32x4_load16x4(p);
    const v128_t em  = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    v128_t       f   = wasm_f32x4_mul(em, wasm_f32x4_splat(0x1p112f));
    const v128_t big = wasm_f32x4_ge(f, wasm_f32x4_splat(65536.0f)); // was inf or nan
    f = wasm_v128_or(f, wasm_v128_and(big, wasm_i32x4_splat(0x7f800000)));
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}"""

# Vector exp for wasm: softmax (ggml_vec_soft_max_f32, the inner loop of the encoder's flash
# attention) has SIMD exp paths for x86 / ARM / RISC-V and calls scalar expf otherwise; in wasm
# that is Zig's libm expf with an out-of-line ldexp, ~10% of a transcription. The patch adds a
# wasm SIMD128 ggml_v_expf computing the same approximation as ggml's NEON/AVX2 versions (range
# reduction by ln2/2^23 rounding, degree-5 polynomial, special cases past |n| > 126; max error
# ~1.5 ulp, which is what native builds use) and a softmax loop over it.
_VEXP_ANCHOR = """
#elif defined(__riscv_v_intrinsic)

// adapted from arm limited optimized routine
// the maximum error is 1.45358 plus 0.5 ulps
// numbers above 88.38 will flush to infinity
// numbers beneath -103.97 will flush to zero
inline static vfloat32m2_t ggml_v_expf_m2(vfloat32m2_t x, int vl) {"""
_VEXP_WASM = (
    """
#elif defined(__wasm_simd128__)

// RM Studio patch (runtime/whisper_build.py): e^x for 4 floats in wasm SIMD128.
inline static v128_t ggml_v_expf(v128_t x) {
    const v128_t round = wasm_f32x4_splat(0x1.8p23f);
    const v128_t z = GGML_F32x4_FMA(round, x, wasm_f32x4_splat(0x1.715476p+0f));  // x/ln2 + 1.5*2^23
    const v128_t n = wasm_f32x4_sub(z, round);                                       // round(x/ln2)
    // b = x - n*ln2, with ln2 in two parts
    const v128_t b = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0x1.62e4p-1f))),
                                    wasm_f32x4_mul(n, wasm_f32x4_splat(0x1.7f7d1cp-20f)));
    const v128_t e = wasm_i32x4_shl(z, 23);
    const v128_t k = wasm_i32x4_add(e, wasm_f32x4_splat(1.0f));                      // 2^n
    const v128_t an = wasm_f32x4_abs(n);
    const v128_t c = wasm_f32x4_gt(an, wasm_f32x4_splat(126.0f));
    const v128_t u = wasm_f32x4_mul(b, b);
    const v128_t p_hi =
        GGML_F32x4_FMA(wasm_f32x4_splat(0x1.573e2ep-5f), wasm_f32x4_splat(0x1.0e4020p-7f), b);
    const v128_t p_lo =
        GGML_F32x4_FMA(wasm_f32x4_splat(0x1.fffdb6p-2f), wasm_f32x4_splat(0x1.555e66p-3f), b);
    const v128_t j = GGML_F32x4_FMA(wasm_f32x4_mul(wasm_f32x4_splat(0x1.ffffecp-1f), b),
                                    GGML_F32x4_FMA(p_lo, p_hi, u), u);                // e^b - 1
    if (!wasm_v128_any_true(c)) {
        return GGML_F32x4_FMA(k, j, k);
    }
    // |n| > 126: 2^n does not fit one float; scale in two steps (or saturate past 192).
    const v128_t d = wasm_v128_and(wasm_f32x4_le(n, wasm_f32x4_splat(0.0f)), wasm_i32x4_splat(0x82000000));
    const v128_t s1 = wasm_i32x4_add(d, wasm_i32x4_splat(0x7f000000));
    const v128_t s2 = wasm_i32x4_sub(e, d);
    const v128_t big = wasm_f32x4_gt(an, wasm_f32x4_splat(192.0f));
    const v128_t scaled = wasm_f32x4_mul(GGML_F32x4_FMA(s2, s2, j), s1);
    return wasm_v128_bitselect(wasm_f32x4_mul(s1, s1),
                               wasm_v128_bitselect(scaled, GGML_F32x4_FMA(k, k, j), c), big);
}
"""
    + _VEXP_ANCHOR
)
_SOFTMAX_ANCHOR = """        sum += (ggml_float)vaddvq_f32(val);
    }
#elif defined(__riscv_v_intrinsic)
    vfloat64m1_t vsum = __riscv_vfmv_v_f_f64m1(0, 1);"""
_SOFTMAX_WASM = """        sum += (ggml_float)vaddvq_f32(val);
    }
#elif defined(__wasm_simd128__)
    // RM Studio patch (runtime/whisper_build.py): vector exp (see vec.h), unrolled twice for
    // half as many epoch checks (see _GEMM_K_LOOP_UNROLLED).
#pragma clang loop unroll_count(2)
    for (; i + 3 < n; i += 4) {
        const v128_t val = ggml_v_expf(wasm_f32x4_sub(wasm_v128_load(x + i), wasm_f32x4_splat(max)));
        wasm_v128_store(y + i, val);
        sum += (ggml_float)(wasm_f32x4_extract_lane(val, 0) + wasm_f32x4_extract_lane(val, 1) +
                            wasm_f32x4_extract_lane(val, 2) + wasm_f32x4_extract_lane(val, 3));
    }
#elif defined(__riscv_v_intrinsic)
    vfloat64m1_t vsum = __riscv_vfmv_v_f_f64m1(0, 1);"""

# Register tiling of the f32 GEMM in flash attention (simd-gemm.h): generic SIMD targets get a
# 2x2 tile of 4-lane accumulators (4 of 16 vector registers); wasm engines on x86-64 and
# arm64 have 16 or more, so wasm gets 4x2 (8 accumulators + 2 B vectors + 1 broadcast). Each
# output still sums over K in the same order: results are unchanged.
_GEMM_TILE_ORIGINAL = """#else
    static constexpr int GEMM_RM = 2;
    static constexpr int GEMM_RN = 2;
#endif"""
_GEMM_TILE_WASM = """#elif defined(__wasm_simd128__)
    // RM Studio patch (runtime/whisper_build.py): a larger register tile for wasm.
    static constexpr int GEMM_RM = 4;
    static constexpr int GEMM_RN = 2;
#else
    static constexpr int GEMM_RM = 2;
    static constexpr int GEMM_RN = 2;
#endif"""

# The GEMM micro-kernel's loop over K, unrolled twice on wasm. wasmtime checks the epoch (how
# RM Studio stops a guest that is cancelled or out of time) at every loop header, and the
# check's out-of-line call clobbers every vector register, so Cranelift keeps the loop's eight
# accumulators in stack slots, storing and reloading them on every step (seen in perf's
# annotation of the compiled kernel). Unrolled, the check and the round trip come once per two
# steps: jfk.wav q8_0 3.14 -> 2.96 CPU s; unrolling 4 times gave the same, 8 times was slower
# (3.40: more registers than x86-64 has). Same operations in the same order: results unchanged.
_GEMM_K_LOOP_ORIGINAL = """    for (int64_t kk = 0; kk < K; kk++) {
        GGML_F32_VEC Bv[RN];"""


def _unrolled_twice(loop: str) -> str:
    """``loop`` (an upstream loop's first lines) with a wasm-only pragma unrolling it twice."""
    indent = loop[: len(loop) - len(loop.lstrip())]
    return (
        "#if defined(__wasm_simd128__)\n"
        f"{indent}// RM Studio patch (runtime/whisper_build.py): one epoch check per two steps.\n"
        "#pragma clang loop unroll_count(2)\n"
        "#endif\n" + loop
    )


_GEMM_K_LOOP_UNROLLED = _unrolled_twice(_GEMM_K_LOOP_ORIGINAL)

# ggml_vec_dot_f16 (the decoder's per-key attention products, every product of f16 weights
# with one column) unrolled twice on wasm for the same reason as the GEMM's K loop.
_F16_DOT_LOOP_ORIGINAL = """        for (int i = 0; i < np; i += GGML_F16_STEP) {
            for (int j = 0; j < GGML_F16_ARR; j++) {
                ax[j] = GGML_F16_VEC_LOAD(x + i + j*GGML_F16_EPR, j);
                ay[j] = GGML_F16_VEC_LOAD(y + i + j*GGML_F16_EPR, j);

                sum[j] = GGML_F16_VEC_FMA(sum[j], ax[j], ay[j]);"""
_F16_DOT_LOOP_UNROLLED = _unrolled_twice(_F16_DOT_LOOP_ORIGINAL)

# The one-row q8_0 kernel (products with a single column: the decoder's, one token at a time)
# unrolled twice on wasm, as the GEMM's K loop.
_Q8_ROW_LOOP_ORIGINAL = """    for (; ib < nb; ++ib) {
        const block_q8_0 * GGML_RESTRICT x0 = &x[ib];
        const block_q8_0 * GGML_RESTRICT y0 = &y[ib];"""
_Q8_ROW_LOOP_UNROLLED = _unrolled_twice(_Q8_ROW_LOOP_ORIGINAL)

# q8_0 matrix products two rows by two columns per call (the shape ggml already uses for ARM's
# int8 matrix instructions, nrows = 2): each pair of weight blocks and each pair of activation
# blocks is loaded and widened once for four dot products, and there are a quarter as many
# calls. Every one of the four results is computed with exactly the operations of the one-row
# kernel, so results are bit-identical; matrices with an odd count keep the one-row path.
_Q8_NROWS_ORIGINAL = """        .vec_dot                  = ggml_vec_dot_q8_0_q8_0,
        .vec_dot_type             = GGML_TYPE_Q8_0,
#if defined (__ARM_FEATURE_MATMUL_INT8)
        .nrows                    = 2,"""
_Q8_NROWS_WASM = """        .vec_dot                  = ggml_vec_dot_q8_0_q8_0,
        .vec_dot_type             = GGML_TYPE_Q8_0,
#if defined (__ARM_FEATURE_MATMUL_INT8) || defined(__wasm_simd128__)
        // RM Studio patch (runtime/whisper_build.py): a 2x2 q8_0 kernel for wasm too.
        .nrows                    = 2,"""
_Q8_KERNEL_ORIGINAL = """    assert(n % qk == 0);
    assert(nrc == 1);
    UNUSED(nrc);
    UNUSED(bx);
    UNUSED(by);
    UNUSED(bs);

    const block_q8_0 * GGML_RESTRICT x = vx;
    const block_q8_0 * GGML_RESTRICT y = vy;
"""
_Q8_KERNEL_2X2 = """    assert(n % qk == 0);
    assert(nrc == 1 || nrc == 2);
    UNUSED(nrc);
    UNUSED(bx);
    UNUSED(by);
    UNUSED(bs);

    const block_q8_0 * GGML_RESTRICT x = vx;
    const block_q8_0 * GGML_RESTRICT y = vy;

#if defined __wasm_simd128__
    if (nrc == 2) {
        // RM Studio patch (runtime/whisper_build.py): rows x, x1 times columns y, y1.
        // s[0] = x.y, s[1] = x1.y, s[bs] = x.y1, s[bs + 1] = x1.y1 (as the ARM MMLA kernel).
        const block_q8_0 * GGML_RESTRICT x1 = (const block_q8_0 *) ((const uint8_t *) vx + bx);
        const block_q8_0 * GGML_RESTRICT y1 = (const block_q8_0 *) ((const uint8_t *) vy + by);
        v128_t acc00 = wasm_f32x4_splat(0.0f);
        v128_t acc10 = wasm_f32x4_splat(0.0f);
        v128_t acc01 = wasm_f32x4_splat(0.0f);
        v128_t acc11 = wasm_f32x4_splat(0.0f);
        for (int i = 0; i < nb; ++i) {
            const v128_t xa = wasm_v128_load(x[i].qs), xb = wasm_v128_load(x[i].qs + 16);
            const v128_t ua = wasm_v128_load(x1[i].qs), ub = wasm_v128_load(x1[i].qs + 16);
            const v128_t ya = wasm_v128_load(y[i].qs), yb = wasm_v128_load(y[i].qs + 16);
            const v128_t va = wasm_v128_load(y1[i].qs), vb = wasm_v128_load(y1[i].qs + 16);
            const v128_t xal = wasm_i16x8_extend_low_i8x16(xa), xah = wasm_i16x8_extend_high_i8x16(xa);
            const v128_t xbl = wasm_i16x8_extend_low_i8x16(xb), xbh = wasm_i16x8_extend_high_i8x16(xb);
            const v128_t ual = wasm_i16x8_extend_low_i8x16(ua), uah = wasm_i16x8_extend_high_i8x16(ua);
            const v128_t ubl = wasm_i16x8_extend_low_i8x16(ub), ubh = wasm_i16x8_extend_high_i8x16(ub);
            const v128_t yal = wasm_i16x8_extend_low_i8x16(ya), yah = wasm_i16x8_extend_high_i8x16(ya);
            const v128_t ybl = wasm_i16x8_extend_low_i8x16(yb), ybh = wasm_i16x8_extend_high_i8x16(yb);
            const v128_t val = wasm_i16x8_extend_low_i8x16(va), vah = wasm_i16x8_extend_high_i8x16(va);
            const v128_t vbl = wasm_i16x8_extend_low_i8x16(vb), vbh = wasm_i16x8_extend_high_i8x16(vb);
#define RM_Q8_DOT(al, ah, bl, bh, cl, ch, dl, dh)                                          \
            wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(al, cl), wasm_i32x4_dot_i16x8(ah, ch)), \
                           wasm_i32x4_add(wasm_i32x4_dot_i16x8(bl, dl), wasm_i32x4_dot_i16x8(bh, dh)))
            const v128_t d00 = RM_Q8_DOT(xal, xah, xbl, xbh, yal, yah, ybl, ybh);
            const v128_t d10 = RM_Q8_DOT(ual, uah, ubl, ubh, yal, yah, ybl, ybh);
            const v128_t d01 = RM_Q8_DOT(xal, xah, xbl, xbh, val, vah, vbl, vbh);
            const v128_t d11 = RM_Q8_DOT(ual, uah, ubl, ubh, val, vah, vbl, vbh);
#undef RM_Q8_DOT
            const float dx = GGML_CPU_FP16_TO_FP32(x[i].d), du = GGML_CPU_FP16_TO_FP32(x1[i].d);
            const float dy = GGML_CPU_FP16_TO_FP32(y[i].d), dv = GGML_CPU_FP16_TO_FP32(y1[i].d);
#define RM_Q8_ACC(acc, d, scale) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(d), \
                                                                 wasm_f32x4_splat(scale)))
            RM_Q8_ACC(acc00, d00, dx * dy);
            RM_Q8_ACC(acc10, d10, du * dy);
            RM_Q8_ACC(acc01, d01, dx * dv);
            RM_Q8_ACC(acc11, d11, du * dv);
#undef RM_Q8_ACC
        }
#define RM_Q8_SUM(v) (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + \
                      wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3))
        s[0] = RM_Q8_SUM(acc00);
        s[1] = RM_Q8_SUM(acc10);
        s[bs] = RM_Q8_SUM(acc01);
        s[bs + 1] = RM_Q8_SUM(acc11);
#undef RM_Q8_SUM
        return;
    }
#endif
"""

# f16 x f16 matrix products (the encoder's convolutions for every model; all products of f16
# models): ggml_vec_dot_f16 widens both operands from half floats on every call, and mul_mat
# calls it for each (row, column) pair, so every element is widened 2 x 16 times per 16 x 16
# tile. For 2-D f16 weights the patch widens each tile's 16 rows and 16 columns once into a
# scratch buffer and takes the same dot product over the floats: same accumulators, same
# order, same final reduction, so the results are bit-identical. Anything else (batched 3-D
# products, a scratch allocation that fails) takes ggml's own path.
_F16_TILE_HELPER_ANCHOR = """static void ggml_compute_forward_mul_mat_one_chunk(
    const struct ggml_compute_params * params,"""
_F16_TILE_HELPER = """#if defined(__wasm_simd128__)
// RM Studio patch (runtime/whisper_build.py): f16 products with each tile widened once.
// ggml_vec_dot_f16's SIMD loop over floats that are already widened (exactly the same values).
static float rm_dot_widened_f16(const int n, const float * GGML_RESTRICT x,
                                const float * GGML_RESTRICT y) {
    ggml_float sumf = 0.0;
    const int np = (n & ~(GGML_F16_STEP - 1));
    GGML_F16_VEC sum[GGML_F16_ARR] = { GGML_F16_VEC_ZERO };
#pragma clang loop unroll_count(2)  // half as many epoch checks (see _GEMM_K_LOOP_UNROLLED)
    for (int i = 0; i < np; i += GGML_F16_STEP) {
        for (int j = 0; j < GGML_F16_ARR; j++) {
            const v128_t ax = wasm_v128_load(x + i + j*GGML_F16_EPR);
            const v128_t ay = wasm_v128_load(y + i + j*GGML_F16_EPR);
            sum[j] = GGML_F16_VEC_FMA(sum[j], ax, ay);
        }
    }
    GGML_F16_VEC_REDUCE(sumf, sum);
    for (int i = np; i < n; ++i) {
        sumf += (ggml_float)(x[i]*y[i]);
    }
    return sumf;
}

// Half floats to floats, 4 at a time with the (patched) SIMD load; exact either way.
static void rm_widen_f16(const ggml_fp16_t * GGML_RESTRICT x, float * GGML_RESTRICT y, const int64_t n) {
    int64_t i = 0;
#pragma clang loop unroll_count(4)  // fewer epoch checks (see _GEMM_K_LOOP_UNROLLED)
    for (; i + 4 <= n; i += 4) {
        wasm_v128_store(y + i, __wasm_f16x4_load(x + i));
    }
    for (; i < n; ++i) {
        y[i] = GGML_CPU_FP16_TO_FP32(x[i]);
    }
}

// Returns false (nothing done) when it cannot take the products: ggml's loop does them then.
static bool rm_mul_mat_f16_widened(struct ggml_tensor * dst, const void * wdata, const size_t row_size,
        const int64_t ir0_start, const int64_t ir0_end, const int64_t ir1_start, const int64_t ir1_end) {
    static float * scratch = NULL;
    static size_t scratch_floats = 0;
    const struct ggml_tensor * src0 = dst->src[0];
    const struct ggml_tensor * src1 = dst->src[1];

    GGML_TENSOR_BINARY_OP_LOCALS

    if (ne02 != 1 || ne03 != 1) {
        return false;
    }
    const int64_t blck_0 = 16;
    const int64_t blck_1 = 16;
    const size_t need = (size_t) (blck_0 + blck_1) * (size_t) ne00;
    if (need > scratch_floats) {
        float * grown = (float *) realloc(scratch, need * sizeof(float));
        if (grown == NULL) {
            return false;
        }
        scratch = grown;
        scratch_floats = need;
    }
    float * rows = scratch;
    float * cols = scratch + blck_0 * ne00;
    const bool src1_cont = ggml_is_contiguous(src1);
    const bool packed = src1_cont || src1->type != GGML_TYPE_F16;
    float tmp[16];

    for (int64_t iir1 = ir1_start; iir1 < ir1_end; iir1 += blck_1) {
        const int64_t n1 = MIN(iir1 + blck_1, ir1_end) - iir1;
        for (int64_t c = 0; c < n1; ++c) {
            const int64_t ir1 = iir1 + c;
            const int64_t i13 = (ir1 / (ne12 * ne1));
            const int64_t i12 = (ir1 - i13 * ne12 * ne1) / ne1;
            const int64_t i11 = (ir1 - i13 * ne12 * ne1 - i12 * ne1);
            const size_t offset = packed ? (i11 + i12 * ne11 + i13 * ne12 * ne11) * row_size
                                         : (i11 * nb11 + i12 * nb12 + i13 * nb13);
            const char * src1_col = (const char *) wdata + offset;
            rm_widen_f16((const ggml_fp16_t *) src1_col, cols + c * ne00, ne00);
        }
        for (int64_t iir0 = ir0_start; iir0 < ir0_end; iir0 += blck_0) {
            const int64_t n0 = MIN(iir0 + blck_0, ir0_end) - iir0;
            for (int64_t r = 0; r < n0; ++r) {
                const char * src0_row = (const char *) src0->data + (iir0 + r) * nb01;
                rm_widen_f16((const ggml_fp16_t *) src0_row, rows + r * ne00, ne00);
            }
            for (int64_t c = 0; c < n1; ++c) {
                const int64_t ir1 = iir1 + c;
                const int64_t i13 = (ir1 / (ne12 * ne1));
                const int64_t i12 = (ir1 - i13 * ne12 * ne1) / ne1;
                const int64_t i11 = (ir1 - i13 * ne12 * ne1 - i12 * ne1);
                float * dst_col = (float *) ((char *) dst->data + (i11 * nb1 + i12 * nb2 + i13 * nb3));
                for (int64_t r = 0; r < n0; ++r) {
                    tmp[r] = rm_dot_widened_f16((int) ne00, rows + r * ne00, cols + c * ne00);
                }
                memcpy(&dst_col[iir0], tmp, n0 * sizeof(float));
            }
        }
    }
    return true;
}
#endif

static void ggml_compute_forward_mul_mat_one_chunk(
    const struct ggml_compute_params * params,"""
_F16_TILE_LINE = (
    "    const size_t src1_col_stride = src1_cont || src1->type != vec_dot_type ? row_size : nb11;\n"
)
_F16_TILE_CALL_ANCHOR = _F16_TILE_LINE
_F16_TILE_CALL = (
    _F16_TILE_LINE
    + """

#if defined(__wasm_simd128__)
    // RM Studio patch (runtime/whisper_build.py): f16 tiles widened once (see above).
    if (type == GGML_TYPE_F16 && vec_dot_type == GGML_TYPE_F16 && num_rows_per_vec_dot == 1 &&
        rm_mul_mat_f16_widened(dst, wdata, row_size, ir0_start, ir0_end, ir1_start, ir1_end)) {
        return;
    }
#endif
"""
)

# wasm f16 stores: the reverse direction, float -> half one element at a time through
# ggml_compute_fp32_to_fp16. Flash attention in the decoder keeps its running V sum in half
# floats (ggml_vec_mad_f16 / ggml_vec_scale_f16), so every key rewrites the whole row. The
# replacement runs the same bit-level algorithm (round to nearest even through two float
# scalings, NaN to 0x7E00) on 4 lanes, so the stored halves are bit-identical.
_F16_STORE_ORIGINAL = """inline static void __wasm_f16x4_store(ggml_fp16_t * p, v128_t x) {
    float tmp[4];

    wasm_v128_store(tmp, x);

    p[0] = GGML_CPU_FP32_TO_FP16(tmp[0]);
    p[1] = GGML_CPU_FP32_TO_FP16(tmp[1]);
    p[2] = GGML_CPU_FP32_TO_FP16(tmp[2]);
    p[3] = GGML_CPU_FP32_TO_FP16(tmp[3]);
}"""
_F16_STORE_SIMD = """inline static void __wasm_f16x4_store(ggml_fp16_t * p, v128_t x) {
    // RM Studio patch (runtime/whisper_build.py): ggml_compute_fp32_to_fp16 on 4 lanes.
    const v128_t scaled = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_abs(x), wasm_f32x4_splat(0x1.0p+112f)),
                                         wasm_f32x4_splat(0x1.0p-110f));
    const v128_t shl1_w = wasm_i32x4_add(x, x);
    const v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int32_t) 0x80000000u));
    const v128_t bias = wasm_u32x4_max(wasm_v128_and(shl1_w, wasm_i32x4_splat((int32_t) 0xFF000000u)),
                                       wasm_i32x4_splat(0x71000000));
    const v128_t base = wasm_f32x4_add(wasm_i32x4_add(wasm_u32x4_shr(bias, 1), wasm_i32x4_splat(0x07800000)),
                                       scaled);
    const v128_t nonsign = wasm_i32x4_add(wasm_v128_and(wasm_u32x4_shr(base, 13), wasm_i32x4_splat(0x7C00)),
                                          wasm_v128_and(base, wasm_i32x4_splat(0x0FFF)));
    const v128_t is_nan = wasm_u32x4_gt(shl1_w, wasm_i32x4_splat((int32_t) 0xFF000000u));
    const v128_t h = wasm_v128_or(wasm_u32x4_shr(sign, 16),
                                  wasm_v128_bitselect(wasm_i32x4_splat(0x7E00), nonsign, is_nan));
    wasm_v128_store64_lane(p, wasm_u16x8_narrow_i32x4(h, h), 0);
}"""

GGML_CPU_PATCHES = [
    ("simd-mappings.h", _F16_LOAD_ORIGINAL, _F16_LOAD_SIMD),
    ("simd-mappings.h", _F16_STORE_ORIGINAL, _F16_STORE_SIMD),
    ("ggml-cpu.c", _F16_TILE_HELPER_ANCHOR, _F16_TILE_HELPER),
    ("ggml-cpu.c", _F16_TILE_CALL_ANCHOR, _F16_TILE_CALL),
    ("ggml-cpu.c", _Q8_NROWS_ORIGINAL, _Q8_NROWS_WASM),
    ("arch/wasm/quants.c", _Q8_KERNEL_ORIGINAL, _Q8_KERNEL_2X2),
    ("arch/wasm/quants.c", _Q8_ROW_LOOP_ORIGINAL, _Q8_ROW_LOOP_UNROLLED),
    ("vec.h", _VEXP_ANCHOR, _VEXP_WASM),
    ("vec.cpp", _SOFTMAX_ANCHOR, _SOFTMAX_WASM),
    ("simd-gemm.h", _GEMM_TILE_ORIGINAL, _GEMM_TILE_WASM),
    ("simd-gemm.h", _GEMM_K_LOOP_ORIGINAL, _GEMM_K_LOOP_UNROLLED),
    ("vec.cpp", _F16_DOT_LOOP_ORIGINAL, _F16_DOT_LOOP_UNROLLED),
]


# whisper.cpp patches (src/whisper.cpp, copied to gen_dir/whisper-patched/src): memory only, the
# computation is unchanged. Natively both allocations below are virtual memory that is never
# touched; in wasm32 every malloc'ed byte is linear memory, which the host's cap counts and
# which never shrinks.
#
# 1. whisper_init_state reserves logits for n_text_ctx tokens (51864 x 448 floats = 93 MB) up
#    front. whisper_decode_internal resizes the vector to what each batch needs (the prompt,
#    then one token per decoder), so the reservation only saved a reallocation.
_LOGITS_RESERVE_ORIGINAL = """    state->logits.reserve(ctx->vocab.n_vocab * ctx->model.hparams.n_text_ctx);
"""
_LOGITS_RESERVE_NONE = """    // RM Studio patch (runtime/whisper_build.py): no up-front logits reservation.
    // (93 MB for tiny) The vector grows to the largest batch actually decoded.
"""
# 2. The decoder's compute buffer is reserved for a worst-case batch of n_text_ctx (448)
#    tokens, whose logits alone take 93 MB. whisper_full decodes the prompt (3-4 tokens
#    without an initial prompt or past context) and then one token per decoder (at most
#    WHISPER_MAX_DECODERS), and ggml's scheduler re-reserves a larger buffer by itself when a
#    graph does not fit (ggml_backend_sched_alloc_splits), e.g. for a long initial_prompt.
_DECODE_WORST_CASE_ORIGINAL = """                    const int n_tokens = hparams.n_text_ctx;
                    const int n_past   = 0;
"""
_DECODE_WORST_CASE_SMALL = """\
                    // RM Studio patch (runtime/whisper_build.py): one token per decoder.
                    // The scheduler grows the buffer if a longer batch (a prompt) needs it.
                    const int n_tokens = std::min<int>(hparams.n_text_ctx, WHISPER_MAX_DECODERS);
                    const int n_past   = 0;
"""
# 3. Logits only for the tokens that need them. The decoder graph multiplies every token of a
#    batch by the token embedding (n_vocab x n_state), and whisper_decode_internal resizes
#    state->logits to n_tokens x n_vocab, although only tokens with batch.logits[i] set are
#    copied out and read. whisper_full's prompt pass flags only its last token, and from the
#    second 30 s segment on that prompt carries up to n_text_ctx/2 = 224 past tokens: 2 x 47 MB
#    (the graph's logits tensor in the decoder's compute buffer, and state->logits) for 223
#    rows nobody reads. The graph now gathers the flagged rows (ggml_get_rows on the final
#    norm's output, as llama.cpp does with its output ids) before the output projection, and
#    state->logits holds one row per flagged token. Readers of state->logits:
#    - whisper_process_logits reads row decoder.i_batch. Decoding steps flag every token of
#      their batch (one per decoder), where rows and batch positions coincide; the prompt
#      pass maps its last token through whisper_logits_row().
#    - whisper_full's no-speech probability reads row 0. Unpatched, row 0 is token 0's logits
#      only when token 0 is flagged; otherwise the resize keeps what an earlier decode left
#      there (for a prompt with past text: the first decoder's last step of the previous
#      segment or temperature). Row 0 keeps exactly that meaning here, so the probability, the
#      fallbacks and the segments it decides are unchanged. (An upstream quirk, kept on purpose:
#      OpenAI's decoder reads the no-speech probability at the sot token.)
#    - whisper_lang_auto_detect decodes one token and reads row 0: unchanged.
#    - whisper_get_logits() after the public whisper_decode(): whisper.h promises the last
#      token's logits in row n_tokens - 1, so whisper_decode_with_state moves that row there
#      (the public call keeps upstream's n_tokens x n_vocab buffer).
#    - The DTW token-timestamp pass decodes the whole text for its cross-attention weights and
#      reads no logits.
#    The row of a flagged token is computed by the same matrix-vector products as before (each
#    output element is one dot product of a weight row and that token's normalized state), so
#    the logits are bit-identical; decoding steps build exactly the unpatched graph. The
#    reservation of patch 2 now holds one row of logits; a batch of several decoders grows it
#    by a row (200 KB for tiny) per decoder, as any larger batch does.
_LOGITS_ROWS_HELPER_ANCHOR = """static bool whisper_decode_internal(
"""
_LOGITS_ROWS_HELPER = """\
// RM Studio patch (runtime/whisper_build.py): the row of state->logits for batch token i.
// Row 0 belongs to token 0; the other tokens whose batch.logits flag is set follow in batch
// order. For i == n_tokens this is the number of rows.
static int whisper_logits_row(const whisper_batch & batch, int i) {
    int row = i > 0 ? 1 : 0;
    for (int k = 1; k < i; ++k) {
        row += batch.logits[k] != 0;
    }
    return row;
}

static bool whisper_decode_internal(
"""
_LOGITS_GRAPH_ORIGINAL = """    // compute logits only for the last token
    // comment this line to compute logits for all n_tokens
    // might be useful in the future
    //cur = ggml_view_2d(ctx0, cur, cur->ne[0], 1, cur->nb[1], (cur->ne[1] - 1)*cur->nb[1]);

    struct ggml_tensor * logits = ggml_mul_mat(ctx0, model.d_te, cur);
"""
_LOGITS_GRAPH_GATHER = """    // RM Studio patch (runtime/whisper_build.py): logits only for flagged tokens.
    // The rows of the tokens whose batch.logits flag is set are gathered before the output
    // projection ("out_ids", filled by whisper_decode_internal); when every token is flagged
    // (decoding steps) the graph is the unpatched one.
    {
        int n_outputs = 0;
        for (int i = 0; i < n_tokens; ++i) {
            n_outputs += batch.logits[i] != 0;
        }
        if (n_outputs > 0 && n_outputs < n_tokens) {
            struct ggml_tensor * out_ids = ggml_new_tensor_1d(ctx0, GGML_TYPE_I32, n_outputs);
            ggml_set_name(out_ids, "out_ids");
            ggml_set_input(out_ids);

            cur = ggml_get_rows(ctx0, cur, out_ids);
        }
    }

    struct ggml_tensor * logits = ggml_mul_mat(ctx0, model.d_te, cur);
"""
_LOGITS_INPUT_ANCHOR = """        logits = ggml_graph_node(gf, -1);
"""
_LOGITS_INPUT = """\
        // RM Studio patch (runtime/whisper_build.py): rows gathered for the logits.
        if (struct ggml_tensor * out_ids = ggml_graph_get_tensor(gf, "out_ids")) {
            std::vector<int32_t> ids;
            for (int i = 0; i < n_tokens; ++i) {
                if (batch.logits[i] != 0) {
                    ids.push_back(i);
                }
            }
            ggml_backend_tensor_set(out_ids, ids.data(), 0, ids.size()*sizeof(int32_t));
        }

        logits = ggml_graph_node(gf, -1);
"""
_LOGITS_COPY_ORIGINAL = (
    """    logits_out.resize(n_tokens*n_vocab);
    for (int i = 0; i < n_tokens; i++) {
        if (batch.logits[i] == 0) {
            continue;
        }
"""
    "        ggml_backend_tensor_get(logits, logits_out.data() + (n_vocab*i), sizeof(float)*(n_vocab*i), "
    "sizeof(float)*n_vocab);\n"
    "    }\n"
)
_LOGITS_COPY_ROWS = """    // RM Studio patch (runtime/whisper_build.py): one row per flagged token.
    // Rows as whisper_logits_row() numbers them; row 0 keeps its old content when token 0 is not
    // flagged, as the unpatched resize to n_tokens rows did.
    {
        const bool gathered = logits->ne[1] < n_tokens;
        logits_out.resize((size_t) whisper_logits_row(batch, n_tokens)*n_vocab);
        for (int i = 0, j = 0; i < n_tokens; i++) {
            if (batch.logits[i] == 0) {
                continue;
            }
            const int src = gathered ? j++ : i;
            ggml_backend_tensor_get(logits, logits_out.data() + (size_t) n_vocab*whisper_logits_row(batch, i),
                    sizeof(float)*n_vocab*src, sizeof(float)*n_vocab);
        }
    }
"""
_LOGITS_PROMPT_ROW_ORIGINAL = """                    state->decoders[0].i_batch = prompt.size() - 1;
"""
_LOGITS_PROMPT_ROW = """\
                    // RM Studio patch (runtime/whisper_build.py): row of the last token.
                    state->decoders[0].i_batch = whisper_logits_row(state->batch,
                                                                    prompt.size() - 1);
"""
_LOGITS_PUBLIC_ORIGINAL = (
    "    if (!whisper_decode_internal(*ctx, *state, state->batch, n_threads, false, nullptr, nullptr)) {\n"
    """        WHISPER_LOG_ERROR("%s: failed to eval\\n", __func__);
        return 1;
    }
"""
)
_LOGITS_PUBLIC_LAST_ROW = (
    _LOGITS_PUBLIC_ORIGINAL
    + """

    // RM Studio patch (runtime/whisper_build.py): whisper.h's layout for whisper_get_logits().
    // The last token's logits (row 1 of the compact rows) go to row n_tokens - 1 of n_tokens.
    if (n_tokens > 1) {
        const size_t n_vocab = ctx->vocab.n_vocab;
        state->logits.resize(n_tokens*n_vocab);
        memmove(state->logits.data() + (n_tokens - 1)*n_vocab, state->logits.data() + n_vocab,
                n_vocab*sizeof(float));
    }
"""
)
WHISPER_PATCHES = [
    ("src/whisper.cpp", _LOGITS_RESERVE_ORIGINAL, _LOGITS_RESERVE_NONE),
    ("src/whisper.cpp", _DECODE_WORST_CASE_ORIGINAL, _DECODE_WORST_CASE_SMALL),
    ("src/whisper.cpp", _LOGITS_ROWS_HELPER_ANCHOR, _LOGITS_ROWS_HELPER),
    ("src/whisper.cpp", _LOGITS_GRAPH_ORIGINAL, _LOGITS_GRAPH_GATHER),
    ("src/whisper.cpp", _LOGITS_INPUT_ANCHOR, _LOGITS_INPUT),
    ("src/whisper.cpp", _LOGITS_COPY_ORIGINAL, _LOGITS_COPY_ROWS),
    ("src/whisper.cpp", _LOGITS_PROMPT_ROW_ORIGINAL, _LOGITS_PROMPT_ROW),
    ("src/whisper.cpp", _LOGITS_PUBLIC_ORIGINAL, _LOGITS_PUBLIC_LAST_ROW),
]


class RecipeError(RuntimeError):
    """The whisper.cpp tree does not look like the one this recipe was written for."""


def _build_module():
    # Imported lazily: build.py will import this module, and it may be running as __main__.
    import build

    return build


def zig_lib_dir() -> Path:
    """The lib directory of the pinned Zig (libc++ headers and sources live there)."""
    b = _build_module()
    proc = subprocess.run([*b._zig(), "env"], capture_output=True, text=True)
    m = re.search(r'\.?"?lib_dir"?\s*[=:]\s*"([^"]+)"', proc.stdout)
    if proc.returncode != 0 or not m:
        raise RecipeError(f"`zig env` did not report lib_dir: {(proc.stderr or proc.stdout).strip()[:500]}")
    return Path(m.group(1))


def source_versions(whisper_dir: Path) -> dict[str, str]:
    """The ggml and whisper.cpp versions declared by the tree's own CMake files."""
    ggml_cmake = (whisper_dir / "ggml" / "CMakeLists.txt").read_text()
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(rf"set\(GGML_VERSION_{part}\s+(\d+)\)", ggml_cmake)
        if not m:
            raise RecipeError(f"GGML_VERSION_{part} not found in {whisper_dir / 'ggml' / 'CMakeLists.txt'}")
        parts.append(m.group(1))
    top_cmake = (whisper_dir / "CMakeLists.txt").read_text()
    m = re.search(r'project\("whisper\.cpp"\s+VERSION\s+([0-9.]+)\)', top_cmake)
    if not m:
        raise RecipeError(f"whisper.cpp version not found in {whisper_dir / 'CMakeLists.txt'}")
    return {"ggml": ".".join(parts), "whisper": m.group(1)}


def whisper_include_dirs(whisper_dir: Path) -> list[Path]:
    """Include dirs for code that uses the whisper.cpp / ggml public API (whisper.h, ggml*.h)."""
    return [whisper_dir / "include", whisper_dir / "ggml" / "include"]


def _headers(whisper_dir: Path, cpu_dir: Path) -> list[Path]:
    """Every header the units can include: changing any of them rebuilds every unit."""
    ggml_src = whisper_dir / "ggml" / "src"
    found = [
        *(whisper_dir / "ggml" / "include").glob("*.h"),
        *ggml_src.glob("*.h"),
        *cpu_dir.rglob("*.h"),
        *(whisper_dir / "include").glob("*.h"),
        *(whisper_dir / "src").glob("*.h"),
        *(p for p in SHIM_INCLUDE.iterdir() if p.is_file()),
    ]
    return sorted(set(found))


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def patch_summary() -> list[str]:
    """One line per source patch (file and the first line of its RM Studio comment), for build.json."""
    out = []
    cpu = [("ggml/src/ggml-cpu/" + rel, old, new) for rel, old, new in GGML_CPU_PATCHES]
    for rel, _, new in [*cpu, *WHISPER_PATCHES]:
        lines = [ln.strip().lstrip("/ ").strip() for ln in new.splitlines() if "RM Studio patch" in ln]
        note = lines[0] if lines else ""
        out.append(f"{rel}: {note}")
    return out


def _apply(rel: str, text: str, patches: list[tuple[str, str]]) -> str:
    for old, new in patches:
        n = text.count(old)
        if n != 1:
            raise RecipeError(
                f"patch for {rel} expects its original text exactly once, found {n} times: the pinned "
                "whisper.cpp changed; update the patches in runtime/whisper_build.py"
            )
        text = text.replace(old, new)
    return text


def patched_whisper_sources(whisper_dir: Path, gen_dir: Path) -> dict[str, Path]:
    """Copies of the files ``WHISPER_PATCHES`` touch, patched, under ``gen_dir/whisper-patched``.

    They include their neighbours by name, which the include path (``src/``) still finds.
    """
    out: dict[str, Path] = {}
    for rel in sorted({rel for rel, _, _ in WHISPER_PATCHES}):
        text = (whisper_dir / rel).read_text(encoding="utf-8")
        text = _apply(rel, text, [(old, new) for r, old, new in WHISPER_PATCHES if r == rel])
        dst = gen_dir / "whisper-patched" / rel
        _write_if_changed(dst, text.encode("utf-8"))
        out[rel] = dst
    return out


def patched_ggml_cpu(whisper_dir: Path, gen_dir: Path) -> Path:
    """A copy of ggml/src/ggml-cpu under ``gen_dir`` with ``GGML_CPU_PATCHES`` applied.

    The whole directory is copied because its sources include their headers by relative path
    (a patched header elsewhere on the include path would never be seen). Files are written
    only when their content changes, so object caching (by content) is unaffected.
    """
    src = whisper_dir / "ggml" / "src" / "ggml-cpu"
    dst = gen_dir / "whisper-patched" / "ggml-cpu"
    patches = {rel: [] for rel, _, _ in GGML_CPU_PATCHES}
    for rel, old, new in GGML_CPU_PATCHES:
        patches[rel].append((old, new))
    for f in sorted(src.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(src).as_posix()
        data = f.read_bytes()
        if rel in patches:
            data = _apply(f"ggml-cpu/{rel}", data.decode("utf-8"), patches[rel]).encode("utf-8")
        _write_if_changed(dst / rel, data)
    return dst


def whisper_units(whisper_dir: Path, gen_dir: Path) -> list:
    """The translation units of ggml (CPU backend) and whisper.cpp, as ``build.Unit`` objects.

    ``gen_dir`` is the build's directory for generated files: the patched copy of
    ggml/src/ggml-cpu goes to ``gen_dir/whisper-patched/ggml-cpu`` (see ``GGML_CPU_PATCHES``),
    patched whisper.cpp sources to ``gen_dir/whisper-patched/src`` (``WHISPER_PATCHES``).
    No allocator: the executor's ``heap.cpp`` is the module's malloc.
    """
    b = _build_module()
    whisper_dir = Path(whisper_dir)
    every = (*GGML_BASE_SOURCES, *GGML_REG_SOURCES, *GGML_CPU_SOURCES, *WHISPER_SOURCES)
    missing = [s for s in every if not (whisper_dir / s).is_file()]
    if missing:
        raise RecipeError(
            f"{whisper_dir} lacks {', '.join(missing)}: not the whisper.cpp tree this recipe expects"
        )
    versions = source_versions(whisper_dir)
    expected = getattr(b.sources, "WHISPER_CPP_VERSION", versions["whisper"])
    if versions["whisper"] != expected:
        raise RecipeError(
            f"{whisper_dir} is whisper.cpp {versions['whisper']} but sources.py pins {expected}; "
            "re-check runtime/whisper_build.py (source list, shims) before changing the pin"
        )

    cpu_dir = patched_ggml_cpu(whisper_dir, Path(gen_dir))
    patched = patched_whisper_sources(whisper_dir, Path(gen_dir))
    common = [
        *b.OPT_FLAGS,
        *b.ARCH_FLAGS,
        *b.WASI_EMULATION,
        "-DNDEBUG",
        "-DGGML_USE_CPU",
        # Our single-threaded / stdio stand-ins must be found before libc++'s own headers.
        f"-I{SHIM_INCLUDE}",
    ]
    ggml_common = [
        *common,
        "-D_XOPEN_SOURCE=600",
        f"-DGGML_SCHED_MAX_COPIES={GGML_SCHED_MAX_COPIES}",
        f"-DGGML_SCHED_MAX_SPLIT_INPUTS={GGML_SCHED_MAX_SPLIT_INPUTS}",
        f"-I{whisper_dir / 'ggml' / 'include'}",
        f"-I{whisper_dir / 'ggml' / 'src'}",
    ]
    groups = [
        (
            GGML_BASE_SOURCES,
            [
                *ggml_common,
                f'-DGGML_VERSION="{versions["ggml"]}"',
                '-DGGML_COMMIT="pywhispercpp-sdist"',
            ],
        ),
        (GGML_REG_SOURCES, ggml_common),
        (
            GGML_CPU_SOURCES,
            [
                *ggml_common,
                f"-I{cpu_dir}",
            ],
        ),
        (
            WHISPER_SOURCES,
            [
                *common,
                f'-DWHISPER_VERSION="{versions["whisper"]}"',
                f"-I{whisper_dir / 'include'}",
                f"-I{whisper_dir / 'src'}",
                f"-I{whisper_dir / 'ggml' / 'include'}",
            ],
        ),
    ]
    deps = _headers(whisper_dir, cpu_dir)
    units = []
    for sources, flags in groups:
        for rel in sources:
            cpu_prefix = "ggml/src/ggml-cpu/"
            if rel.startswith(cpu_prefix):
                src = cpu_dir / rel[len(cpu_prefix) :]
            else:
                src = patched.get(rel, whisper_dir / rel)
            # C++: try/catch must compile; see the module docstring.
            lang = [*C_STD] if src.suffix == ".c" else [*b.CXX_STD, "-fexceptions"]
            units.append(b.Unit(src, [*lang, *flags], deps))

    zig_lib = zig_lib_dir()
    libcxx_src = zig_lib / "libcxx" / "src"
    units.append(
        b.Unit(
            zig_lib / LIBCXX_PATH_SOURCE,
            [*LIBCXX_SOURCE_FLAGS, *b.OPT_FLAGS, *b.ARCH_FLAGS, f"-I{libcxx_src}"],
            sorted((libcxx_src / "filesystem").glob("*.h")),
        )
    )
    return units
