// One attention work item of the forward pass (one head, a block of 32 query
// rows at the end of the window, so they see n_keys keys) by the materialised
// path (scores [32, n_keys] in scratch, two GEMMs) and by the fused path (key
// blocks of kAttnKeyBlock, online softmax), at n_keys 256..16384 and head_dim
// 64 and 128. The layout is a GQA model's: 16 query heads on 4 kv heads; the
// iterations cycle through the heads. Time per call = time per head and row
// block; a table of fused / materialised at the end (< 1: fused is faster)
// is what kAttnMaterializedMaxKeys in kernels/attention.h was chosen from.
//   ./build/bench_attention [--benchmark_filter=hd64]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/attention.h"
#include "kernels/gemm.h"

namespace {

constexpr int64_t kHeads = 16, kKvHeads = 4, kRows = 32;
constexpr int64_t kKeys[] = {256, 512, 1024, 2048, 4096, 16384};

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

void attention(benchmark::State& st, bool fused, int64_t head_dim) {
  const int64_t n_keys = st.range(0), pos0 = n_keys - kRows;
  const lieq::AttentionShape s{kHeads, kKvHeads, head_dim, 0};
  const auto q = random_floats(size_t(kRows * kHeads * head_dim), 1);     // [32, heads * hd]
  const auto k = random_floats(size_t(n_keys * kKvHeads * head_dim), 2);  // [n_keys, kv_heads * hd]
  const auto v = random_floats(size_t(n_keys * kKvHeads * head_dim), 3);  // [n_keys, kv_heads * hd]
  std::vector<float> out(q.size());
  std::vector<float> scratch(static_cast<size_t>(
      fused ? lieq::attention_fused_scratch_floats(kRows) : kRows * n_keys));
  int64_t head = 0;
  for (auto _ : st) {
    (fused ? lieq::attention_rows_fused : lieq::attention_rows_materialized)(
        q.data(), k.data(), v.data(), out.data(), s, pos0, head, 0, kRows, scratch.data());
    benchmark::DoNotOptimize(out.data());
    head = (head + 1) % kHeads;
  }
  st.SetItemsProcessed(st.iterations() * kRows * n_keys);  // (query, key) pairs
}

// The console report, plus each run's time per iteration kept for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      // The least over repetitions (--benchmark_repetitions=N): the machine may be shared.
      const auto [it, fresh] = us_per_call_.emplace(r.benchmark_name(), r.GetAdjustedCPUTime());
      if (!fresh) it->second = std::min(it->second, r.GetAdjustedCPUTime());
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void print_ratios() const {
    std::printf("\n%-8s %8s %14s %14s %8s\n", "", "n_keys", "materialised", "fused",
                "fused/mat");
    for (int64_t hd : {64, 128})
      for (int64_t nk : kKeys) {
        const std::string tail = "/hd" + std::to_string(hd) + "/" + std::to_string(nk);
        const auto m = us_per_call_.find("materialised" + tail), f = us_per_call_.find("fused" + tail);
        if (m == us_per_call_.end() || f == us_per_call_.end()) continue;
        std::printf("hd%-6lld %8lld %11.1f us %11.1f us %8.2f\n", static_cast<long long>(hd),
                    static_cast<long long>(nk), m->second, f->second,
                    f->second / m->second);
      }
  }

 private:
  std::map<std::string, double> us_per_call_;  // benchmark name -> CPU time per call (us)
};

}  // namespace

int main(int argc, char** argv) {
  lieq::select_blas_kernels(argv);
  for (int64_t hd : {64, 128})
    for (bool fused : {false, true}) {
      const std::string name =
          std::string(fused ? "fused" : "materialised") + "/hd" + std::to_string(hd);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), attention, fused, hd);
      for (int64_t nk : kKeys) b->Arg(nk);
      b->Unit(benchmark::kMicrosecond);
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
