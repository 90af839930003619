#include "kernels/gemm.h"

#include <cblas.h>

namespace lieq {

extern "C" {
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace {
// Products below this many multiply-adds run on one thread: waking OpenBLAS's
// threads costs more than they save (measured on zero-shot items of ~100 rows).
constexpr double kSingleThreadMacs = 1 << 23;

// Runs f with OpenBLAS limited to one thread when the product is small.
template <typename F>
void with_threads_for(double macs, F&& f) {
  const int n_threads = openblas_get_num_threads();
  if (macs < kSingleThreadMacs && n_threads > 1) {
    openblas_set_num_threads(1);
    f();
    openblas_set_num_threads(n_threads);
  } else {
    f();
  }
}
}  // namespace

void matmul_nt(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
               bool accumulate) {
  if (m == 0 || n == 0) return;
  with_threads_for(double(m) * double(n) * double(k), [&] {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n), int(k), 1.0f, x, int(k), w,
              int(k), accumulate ? 1.0f : 0.0f, y, int(n));
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

int blas_set_threads(int n) {
  const int prev = openblas_get_num_threads();
  if (n > 0) openblas_set_num_threads(n);
  return prev;
}

}  // namespace lieq
