#include "lieq/diagnose.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>

#include "eval/windows.h"
#include "lieq/metrics.h"
#include "model/forward.h"
#include "model/random_init.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/progress.h"

namespace lieq {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Gram matrices of the q, k, v projection outputs of every layer (rows
// centred and L2-normalised, as RC is defined).
class ProjectionGrams : public LayerObserver {
 public:
  explicit ProjectionGrams(const ModelConfig& c) {
    for (int64_t l = 0; l < c.n_layers; ++l) {
      q_.emplace_back(std::make_unique<GramAccumulator>(c.q_dim(), true));
      k_.emplace_back(std::make_unique<GramAccumulator>(c.kv_dim(), true));
      v_.emplace_back(std::make_unique<GramAccumulator>(c.kv_dim(), true));
    }
  }
  void on_projection_output(int layer, Role role, const float* y, int64_t rows,
                            int64_t) override {
    auto& acc = role == Role::kWq ? q_ : role == Role::kWk ? k_ : v_;
    acc[size_t(layer)]->add(y, rows);
  }
  // RC of layer l's projection: 0 = q, 1 = k, 2 = v.
  double rc(int64_t layer, int which) const {
    const auto& acc = which == 0 ? q_ : which == 1 ? k_ : v_;
    const GramAccumulator& g = *acc[size_t(layer)];
    return representational_compactness(symmetric_eigenvalues(g.gram(), g.dim()));
  }

 private:
  std::vector<std::unique_ptr<GramAccumulator>> q_, k_, v_;
};

// The config with a single layer (for per-layer accumulators).
ModelConfig one_layer(const ModelConfig& c) {
  ModelConfig c1 = c;
  c1.n_layers = 1;
  return c1;
}

// Forwards projection outputs of whatever layer runs as layer 0's.
class LayerAs0 : public LayerObserver {
 public:
  explicit LayerAs0(LayerObserver& inner) : inner_(inner) {}
  void on_projection_output(int, Role role, const float* y, int64_t rows, int64_t cols) override {
    inner_.on_projection_output(0, role, y, rows, cols);
  }

 private:
  LayerObserver& inner_;
};

// Sum of next-token NLL over the samples of a chunk: x_normed [n * seqlen, hidden].
double chunk_nll(Forward& fw, const ModelWeights& w, const float* x_normed, const int32_t* tokens,
                 int64_t n, int64_t seqlen) {
  double nll = 0;
  const int64_t vocab = fw.config().vocab, d = fw.config().hidden;
  for (int64_t s = 0; s < n; ++s) {
    const int32_t* t = tokens + s * seqlen;
    for_each_logits_row(fw, w, x_normed + s * seqlen * d, seqlen - 1,
                        [&](int64_t r, const float* logits) {
                          nll += log_sum_exp(logits, vocab) - double(logits[t[r + 1]]);
                        });
  }
  return nll;
}


}  // namespace

void describe_model(const ModelReader& reader, Diagnostics& d) {
  const ModelConfig& c = reader.config();
  d.model_path = reader.dir().string();
  d.architecture = c.architecture;
  d.n_layers = c.n_layers;
  d.hidden = c.hidden;
  d.layer_shapes.assign(size_t(c.n_layers), {});
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (Role r : kLinearRoles) {
      const auto s = role_shape(r, c);
      d.layer_shapes[size_t(l)].linears.push_back({s[0], s[1]});
    }
  d.other_params = 0;
  d.other_bits = 0;
  auto add = [&](const std::string& name) {
    const TensorView& t = reader.store().get(name);
    d.other_params += t.numel();
    d.other_bits += int64_t(t.nbytes) * 8;
  };
  add(kHfEmbedding);
  add(kHfFinalNorm);
  if (!c.tie_word_embeddings) add(kHfLmHead);
  for (int l = 0; l < int(c.n_layers); ++l)
    for (const RoleSpec& r : role_table())
      if (role_present(r.role, c) && !r.is_linear) add(hf_layer_tensor_name(r.role, l));
}

Diagnostics diagnose(ModelReader& reader, const CalibSet& calib, const DiagnoseOptions& opt) {
  const auto t_start = Clock::now();
  Diagnostics d;
  describe_model(reader, d);
  // Inference only: BF16/F16 matrices stay 16-bit (half the memory; the
  // products convert them on the fly, numerics as float32's up to order).
  LoadOptions keep;
  keep.keep_16bit = true;
  ModelReader reader16(reader.dir(), keep);
  const ModelWeights w = reader16.load_all();
  d.seconds["load"] = since(t_start);
  diagnose_weights(reader.config(), w, calib, opt, d);
  d.seconds["total"] = since(t_start);
  return d;
}

namespace {
// The options and calibration the diagnostics were made with.
void record_settings(const ModelConfig& c, const CalibSet& calib, const DiagnoseOptions& opt, Diagnostics& d) {
  check(calib.n_samples > 0 && calib.seqlen > 1, "diagnose: empty calibration set");
  d.calib_samples = calib.n_samples;
  d.calib_seqlen = calib.seqlen;
  d.w_dppl = opt.w_dppl;
  d.w_rc = opt.w_rc;
  d.w_teg = opt.w_teg;
  d.normalisation = opt.normalisation;
  d.teg_magnitude = opt.teg_magnitude;
  d.random_reference = opt.random_reference;
  d.random_seed = opt.random_seed;
  d.energy_k = opt.energy_k > 0 ? std::min(opt.energy_k, c.hidden) : default_energy_k(c.hidden);
}

// ZD of a layer's linear weights, on float32 matrices (16-bit ones converted
// for the moment).
double layer_zd(const LayerWeights& lw) {
  std::vector<std::vector<float>> converted;
  converted.reserve(kLinearRoles.size());
  std::vector<const std::vector<float>*> mats;
  for (Role r : kLinearRoles) {
    const Tensor& t = lw[r];
    if (!t.is_16bit()) {
      mats.push_back(&t.data);
      continue;
    }
    converted.emplace_back(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.rows(); ++i) tensor_row_to_f32(t, i, converted.back().data() + i * t.cols());
    mats.push_back(&converted.back());
  }
  return zd_score(mats);
}
// Per layer: the perplexity drop from the bypassed NLL, LIM from its sum over
// rows, and ZD from the weights.
void per_layer_numbers(const ModelWeights& w, const std::vector<double>& nll_bypass,
                       const std::vector<double>& lim_sum, double n_pred, double rows, Diagnostics& d) {
  for (size_t l = 0; l < d.layers.size(); ++l) {
    LayerDiagnostics& ld = d.layers[l];
    ld.ppl_bypassed = std::exp(nll_bypass[l] / n_pred);
    ld.dppl = (ld.ppl_bypassed - d.base_ppl) / d.base_ppl;
    ld.lim = lim_sum[l] / rows;
    ld.zd = layer_zd(w.layers[l]);
  }
}
}  // namespace

void diagnose_weights(const ModelConfig& c, const ModelWeights& w, const CalibSet& calib,
                      const DiagnoseOptions& opt, Diagnostics& d) {
  record_settings(c, calib, opt, d);
  const int64_t L = c.n_layers, D = c.hidden, T = calib.seqlen;
  auto t0 = Clock::now();

  // Layer by layer over all samples, in chunks of whole samples: the hidden
  // states entering layer l (x, [R, D]) become those entering l + 1; layer l's
  // Gram matrices are reduced to its numbers at once, so one layer's exist at
  // a time (all layers' together were 7.4 GB at Qwen3-4B's shape).
  Forward fw(c);
  const ModelConfig c1 = one_layer(c);  // Gram accumulators for one layer
  std::vector<double> lim_sum(size_t(L), 0.0), nll_bypass(size_t(L), 0.0);
  const int64_t per = std::max<int64_t>(1, opt.chunk_rows / T);
  const int64_t n_chunks = (calib.n_samples + per - 1) / per;
  auto chunks = [&](const std::function<void(int64_t s0, int64_t n)>& f) {
    for (int64_t ci = 0; ci < n_chunks; ++ci)
      f(ci * per, std::min(per, calib.n_samples - ci * per));
  };
  const int64_t R = calib.rows();
  std::vector<float> x(static_cast<size_t>(R * D)), x_next, y;  // [R, D]
  chunks([&](int64_t s0, int64_t n) {
    fw.embed(w, calib.tokens.data() + s0 * T, n * T, x.data() + s0 * T * D);
  });
  // Top-k energy share of hidden states h [R, D].
  auto share_of = [&](const std::vector<float>& h) {
    GramAccumulator g(D, false);
    chunks([&](int64_t s0, int64_t n) { g.add(h.data() + s0 * T * D, n * T); });
    return top_k_energy_share(symmetric_eigenvalues(g.gram(), g.dim()), d.energy_k);
  };
  // Summed next-token NLL of hidden states h [R, D] (final-normed in place).
  auto nll_of = [&](std::vector<float>& h) {
    double nll = 0;
    chunks([&](int64_t s0, int64_t n) {
      float* hc = h.data() + s0 * T * D;
      fw.final_norm(w, hc, n * T);
      nll += chunk_nll(fw, w, hc, calib.tokens.data() + s0 * T, n, T);
    });
    return nll;
  };
  d.layers.resize(size_t(L));
  double t_base = 0, t_bypass = 0;
  double share_in = share_of(x);
  Progress bar("diagnose", L, opt.progress);
  for (int64_t l = 0; l < L; ++l) {
    LayerDiagnostics& ld = d.layers[size_t(l)];
    ld.layer = int(l);
    // Layer l bypassed: its input goes straight to layer l + 1.
    t0 = Clock::now();
    y = x;
    for (int64_t k = l + 1; k < L; ++k)
      chunks([&](int64_t s0, int64_t n) {
        fw.layer(w.layers[size_t(k)], int(k), y.data() + s0 * T * D, n, T, 0);
      });
    nll_bypass[size_t(l)] = nll_of(y);
    t_bypass += since(t0);
    // The base pass through layer l: its projections' spectra, LIM, energy.
    t0 = Clock::now();
    x_next = x;
    ProjectionGrams grams(c1);
    LayerAs0 as0(grams);
    chunks([&](int64_t s0, int64_t n) {
      const int64_t off = s0 * T * D;
      fw.layer(w.layers[size_t(l)], int(l), x_next.data() + off, n, T, 0, nullptr, &as0);
      lim_sum[size_t(l)] += lim_score(x.data() + off, x_next.data() + off, n * T, D) * double(n * T);
    });
    ld.rc_q = grams.rc(0, 0);
    ld.rc_k = grams.rc(0, 1);
    ld.rc_v = grams.rc(0, 2);
    ld.rc_trained = (ld.rc_q + ld.rc_k + ld.rc_v) / 3.0;
    const double share_out = share_of(x_next);
    ld.energy_in = share_in;
    ld.energy_out = share_out;
    ld.teg = share_out - share_in;
    share_in = share_out;
    x.swap(x_next);
    t_base += since(t0);
    bar.update(l + 1);
  }
  bar.finish();
  const double nll_base = nll_of(x);
  std::vector<float>().swap(x);
  std::vector<float>().swap(x_next);
  std::vector<float>().swap(y);
  d.seconds["base_pass"] = t_base;
  d.seconds["bypass_passes"] = t_bypass;
  const double n_pred = double(calib.n_samples * (T - 1));
  d.base_ppl = std::exp(nll_base / n_pred);

  // Per layer: the perplexity drop, LIM, and ZD from the weights.
  t0 = Clock::now();
  per_layer_numbers(w, nll_bypass, lim_sum, n_pred, double(calib.rows()), d);
  d.seconds["spectra"] = since(t0);

  // The random reference: same config, seeded init, same tokens, the same
  // layer-by-layer walk (each random layer generated once: the whole random
  // model, 16 GB in float32 at Qwen3-4B's shape, is never held).
  if (opt.random_reference) {
    t0 = Clock::now();
    x.resize(static_cast<size_t>(R * D));
    random_embedding_rows(c, opt.random_seed, calib.tokens.data(), R, x.data());
    share_in = share_of(x);
    for (int64_t l = 0; l < L; ++l) {
      const LayerWeights rl = random_layer(c, opt.random_seed, int(l));
      ProjectionGrams rgrams(c1);
      LayerAs0 as0(rgrams);
      chunks([&](int64_t s0, int64_t n) {
        fw.layer(rl, int(l), x.data() + s0 * T * D, n, T, 0, nullptr, &as0);
      });
      const double share_out = share_of(x);
      LayerDiagnostics& ld = d.layers[size_t(l)];
      ld.rc_random = (rgrams.rc(0, 0) + rgrams.rc(0, 1) + rgrams.rc(0, 2)) / 3.0;
      ld.teg_random = share_out - share_in;
      share_in = share_out;
    }
    d.seconds["random_reference"] = since(t0);
  }
  for (auto& ld : d.layers) ld.rc = ld.rc_trained - (opt.random_reference ? ld.rc_random : 0.0);
  score_layers(d);
}

void score_layers(Diagnostics& d) {
  std::vector<double> a, b, c;
  for (const auto& l : d.layers)
    a.push_back(l.dppl), b.push_back(l.rc), c.push_back(d.teg_magnitude ? std::abs(l.teg) : l.teg);
  check(d.normalisation == "minmax" || d.normalisation == "rank", "unknown score normalisation \"",
        d.normalisation, "\" (minmax, rank)");
  const auto norm = d.normalisation == "rank" ? rank_normalise : min_max_normalise;
  const auto na = norm(a), nb = norm(b), nc = norm(c);
  for (size_t i = 0; i < d.layers.size(); ++i)
    d.layers[i].score = d.w_dppl * na[i] + d.w_rc * nb[i] + d.w_teg * nc[i];
  std::vector<size_t> order(d.layers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return d.layers[x].score > d.layers[y].score; });
  for (size_t r = 0; r < order.size(); ++r) d.layers[order[r]].rank = int(r + 1);
}

