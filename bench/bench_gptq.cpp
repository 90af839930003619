// GPTQ at layer shapes (n_out x n_in) with 4096 calibration rows:
//   [768 x 256] and [256 x 768]: tinylm-llama-12m's FFN up/gate and down;
//   [2560 x 2560] and [9728 x 2560]: a Qwen3-4B attention projection and
//   its FFN up/gate.
// Reported as time per call and effective FLOP/s ("FLOP/s=...G/s"), with
// these flop counts (multiply-add = 2 flops):
//   add_batch (4096 rows):  rows * n_in^2           (SYRK of the new rows)
//   inverse factor:         2/3 * n_in^3            (Cholesky + triangular inverse)
//   quantize:               n_out * n_in^2 + 2/3 * n_in^3
//                           (the error propagation: column i updates the
//                           n_out x (n_in - i) weights after it; plus the factor)
// GptqQuantize (int4 g128, 4.25 bpw) and GptqQuantizeQ4K (GPTQ into ggml's
// Q4_K, 4.5 bpw: ggml's scale search per block of 256) run the same shapes
// and count the same flops; RtnQ4K (llama.cpp's importance-weighted RTN) is
// the cost without GPTQ.
//
//   ./build/bench_gptq                               # all
//   ./build/bench_gptq --benchmark_filter=Quantize   # one family
//   LIEQ_THREADS sets the pool's threads (OpenBLAS itself runs single-threaded).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/gemm.h"
#include "quant/gptq.h"
#include "util/thread_pool.h"

extern "C" char* openblas_get_corename(void);  // OpenBLAS: the kernel set it picked

