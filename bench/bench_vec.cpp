// The elementwise kernels of kernels/vec.h on every instruction-set path this
// CPU supports, at the sizes the forward pass of a Qwen3-4B-shaped model uses:
//   bf16->f32 / f16->f32   one 2560 x 9728 weight (24.9M values)
//   rms_norm               64 rows of 2560
//   silu_mul               64 rows of 9728
//   softmax                rows of 256 and 2048 scores
//   log_sum_exp            one row of 151936 logits
// Reported as time per call and items (elements) per second; the ratio of a
// path to "scalar" in the same run is the speedup.
//   ./build/bench_vec [--benchmark_filter=rms_norm]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/vec.h"
#include "util/half.h"

namespace {

using lieq::Isa;

std::vector<float> random_floats(size_t n, float scale) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

void convert(benchmark::State& st, Isa isa, bool bf16) {
  const auto& k = lieq::vec_kernels(isa);
  const int64_t n = int64_t(2560) * 9728;
  const auto f = random_floats(size_t(n), 2.0f);
  std::vector<uint16_t> h(static_cast<size_t>(n));
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = bf16 ? lieq::f32_to_bf16(f[i]) : lieq::f32_to_f16(f[i]);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : st) {
    (bf16 ? k.bf16_to_f32 : k.f16_to_f32)(h.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void rms_norm(benchmark::State& st, Isa isa) {
  const auto& k = lieq::vec_kernels(isa);
  const int64_t rows = 64, dim = 2560;
  const auto x = random_floats(size_t(rows * dim), 3.0f), w = random_floats(size_t(dim), 1.0f);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    k.rms_norm(x.data(), w.data(), y.data(), rows, dim, 1e-6f);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * rows * dim);
}

void silu_mul(benchmark::State& st, Isa isa) {
  const auto& k = lieq::vec_kernels(isa);
  const int64_t n = int64_t(64) * 9728;
  const auto g = random_floats(size_t(n), 8.0f), u = random_floats(size_t(n), 2.0f);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : st) {
    k.silu_mul(g.data(), u.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void softmax(benchmark::State& st, Isa isa) {
  const auto& k = lieq::vec_kernels(isa);
  const int64_t n = st.range(0);
  const auto x0 = random_floats(size_t(n), 10.0f);
  std::vector<float> x = x0;
  for (auto _ : st) {
    x = x0;
    k.softmax(x.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void log_sum_exp(benchmark::State& st, Isa isa) {
  const auto& k = lieq::vec_kernels(isa);
  const int64_t n = 151936;
  const auto x = random_floats(size_t(n), 10.0f);
  for (auto _ : st) benchmark::DoNotOptimize(k.log_sum_exp(x.data(), n));
  st.SetItemsProcessed(st.iterations() * n);
}

}  // namespace

int main(int argc, char** argv) {
  for (Isa isa : lieq::supported_isas()) {
    const std::string s = lieq::isa_name(isa);
    benchmark::RegisterBenchmark(("bf16_to_f32/" + s).c_str(), convert, isa, true);
    benchmark::RegisterBenchmark(("f16_to_f32/" + s).c_str(), convert, isa, false);
    benchmark::RegisterBenchmark(("rms_norm/" + s).c_str(), rms_norm, isa);
    benchmark::RegisterBenchmark(("silu_mul/" + s).c_str(), silu_mul, isa);
    benchmark::RegisterBenchmark(("softmax/" + s).c_str(), softmax, isa)->Arg(256)->Arg(2048);
    benchmark::RegisterBenchmark(("log_sum_exp/" + s).c_str(), log_sum_exp, isa);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