nlohmann::json diagnostics_to_json(const Diagnostics& d) {
  json j;
  j["format"] = "lieq-diagnostics";
  j["version"] = 1;
  j["model"] = {{"path", d.model_path},       {"architecture", d.architecture},
                {"num_layers", d.n_layers},   {"hidden_size", d.hidden},
                {"other_params", d.other_params}, {"other_bits", d.other_bits}};
  j["model"]["layer_linear_shapes"] = json::array();
  for (const auto& ls : d.layer_shapes) {
    json shapes = json::array();
    for (const auto& [r, cc] : ls.linears) shapes.push_back({r, cc});
    j["model"]["layer_linear_shapes"].push_back(shapes);
  }
  j["calibration"] = {{"source", d.calib_source}, {"samples", d.calib_samples}, {"seqlen", d.calib_seqlen}};
  j["settings"] = {{"energy_k", d.energy_k},
                   {"weights", {{"dppl", d.w_dppl}, {"rc", d.w_rc}, {"teg", d.w_teg}}},
                   {"normalisation", d.normalisation},
                   {"teg_magnitude", d.teg_magnitude},
                   {"random_reference", d.random_reference},
                   {"random_seed", d.random_seed}};
  j["base_ppl"] = d.base_ppl;
  j["seconds"] = d.seconds;
  j["layers"] = json::array();
  for (const auto& l : d.layers)
    j["layers"].push_back({{"layer", l.layer},
                           {"dppl", l.dppl},
                           {"ppl_bypassed", l.ppl_bypassed},
                           {"rc", l.rc},
                           {"rc_trained", l.rc_trained},
                           {"rc_random", l.rc_random},
                           {"rc_q", l.rc_q},
                           {"rc_k", l.rc_k},
                           {"rc_v", l.rc_v},
                           {"teg", l.teg},
                           {"teg_random", l.teg_random},
                           {"energy_in", l.energy_in},
                           {"energy_out", l.energy_out},
                           {"lim", l.lim},
                           {"zd", l.zd},
                           {"score", l.score},
                           {"rank", l.rank}});
  return j;
}

