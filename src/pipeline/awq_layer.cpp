#include "pipeline/awq_layer.h"

#include <algorithm>
#include <cmath>

#include "pipeline/layer_pass.h"
#include "util/error.h"
#include "util/half.h"

namespace lieq {

namespace {

// The index of a group's input in projection_groups() (q/k/v, o, gate/up, down).
size_t group_index(Role g) {
  const std::vector<ProjectionGroup>& groups = projection_groups();
  for (size_t i = 0; i < groups.size(); ++i)
    if (groups[i].input == g) return i;
  fail("AWQ: ", int(g), " is not a group input role");
}

// Per group input: sum |x| over every calibration row, and search rows taken
// every `stride`-th row across all samples. Stops the layer after down's input.
class AwqCapture : public LayerObserver {
 public:
  AwqCapture(const ModelConfig& c, int64_t total_rows, int64_t search_rows)
      : stride_(std::max<int64_t>(1, total_rows / search_rows)), search_rows_(search_rows) {
    for (const ProjectionGroup& g : projection_groups()) {
      Stats& s = g_[group_index(g.input)];
      s.n_in = role_shape(g.roles[0], c)[1];
      s.abs_sum.assign(size_t(s.n_in), 0.0);
    }
  }
  void on_linear_input(int, Role group, const float* x, int64_t rows, int64_t cols) override {
    Stats& s = g_[group_index(group)];
    check(cols == s.n_in, "AWQ calibration: unexpected input width");
    for (int64_t r = 0; r < rows; ++r, ++s.seen) {
      const float* xr = x + r * cols;
      for (int64_t j = 0; j < cols; ++j) s.abs_sum[size_t(j)] += std::fabs(double(xr[j]));
      if (s.seen % stride_ == 0 && int64_t(s.kept.size()) < search_rows_ * cols)
        s.kept.insert(s.kept.end(), xr, xr + cols);
    }
  }
  bool stop_after_input(Role group) override { return group == Role::kWdown; }

  std::vector<float> mean_abs(Role group) const {
    const Stats& s = g_[group_index(group)];
    std::vector<float> m(s.abs_sum.size());
    for (size_t j = 0; j < m.size(); ++j)
      m[j] = float(s.abs_sum[j] / double(std::max<int64_t>(s.seen, 1)));
    return m;
  }
  const std::vector<float>& rows(Role group) const { return g_[group_index(group)].kept; }

