// Scale searches of ggml's reference quantizers (ggml-quants.c), reimplemented
// with the same float arithmetic in the same order so that the chosen scales
// and codes are bit-identical. Integer codes enter products as floats exactly
// where C's usual conversions put them (w * x * l is (w * x) * float(l)).
#include <cmath>

#include "format/ggml_impl.h"

namespace lieq::ggml_detail {

namespace {

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Weight of element i: w[i], or x^2 when w is null (rmse_type 1).
inline float weight_or_square(const float* w, const float* x, int i) {
  return w ? w[i] : x[i] * x[i];
}

}  // namespace

bool importance_is_void(const float* w, int n) {
  if (!w) return true;
  for (int i = 0; i < n; ++i)
    if (w[i] != 0.0f) return false;
  return true;
}

SymFit search_symmetric(int n, int nmax, const float* x, const float* w, int8_t* L) {
  // The element of largest magnitude (the first one on ties), with its sign.
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      vmax = x[i];
    }
  }
  SymFit r;
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return r;
  }
  r.zero = false;
  // Codes for one inverse scale, with their weighted sums.
  auto accumulate = [&](float iscale, float* sumlx, float* suml2, bool store) {
    *sumlx = 0.0f;
    *suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      if (store) L[i] = static_cast<int8_t>(nmax + l);
      const float wi = weight_or_square(w, x, i);
      const float fl = static_cast<float>(l);
      *sumlx += wi * x[i] * fl;
      *suml2 += wi * fl * fl;
    }
  };
  float iscale = static_cast<float>(-nmax) / vmax;
  float sumlx, suml2;
  accumulate(iscale, &sumlx, &suml2, true);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  r.iscale = iscale;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / vmax;
    accumulate(iscale, &sumlx, &suml2, false);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      accumulate(iscale, &sumlx, &suml2, true);
      scale = sumlx / suml2;
      best = scale * sumlx;
      r.iscale = iscale;
    }
  }
  r.scale = scale;
  return r;
}

float search_symmetric_refine(int n, int nmax, const float* x, int8_t* L) {
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      vmax = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / vmax;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float wi = x[i] * x[i];
    sumlx += wi * x[i] * static_cast<float>(l);
    suml2 += wi * static_cast<float>(l) * static_cast<float>(l);
  }
  // Coordinate descent: move one code at a time to its best value for the
  // scale fitted to the others; keep the move when the fit improves.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float wi = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - wi * x[i] * li;
      if (slx > 0.0f) {
        float sl2 = suml2 - wi * li * li;
        const int nl = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (nl != L[i]) {
          const float fnl = static_cast<float>(nl);
          slx += wi * x[i] * fnl;
          sl2 += wi * fnl * fnl;
          if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return sumlx / suml2;
}

AsymFit search_asymmetric(int n, int nmax, const float* x, const float* w, uint8_t* L,
                          float rmin, float rdelta, int nstep, bool use_mad) {
  float vmin = x[0], vmax = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < vmin) vmin = x[i];
    if (x[i] > vmax) vmax = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (vmin > 0.0f) vmin = 0.0f;
  AsymFit r;
  if (vmax == vmin) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    r.neg_min = -vmin;
    return r;
  }
  r.degenerate = false;
  auto error_of = [&](float d) { return use_mad ? std::fabs(d) : d * d; };

  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / (vmax - vmin);
  float scale = 1.0f / iscale;
  r.iscale = iscale;
  r.offset = vmin;
  float best_err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clampi(nearest_int(iscale * (x[i] - vmin)), 0, nmax);
    L[i] = static_cast<uint8_t>(l);
    const float diff = scale * static_cast<float>(l) + vmin - x[i];
    best_err += w[i] * error_of(diff);
  }
  if (nstep >= 1) {
    uint8_t trial[256];
    for (int step = 0; step <= nstep; ++step) {
      // Note: vmin is the best min so far, as in ggml.
      iscale = (rmin + rdelta * static_cast<float>(step) + fnmax) / (vmax - vmin);
      float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
      for (int i = 0; i < n; ++i) {
        const int l = clampi(nearest_int(iscale * (x[i] - vmin)), 0, nmax);
        trial[i] = static_cast<uint8_t>(l);
        const float fl = static_cast<float>(l);
        sum_l += w[i] * fl;
        sum_l2 += w[i] * fl * fl;
        sum_xl += w[i] * fl * x[i];
      }
      const float det = sum_w * sum_l2 - sum_l * sum_l;
      if (det > 0.0f) {
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0.0f) {
          this_min = 0.0f;
          this_scale = sum_xl / sum_l2;
        }
        float err = 0.0f;
        for (int i = 0; i < n; ++i) {
          const float diff = this_scale * static_cast<float>(trial[i]) + this_min - x[i];
          err += w[i] * error_of(diff);
        }
        if (err < best_err) {
          for (int i = 0; i < n; ++i) L[i] = trial[i];
          best_err = err;
          r.iscale = iscale;
          r.offset = vmin;
          scale = this_scale;
          vmin = this_min;
        }
      }
    }
  }
  r.scale = scale;
  r.neg_min = -vmin;
  return r;
}

float search_positive(int n, int nmax, const float* x, uint8_t* L, const float* w) {
  float vmax = 0.0f;
  for (int i = 0; i < n; ++i) vmax = vmax > x[i] ? vmax : x[i];
  if (vmax == 0.0f) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / vmax;
  // ggml stores these first codes unclamped in uint8_t (they wrap if negative).
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1.0f / iscale;
  float best_mse = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += w[i] * diff * diff;
  }
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float iscale_s = (0.1f * static_cast<float>(step) + fnmax) / vmax;
    const float scale_s = 1.0f / iscale_s;
    float mse = 0.0f;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale_s * x[i]);
      if (l > nmax) l = nmax;
      const float diff = x[i] - scale_s * static_cast<float>(l);
      mse += w[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_s;
    }
  }
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    if (l > nmax) l = nmax;
    L[i] = static_cast<uint8_t>(l);
    const float fl = static_cast<float>(l);
    sumlx += w[i] * x[i] * fl;
    suml2 += w[i] * fl * fl;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w[i] * x[i] * li;
      float sl2 = suml2 - w[i] * li * li;
      if (slx > 0.0f && sl2 > 0.0f) {
        int nl = nearest_int(x[i] * sl2 / slx);
        if (nl > nmax) nl = nmax;
        if (nl != L[i]) {
          const float fnl = static_cast<float>(nl);
          slx += w[i] * x[i] * fnl;
          sl2 += w[i] * fnl * fnl;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  return sumlx / suml2;
}

int iq4_index(float x) {
  const int8_t* v = ggml::kIq4NlValues;
  if (x <= static_cast<float>(v[0])) return 0;
  if (x >= static_cast<float>(v[15])) return 15;
  // v[lo] <= x < v[hi], hi = lo + 1.
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < static_cast<float>(v[mid]))
      hi = mid;
    else
      lo = mid;
  }
  return x - static_cast<float>(v[lo]) < static_cast<float>(v[hi]) - x ? lo : hi;
}

}  // namespace lieq::ggml_detail