Diagnostics diagnostics_from_json(const json& j, const std::string& src) {
  Diagnostics d;
  try {
    if (j.at("format").get<std::string>() != "lieq-diagnostics")
      fail(src, ": not a lieq diagnostics file (format is not \"lieq-diagnostics\")");
    const json& m = j.at("model");
    d.model_path = m.at("path").get<std::string>();
    d.architecture = m.at("architecture").get<std::string>();
    d.n_layers = m.at("num_layers").get<int64_t>();
    d.hidden = m.at("hidden_size").get<int64_t>();
    d.other_params = m.at("other_params").get<int64_t>();
    d.other_bits = m.at("other_bits").get<int64_t>();
    for (const auto& shapes : m.at("layer_linear_shapes")) {
      LayerShapes ls;
      for (const auto& s : shapes) ls.linears.push_back({s.at(0).get<int64_t>(), s.at(1).get<int64_t>()});
      d.layer_shapes.push_back(ls);
    }
    const json& cal = j.at("calibration");
    d.calib_source = cal.at("source").get<std::string>();
    d.calib_samples = cal.at("samples").get<int64_t>();
    d.calib_seqlen = cal.at("seqlen").get<int64_t>();
    const json& st = j.at("settings");
    d.energy_k = st.at("energy_k").get<int64_t>();
    d.w_dppl = st.at("weights").at("dppl").get<double>();
    d.w_rc = st.at("weights").at("rc").get<double>();
    d.w_teg = st.at("weights").at("teg").get<double>();
    d.normalisation = st.value("normalisation", std::string("minmax"));
    d.teg_magnitude = st.value("teg_magnitude", false);
    d.random_reference = st.at("random_reference").get<bool>();
    d.random_seed = st.at("random_seed").get<uint64_t>();
    d.base_ppl = j.at("base_ppl").get<double>();
    for (const auto& l : j.at("layers")) {
      LayerDiagnostics ld;
      ld.layer = l.at("layer").get<int>();
      ld.dppl = l.at("dppl").get<double>();
      ld.ppl_bypassed = l.at("ppl_bypassed").get<double>();
      ld.rc = l.at("rc").get<double>();
      ld.rc_trained = l.at("rc_trained").get<double>();
      ld.rc_random = l.at("rc_random").get<double>();
      ld.rc_q = l.at("rc_q").get<double>();
      ld.rc_k = l.at("rc_k").get<double>();
      ld.rc_v = l.at("rc_v").get<double>();
      ld.teg = l.at("teg").get<double>();
      ld.teg_random = l.at("teg_random").get<double>();
      ld.energy_in = l.at("energy_in").get<double>();
      ld.energy_out = l.at("energy_out").get<double>();
      ld.lim = l.at("lim").get<double>();
      ld.zd = l.at("zd").get<double>();
      ld.score = l.at("score").get<double>();
      ld.rank = l.at("rank").get<int>();
      d.layers.push_back(ld);
    }
    if (j.contains("seconds")) d.seconds = j["seconds"].get<std::map<std::string, double>>();
  } catch (const json::exception& e) {
    fail(src, ": malformed diagnostics: ", e.what());
  }
  check(int64_t(d.layers.size()) == d.n_layers && int64_t(d.layer_shapes.size()) == d.n_layers,
        src, ": ", d.layers.size(), " layer entries for num_layers = ", d.n_layers);
  for (size_t i = 0; i < d.layers.size(); ++i)
    check(d.layers[i].layer == int(i), src, ": layer entries out of order at index ", i);
  return d;
}

Diagnostics read_diagnostics(const std::filesystem::path& path) {
  return diagnostics_from_json(read_json_file(path), path.string());
}

}  // namespace lieq
