// matmul_nt (y = x W^T, OpenBLAS sgemm) at the shapes of the benchmark model
// shared/models/tinylm-llama-12m (2048 activation rows; hidden 256, FFN 768,
// vocab 8192) and a square 1024^3, reported as FLOP/s (2 m n k flops per
// product; printed like "FLOP/s=120.5G/s") and as a fraction of the
// machine's estimated fp32 peak ("peak_fraction").
//
// Peak estimate: one core runs a register-resident loop of independent FMA
// chains (AVX-512 when the CPU has it, else AVX2+FMA, else scalar), giving
// flops/s per core; the peak is that times the threads OpenBLAS uses. It is
// the FMA throughput ceiling, not a sustained rate (clocks may drop when all
// cores run wide vectors), so peak_fraction is a conservative efficiency.
// It is the peak of the widest vectors the CPU has: an OpenBLAS built with
// AVX2 kernels (the label shows its core name, e.g. "Haswell") on an AVX-512
// CPU can reach at most about half of it.
//
// matmul_nt_16 (BF16 W converted on the fly, kernels/gemm16.h) at the same
// tinylm shapes with 1 and 2048 rows and at a Qwen3-4B FFN shape (k 2560,
// n 9728; m 1 and 512), each with "vs_f32" = its FLOP/s over matmul_nt's on
// the same shape, timed in the same run. BM_MatmulNt16Path times one direct
// path or the convert + sgemm panels at small m: kGemm16DirectMaxRows
// (direct kernels up to that many rows) comes from it. The lieq binary runs
// OpenBLAS's SkylakeX kernels on AVX-512 CPUs (select_blas_kernels); set
// OPENBLAS_CORETYPE=SkylakeX to compare with the same float32 kernels.
//
//   ./build/bench_gemm                         # all
//   ./build/bench_gemm --benchmark_filter=Peak # just the peak estimate
//   ./build/bench_gemm --benchmark_filter=16   # the 16-bit products
//   LIEQ_THREADS / OPENBLAS_NUM_THREADS set the thread count as usual.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm16.h"
#include "kernels/gemm16_kernels.h"
#include "util/half.h"

extern "C" char* openblas_get_corename(void);  // OpenBLAS: the kernel set it picked

namespace {

// ------------------------------------------------------------ peak estimate

// Each loop runs `iters` iterations of kChains independent FMA chains of full
// vectors (acc = acc * a + b, which converges and never overflows or goes
// subnormal); more chains than FMA latency x FMA ports keeps the FMA units
// busy. Returns a value depending on every accumulator so nothing is elided.
constexpr int kChains = 16;

__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(float(j));
  for (int64_t i = 0; i < iters; ++i) {
    // Fully unrolled, so acc lives in registers; without -ffast-math the
    // compiler cannot fold the chains of FMAs.
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm512_add_ps(s, acc[j]);
  float lanes[16];  // (_mm512_reduce_add_ps trips -Wuninitialized in GCC 12's header)
  _mm512_storeu_ps(lanes, s);
  float r = 0;
  for (float v : lanes) r += v;
  return r;
}

// AVX2 has 16 ymm registers: 12 chains plus the two constants fit.
constexpr int kChainsAvx2 = 12;

__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iters) {
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
  __m256 acc[kChainsAvx2];
  for (int j = 0; j < kChainsAvx2; ++j) acc[j] = _mm256_set1_ps(float(j));
  for (int64_t i = 0; i < iters; ++i) {
    for (int j = 0; j < kChainsAvx2; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  __m256 s = acc[0];
  for (int j = 1; j < kChainsAvx2; ++j) s = _mm256_add_ps(s, acc[j]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  float r = 0;
  for (float v : lanes) r += v;
  return r;
}

float fma_loop_scalar(int64_t iters) {
  float acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = float(j);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = acc[j] * 0.999999f + 1e-6f;
  float r = 0;
  for (float v : acc) r += v;
  return r;
}

struct PeakKernel {
  const char* isa;
  double flops_per_iter;
  float (*loop)(int64_t);
};

PeakKernel pick_peak_kernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"avx512f", 2.0 * 16 * kChains, fma_loop_avx512};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {"avx2+fma", 2.0 * 8 * kChainsAvx2, fma_loop_avx2};
  return {"scalar", 2.0 * kChains, fma_loop_scalar};
}

// Best of several ~50 ms runs on the calling thread, in GFLOP/s.
double measure_core_peak_gflops(const PeakKernel& k) {
  volatile float sink = k.loop(100000);  // warm up (clock ramp, page-in)
  double best = 0;
  int64_t iters = 1000000;
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + k.loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, k.flops_per_iter * double(iters) / s * 1e-9);
    if (s < 0.05) iters *= 2;
  }
  return best;
}