 private:
  struct Stats {
    int64_t n_in = 0, seen = 0;
    std::vector<double> abs_sum;  // [n_in]
    std::vector<float> kept;      // [kept rows, n_in]
  };
  int64_t stride_, search_rows_;
  Stats g_[4];
};

// Folds s into a stored vector v (norm weight or bias) as v / s rounded to
// `dtype`; returns the effective scales old / rounded that the consumer's
// columns must be scaled by (s where v is 0; 1, v unchanged, where the
// rounded value is 0 or not finite).
std::vector<float> fold_into_stored(Tensor& v, const std::vector<float>& s, DType dtype) {
  std::vector<float> eff(s);
  for (size_t j = 0; j < s.size(); ++j) {
    const float old = v.data[j];
    if (old == 0.0f) continue;
    const float r = round_to_dtype(dtype, old / s[j]);
    const float e = old / r;
    if (r == 0.0f || !std::isfinite(r) || !std::isfinite(e) || !(e > 0.0f)) {
      eff[j] = 1.0f;
      continue;
    }
    v.data[j] = r;
    eff[j] = e;
  }
  return eff;
}

// w [rows, cols]: columns *= s.
void scale_columns(Tensor& w, const std::vector<float>& s) {
  const int64_t rows = w.rows(), cols = w.cols();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w.data[size_t(r * cols + j)] *= s[size_t(j)];
}

// w [rows, cols]: rows /= s.
void divide_rows(Tensor& w, const std::vector<float>& s) {
  const int64_t rows = w.rows(), cols = w.cols();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w.data[size_t(r * cols + j)] /= s[size_t(r)];
}

}  // namespace

bool awq_folds_into(Role role) {
  return role == Role::kAttnNorm || role == Role::kFfnNorm || role == Role::kBv;
}

void set_awq_alphas(const AwqLayer& a, std::vector<TensorReport>& reports) {
  for (const AwqGroupReport& g : a.groups) {
    if (!g.scaled) continue;
    for (TensorReport& tr : reports)
      for (Role r : projection_group(g.group).roles)
        if (tr.name == hf_layer_tensor_name(r, tr.layer)) tr.awq_alpha = g.alpha;
  }
}

float round_to_dtype(DType dtype, float v) {
  switch (dtype) {
    case DType::kF32:
      return v;
    case DType::kBF16:
      return bf16_to_f32(f32_to_bf16(v));
    case DType::kF16:
      return f16_to_f32(f32_to_f16(v));
    default:
      fail("AWQ: cannot store a folded tensor as ", dtype_name(dtype),
           " (F32, F16 or BF16 expected)");
  }
}

AwqLayer awq_scale_layer(Forward& fw, const LayerWeights& w, int l, const float* x, int64_t n_seq,
                         int64_t seqlen, const AwqOptions& awq, int64_t chunk_rows,
                         const std::map<Role, DType>& stored_dtypes,
                         const FakeQuantizerFor& fake_quantizer) {
  check(x != nullptr && n_seq > 0 && seqlen > 0, "AWQ needs calibration data");
  const ModelConfig& c = fw.config();
  const int64_t total_rows = n_seq * seqlen;
  check(awq.search_rows >= 1, "AWQ options: search rows ", awq.search_rows,
        " must be at least 1");
  AwqCapture cap(c, total_rows, awq.search_rows);
  {
    std::vector<float> xc(x, x + total_rows * c.hidden);
    run_layer_chunks(fw, w, l, xc.data(), n_seq, seqlen, chunk_rows, &cap);
  }
  auto dtype_of = [&](Role r) {
    const auto it = stored_dtypes.find(r);
    return it == stored_dtypes.end() ? DType::kF32 : it->second;
  };
  // Searches one group's scales against the float weights w (not the scaled ones).
  auto search = [&](Role group) {
    const std::vector<Role>& roles = projection_group(group).roles;
    std::vector<AwqWeight> ws;
    for (Role r : roles) ws.push_back({w[r].ptr(), w[r].rows(), fake_quantizer(r)});
    const int64_t n_in = w[roles[0]].cols();
    const std::vector<float>& xs = cap.rows(group);
    AwqScaleSearch s = awq_search_scales(ws, n_in, xs.data(), int64_t(xs.size()) / n_in,
                                         cap.mean_abs(group), awq);
    AwqGroupReport rep;
    rep.group = group;
    rep.scaled = true;
    rep.alpha = s.alpha;
    rep.error = s.error;
    rep.error_plain = s.error_plain;
    return std::make_pair(std::move(s.scales), rep);
  };

  AwqLayer out;
  out.scaled = w;
  LayerWeights& sw = out.scaled;
  {  // q/k/v <- attention norm
    auto [s, rep] = search(Role::kWq);
    const std::vector<float> eff =
        fold_into_stored(sw[Role::kAttnNorm], s, dtype_of(Role::kAttnNorm));
    for (Role r : projection_group(Role::kWq).roles) scale_columns(sw[r], eff);
    out.groups.push_back(rep);
  }
  if (c.n_kv_heads == c.n_heads) {  // o <- v rows (and bias)
    auto [s, rep] = search(Role::kWo);
    const std::vector<float> eff =
        sw[Role::kBv].empty() ? s : fold_into_stored(sw[Role::kBv], s, dtype_of(Role::kBv));
    divide_rows(sw[Role::kWv], eff);
    scale_columns(sw[Role::kWo], eff);
    out.groups.push_back(rep);
  } else {
    AwqGroupReport rep;
    rep.group = Role::kWo;
    out.groups.push_back(rep);
  }
  {  // gate/up <- ffn norm
    auto [s, rep] = search(Role::kWgate);
    const std::vector<float> eff =
        fold_into_stored(sw[Role::kFfnNorm], s, dtype_of(Role::kFfnNorm));
    for (Role r : projection_group(Role::kWgate).roles) scale_columns(sw[r], eff);
    out.groups.push_back(rep);
  }
  {  // down <- up rows
    auto [s, rep] = search(Role::kWdown);
    divide_rows(sw[Role::kWup], s);
    scale_columns(sw[Role::kWdown], s);
    out.groups.push_back(rep);
  }
  return out;
}

}  // namespace lieq