namespace {

constexpr int64_t kCalibRows = 4096;

std::vector<float> random_vec(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

// Calibration-like inputs: a shared low-rank part plus noise, so that H is
// correlated (the cost does not depend on the values, but the factorisation
// must succeed without retries).
std::vector<float> calib_inputs(int64_t rows, int64_t n) {
  const int64_t k = 32;
  const std::vector<float> z = random_vec(size_t(rows * k), 1), a = random_vec(size_t(k * n), 2);
  std::vector<float> x = random_vec(size_t(rows * n), 3, 0.5f);
  lieq::sgemm(false, false, rows, n, k, 1.0f, z.data(), k, a.data(), n, 1.0f, x.data(), n);
  return x;
}

void set_counters(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iter * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
  state.counters["threads"] = lieq::ThreadPool::global().size();
}

// Args: n_out, n_in (n_out only names the layer; add_batch sees n_in).
void BM_GptqAddBatch(benchmark::State& state) {
  const int64_t n_in = state.range(1);
  const std::vector<float> x = calib_inputs(kCalibRows, n_in);
  lieq::Gptq g(n_in);
  g.add_batch(x.data(), kCalibRows);  // warm up (pool start, page-in)
  for (auto _ : state) {
    g.add_batch(x.data(), kCalibRows);
    benchmark::DoNotOptimize(g.hessian().data());
  }
  set_counters(state, double(kCalibRows) * double(n_in) * double(n_in));
}

void BM_GptqInverseFactor(benchmark::State& state) {
  const int64_t n_in = state.range(1);
  const std::vector<float> x = calib_inputs(kCalibRows, n_in);
  lieq::Gptq g(n_in);
  g.add_batch(x.data(), kCalibRows);
  std::vector<float> h = g.hessian();
  for (int64_t i = 0; i < n_in; ++i) h[size_t(i * n_in + i)] += 0.01f * h[size_t(i * n_in + i)];
  std::vector<float> u(h.size());
  for (auto _ : state) {
    if (!lieq::gptq_inverse_cholesky(h.data(), n_in, u.data())) state.SkipWithError("not PD");
    benchmark::DoNotOptimize(u.data());
  }
  const double n = double(n_in);
  set_counters(state, 2.0 / 3.0 * n * n * n);
}

void quantize_bench(benchmark::State& state, bool act_order) {
  const int64_t n_out = state.range(0), n_in = state.range(1);
  const std::vector<float> x = calib_inputs(kCalibRows, n_in);
  const std::vector<float> w = random_vec(size_t(n_out * n_in), 4, 0.02f);
  lieq::Gptq g(n_in);
  g.add_batch(x.data(), kCalibRows);
  const lieq::QuantSpec spec{4, 128, false};
  lieq::GptqOptions opt;
  opt.act_order = act_order;
  for (auto _ : state) {
    lieq::GptqResult r = g.quantize(w.data(), n_out, spec, opt);
    benchmark::DoNotOptimize(r.q.codes.data());
  }
  const double n = double(n_in);
  set_counters(state, double(n_out) * n * n + 2.0 / 3.0 * n * n * n);
  state.SetLabel(spec.name() + (act_order ? " act_order" : ""));
}

void BM_GptqQuantize(benchmark::State& state) { quantize_bench(state, false); }

void BM_GptqQuantizeQ4K(benchmark::State& state) {
  const int64_t n_out = state.range(0), n_in = state.range(1);
  const std::vector<float> x = calib_inputs(kCalibRows, n_in);
  const std::vector<float> w = random_vec(size_t(n_out * n_in), 4, 0.02f);
  lieq::Gptq g(n_in);
  g.add_batch(x.data(), kCalibRows);
  for (auto _ : state) {
    lieq::GgmlQuantized r = g.quantize_ggml(w.data(), n_out, lieq::GgmlType::Q4_K);
    benchmark::DoNotOptimize(r.data.data());
  }
  const double n = double(n_in);
  set_counters(state, double(n_out) * n * n + 2.0 / 3.0 * n * n * n);
  state.SetLabel("Q4_K");
}

void BM_RtnQ4K(benchmark::State& state) {
  const int64_t n_out = state.range(0), n_in = state.range(1);
  const std::vector<float> x = calib_inputs(kCalibRows, n_in);
  const std::vector<float> w = random_vec(size_t(n_out * n_in), 4, 0.02f);
  lieq::Gptq g(n_in);
  g.add_batch(x.data(), kCalibRows);
  const std::vector<float> imp = g.importance();
  for (auto _ : state) {
    lieq::GgmlQuantized r = lieq::quantize_ggml_rtn(w.data(), n_out, n_in, lieq::GgmlType::Q4_K,
                                                    imp.data());
    benchmark::DoNotOptimize(r.data.data());
  }
  state.counters["threads"] = lieq::ThreadPool::global().size();
  state.SetLabel("Q4_K imatrix");
}
void BM_GptqQuantizeActOrder(benchmark::State& state) { quantize_bench(state, true); }

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_out", "n_in"})
      ->Args({768, 256})
      ->Args({256, 768})
      ->Args({2560, 2560})
      ->Args({9728, 2560})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

BENCHMARK(BM_GptqAddBatch)->Apply(shapes);
BENCHMARK(BM_GptqInverseFactor)->ArgNames({"n_out", "n_in"})->Args({0, 256})->Args({0, 768})
    ->Args({0, 2560})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GptqQuantize)->Apply(shapes);
BENCHMARK(BM_GptqQuantizeQ4K)->Apply(shapes);
BENCHMARK(BM_RtnQ4K)->Apply(shapes);
// A 4096 x 4096 projection (7B-class attention), int4 g128 against Q4_K.
BENCHMARK(BM_GptqQuantize)->ArgNames({"n_out", "n_in"})->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GptqQuantizeQ4K)->ArgNames({"n_out", "n_in"})->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GptqQuantizeActOrder)->ArgNames({"n_out", "n_in"})->Args({2560, 2560})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// As the lieq binary: AVX-512 OpenBLAS kernels where the CPU has them.
int main(int argc, char** argv) {
  lieq::select_blas_kernels(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