struct Peak {
  std::string isa;
  double per_core = 0;  // GFLOP/s
  int threads = 1;
  double total() const { return per_core * threads; }
};

const Peak& peak() {
  static const Peak p = [] {
    Peak r;
    const PeakKernel k = pick_peak_kernel();
    r.isa = k.isa;
    r.per_core = measure_core_peak_gflops(k);
    r.threads = std::max(1, lieq::blas_set_threads(0));  // 0 = query only
    std::fprintf(stderr, "peak estimate: %s FMA loop %.1f GFLOP/s per core x %d threads = %.1f GFLOP/s\n",
                 r.isa.c_str(), r.per_core, r.threads, r.total());
    return r;
  }();
  return p;
}

void BM_PeakFmaPerCore(benchmark::State& state) {
  const PeakKernel k = pick_peak_kernel();
  const int64_t iters = 1 << 16;
  for (auto _ : state) benchmark::DoNotOptimize(k.loop(iters));
  state.counters["FLOP/s"] = benchmark::Counter(
      k.flops_per_iter * double(iters) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = peak().threads;
  state.counters["peak_GFLOP/s"] = peak().total();
  state.SetLabel(k.isa);
}
BENCHMARK(BM_PeakFmaPerCore)->Unit(benchmark::kMicrosecond);

// --------------------------------------------------------------------- GEMM

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Args: m (activation rows), n (output features), k (input features).
void BM_MatmulNt(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const std::vector<float> x = random_vec(size_t(m * k), 1), w = random_vec(size_t(n * k), 2);
  std::vector<float> y(size_t(m * n));
  const Peak& pk = peak();
  lieq::matmul_nt(x.data(), w.data(), y.data(), m, n, k);  // warm up (thread start-up, caches)
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    lieq::matmul_nt(x.data(), w.data(), y.data(), m, n, k);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double flops = 2.0 * double(m) * double(n) * double(k) * double(state.iterations());
  // Shown as e.g. "FLOP/s=120.5G/s" (rate over the benchmark's real time).
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
  // A plain ratio (a rate counter would print "/s" after it), from the loop's wall time.
  state.counters["peak_fraction"] = flops / secs * 1e-9 / pk.total();
  state.counters["threads"] = pk.threads;
  state.SetLabel(std::string("openblas ") + openblas_get_corename());
}

// tinylm-llama-12m, 2048 rows (e.g. a batch of 4 x 512 tokens):
BENCHMARK(BM_MatmulNt)
    ->ArgNames({"m", "n", "k"})
    ->Args({2048, 256, 256})    // q_proj, o_proj (hidden -> hidden)
    ->Args({2048, 128, 256})    // k_proj, v_proj (hidden -> 2 kv heads x 64)
    ->Args({2048, 768, 256})    // gate_proj, up_proj (hidden -> FFN)
    ->Args({2048, 256, 768})    // down_proj (FFN -> hidden)
    ->Args({2048, 8192, 256})   // lm_head (hidden -> vocab, tied embedding)
    ->Args({1024, 1024, 1024})  // square reference
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ------------------------------------------------------- 16-bit weights

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = lieq::f32_to_bf16(v[i]);
  return h;
}

