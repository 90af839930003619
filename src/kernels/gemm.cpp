#include "kernels/gemm.h"

#include <cblas.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "util/thread_pool.h"

namespace lieq {

extern "C" {
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace {

// OpenBLAS runs on one thread: lieq's ThreadPool owns the cores and splits
// large products by output columns. (OpenBLAS's own threads, spinning while
// the pool ran attention, cost ~20% of a perplexity run in sched_yield.)
struct BlasSingleThreaded {
  BlasSingleThreaded() { openblas_set_num_threads(1); }
} blas_single_threaded;

// Below this many multiply-adds a product is not worth splitting.
constexpr double kParallelMacs = double(1 << 18);

}  // namespace

void split_product(int64_t m, int64_t n, int64_t k, const BlockProduct& product) {
  if (m == 0 || n == 0) return;
  ThreadPool& pool = ThreadPool::global();
  const double macs = double(m) * double(n) * double(k);
  if (pool.size() == 1 || macs < kParallelMacs || n < 32) {
    product(0, m, 0, n);
    return;
  }
  // OpenBLAS packs both operands on every call, so each block repacks the
  // operand it shares with the other blocks: split the longer of m and n, so
  // that the shared one is the smaller (perplexity batches: x is 4096 rows and
  // W 256-768 rows; repacking x per column block cost ~10% of a tinylm run).
  if (m > n) {
    // Row blocks of x, a few per thread.
    const int64_t n_row_blocks = std::min<int64_t>(int64_t(pool.size()) * 2, m);
    pool.parallel_for(0, n_row_blocks, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i)
        product(i * m / n_row_blocks, (i + 1) * m / n_row_blocks, 0, n);
    });
    return;
  }
  // Column blocks of W rows (multiples of 16 columns), a few per thread.
  const int64_t n_blocks = std::min<int64_t>(int64_t(pool.size()) * 2, (n + 15) / 16);
  const int64_t block = ((n + n_blocks - 1) / n_blocks + 15) / 16 * 16;
  pool.parallel_for(0, (n + block - 1) / block, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) product(0, m, i * block, std::min(n, (i + 1) * block));
  });
}

void matmul_nt(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
               bool accumulate) {
  const float beta = accumulate ? 1.0f : 0.0f;
  split_product(m, n, k, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(r1 - r0), int(j1 - j0), int(k), 1.0f,
                x + r0 * k, int(k), w + j0 * k, int(k), beta, y + r0 * n + j0, int(n));
  });
}

void matmul_nt_ref(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
                   bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) s += double(x[i * k + l]) * double(w[j * k + l]);
      y[i * n + j] = accumulate ? y[i * n + j] + float(s) : float(s);
    }
  }
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}

void select_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
    return;
  if (::setenv("OPENBLAS_CORETYPE", "SkylakeX", 0) != 0) return;
  ::execv("/proc/self/exe", argv);
  // execv failed: carry on with the kernels already loaded.
}

int blas_set_threads(int n) {
  const int prev = openblas_get_num_threads();
  if (n > 0) openblas_set_num_threads(n);
  return prev;
}

}  // namespace lieq