// Mean seconds per call of f over >= 0.3 s (after one warm-up call).
template <class F>
double seconds_per_call(const F& f) {
  f();
  int64_t calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double s = 0;
  while (s < 0.3) {
    f();
    ++calls;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return s / double(calls);
}

// FLOP/s of matmul_nt (float32 W) at [m, n, k]: the baseline of "vs_f32".
double f32_flops(int64_t m, int64_t n, int64_t k) {
  const std::vector<float> x = random_vec(size_t(m * k), 1), w = random_vec(size_t(n * k), 2);
  std::vector<float> y(size_t(m * n));
  const double s = seconds_per_call([&] {
    lieq::matmul_nt(x.data(), w.data(), y.data(), m, n, k);
    benchmark::ClobberMemory();
  });
  return 2.0 * double(m) * double(n) * double(k) / s;
}

// Times `product` (y = x W^T, BF16 W) and reports FLOP/s and vs_f32.
template <class F>
void time_16bit(benchmark::State& state, int64_t m, int64_t n, int64_t k, const F& product) {
  const double base = f32_flops(m, n, k);
  product();  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    product();
    benchmark::ClobberMemory();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double flops = 2.0 * double(m) * double(n) * double(k) * double(state.iterations());
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
  state.counters["f32_GFLOP/s"] = base * 1e-9;
  state.counters["vs_f32"] = flops / secs / base;
}

// Args: m, n, k. matmul_nt_16 as the forward pass calls it (active path).
void BM_MatmulNt16(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const std::vector<float> x = random_vec(size_t(m * k), 1);
  const std::vector<uint16_t> w = to_bf16(random_vec(size_t(n * k), 2));
  std::vector<float> y(size_t(m * n));
  time_16bit(state, m, n, k, [&] {
    lieq::matmul_nt_16(x.data(), w.data(), lieq::Dtype16::kBf16, y.data(), m, n, k);
  });
  state.SetLabel(std::string("bf16 ") + lieq::gemm16_path_name(lieq::gemm16_active_path()) +
                 (m <= lieq::kGemm16DirectMaxRows ? " direct" : " panels"));
}
BENCHMARK(BM_MatmulNt16)
    ->ArgNames({"m", "n", "k"})
    ->Args({1, 256, 256})       // tinylm q_proj, o_proj, decoding
    ->Args({1, 768, 256})       // tinylm gate_proj, up_proj
    ->Args({1, 256, 768})       // tinylm down_proj
    ->Args({1, 8192, 256})      // tinylm lm_head
    ->Args({2048, 256, 256})    // the same, perplexity batches
    ->Args({2048, 128, 256})
    ->Args({2048, 768, 256})
    ->Args({2048, 256, 768})
    ->Args({2048, 8192, 256})
    ->Args({1, 9728, 2560})     // Qwen3-4B gate_proj, up_proj
    ->Args({512, 9728, 2560})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: m, n, k, path (Gemm16Path; 4 = convert + sgemm panels).
void BM_MatmulNt16Path(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto path = lieq::Gemm16Path(std::min<int64_t>(state.range(3), 3));
  const bool panels = state.range(3) == 4;
  if (!lieq::gemm16_path_supported(path)) {
    state.SkipWithError("path not supported by this CPU");
    return;
  }
  const std::vector<float> x = random_vec(size_t(m * k), 1);
  const std::vector<uint16_t> w = to_bf16(random_vec(size_t(n * k), 2));
  std::vector<float> y(size_t(m * n));
  const lieq::Gemm16Kernels& kern = lieq::gemm16_kernels(path);
  time_16bit(state, m, n, k, [&] {
    lieq::matmul_nt_16_with(kern, panels ? 0 : m, x.data(), w.data(), lieq::Dtype16::kBf16,
                            y.data(), m, n, k);
  });
  state.SetLabel(panels ? "panels" : lieq::gemm16_path_name(path));
}
BENCHMARK(BM_MatmulNt16Path)
    ->ArgNames({"m", "n", "k", "path"})
    ->ArgsProduct({{1, 2, 4, 8, 16, 32, 64, 128}, {9728}, {2560}, {1, 2, 3, 4}})
    ->ArgsProduct({{1, 2, 4, 8, 16, 32, 64, 128}, {768}, {256}, {1, 2, 3, 4}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
