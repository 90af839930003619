#include "lieq/plan.h"

#include <algorithm>
#include <cmath>

#include "quant/ggml_policy.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {

namespace {
constexpr AllocatorKind kAllocators[] = {AllocatorKind::kLieq,       AllocatorKind::kUniform,
                                         AllocatorKind::kPositional, AllocatorKind::kLim,
                                         AllocatorKind::kZd,         AllocatorKind::kMeasured};
}

const char* allocator_name(AllocatorKind a) {
  switch (a) {
    case AllocatorKind::kLieq: return "lieq";
    case AllocatorKind::kUniform: return "uniform";
    case AllocatorKind::kPositional: return "positional";
    case AllocatorKind::kLim: return "lim";
    case AllocatorKind::kZd: return "zd";
    case AllocatorKind::kMeasured: return "measured";
  }
  return "?";
}

bool parse_allocator(const std::string& s, AllocatorKind* out) {
  for (AllocatorKind a : kAllocators)
    if (s == allocator_name(a)) return *out = a, true;
  return false;
}

std::string allocator_names() {
  std::string s;
  for (AllocatorKind a : kAllocators) s += (s.empty() ? "" : ", ") + std::string(allocator_name(a));
  return s;
}

std::vector<std::vector<double>> Measurements::errors_for(const std::vector<int>& want,
                                                          int gs, bool sym,
                                                          const std::string& source) const {
  check(gs == group_size && sym == symmetric, source, ": measured with group size ", group_size,
        symmetric ? " sym" : " asym", ", the plan asks for group size ", gs, sym ? " sym" : " asym");
  std::vector<std::vector<double>> out(error.size());
  for (int b : want) {
    auto it = std::find(levels.begin(), levels.end(), b);
    check(it != levels.end(), source, ": level ", b, " bits was not measured");
    const size_t k = size_t(it - levels.begin());
    for (size_t l = 0; l < error.size(); ++l) out[l].push_back(error[l][k]);
  }
  return out;
}

nlohmann::json measurements_to_json(const Measurements& m) {
  return {{"format", "lieq-measurements"}, {"version", 1},
          {"model", m.model_path},         {"method", m.method},
          {"levels", m.levels},            {"group_size", m.group_size},
          {"symmetric", m.symmetric},      {"calibration", {{"samples", m.calib_samples}, {"seqlen", m.calib_seqlen}}},
          {"seconds", m.seconds},          {"error", m.error}};
}

Measurements read_measurements(const std::filesystem::path& path) {
  const json j = read_json_file(path);
  Measurements m;
  try {
    if (j.at("format").get<std::string>() != "lieq-measurements")
      fail(path.string(), ": not a lieq measurements file");
    m.model_path = j.at("model").get<std::string>();
    m.method = j.at("method").get<std::string>();
    m.levels = j.at("levels").get<std::vector<int>>();
    m.group_size = j.at("group_size").get<int>();
    m.symmetric = j.at("symmetric").get<bool>();
    m.calib_samples = j.at("calibration").at("samples").get<int64_t>();
    m.calib_seqlen = j.at("calibration").at("seqlen").get<int64_t>();
    m.seconds = j.value("seconds", 0.0);
    m.error = j.at("error").get<std::vector<std::vector<double>>>();
  } catch (const json::exception& e) {
    fail(path.string(), ": malformed measurements: ", e.what());
  }
  for (const auto& row : m.error)
    check(row.size() == m.levels.size(), path.string(), ": an error row does not have one value per level");
  return m;
}

std::vector<QuantSpec> Plan::layer_specs() const {
  std::vector<QuantSpec> s;
  for (int b : bits) s.push_back({b, group_size, symmetric});
  return s;
}

std::vector<GgmlType> Plan::layer_types() const {
  check(level_types.size() == levels.size(), "plan: no ggml type for every level");
  std::vector<GgmlType> t;
  for (int b : bits) {
    const auto it = std::find(levels.begin(), levels.end(), b);
    check(it != levels.end(), "plan: ", b, " bits is not one of the plan's levels");
    t.push_back(level_types[size_t(it - levels.begin())]);
  }
  return t;
}

void account_plan(Plan& p, const std::vector<LayerShapes>& shapes, int64_t other_params,
                  int64_t other_bits) {
  check(shapes.size() == p.bits.size(), "plan: ", p.bits.size(), " layers, model has ", shapes.size());
  p.linear_params = p.linear_bits = 0;
  const std::vector<GgmlType> types = p.level_types.empty() ? std::vector<GgmlType>{} : p.layer_types();
  for (size_t l = 0; l < shapes.size(); ++l) {
    const QuantSpec s{p.bits[l], p.group_size, p.symmetric};
    for (const auto& [r, c] : shapes[l].linears) {
      p.linear_params += r * c;
      p.linear_bits += types.empty() ? s.storage_bits(r, c) : ggml_storage_bits(types[l], r, c);
    }
  }
  p.other_params = other_params;
  p.other_bits = other_bits;
}

Plan make_plan(const Diagnostics& d, AllocatorKind a, double target_bpw,
               const std::vector<int>& levels, int group_size, bool symmetric,
               const Measurements* m, const std::vector<GgmlType>& level_types) {
  AllocProblem prob;
  prob.level_types = level_types;
  prob.layers = d.layer_shapes;
  prob.levels = levels;
  prob.group_size = group_size;
  prob.symmetric = symmetric;
  prob.target_bpw = target_bpw;
  Plan p;
  p.model_path = d.model_path;
  p.architecture = d.architecture;
  p.n_layers = d.n_layers;
  p.allocator = allocator_name(a);
  p.target_bpw = target_bpw;
  p.levels = levels;
  p.group_size = group_size;
  p.symmetric = symmetric;
  p.level_types = level_types;
  Allocation alloc;
  switch (a) {
    case AllocatorKind::kUniform:
      alloc = allocate_uniform(prob);
      break;
    case AllocatorKind::kMeasured:
      check(m != nullptr, "plan: the measured allocator needs layer measurements");
      alloc = allocate_knapsack(prob, m->errors_for(levels, group_size, symmetric, m->model_path));
      break;
    default: {
      std::vector<double> score;
      for (const auto& l : d.layers)
        score.push_back(a == AllocatorKind::kLieq ? l.score : a == AllocatorKind::kLim ? l.lim : l.zd);
      if (a == AllocatorKind::kPositional) score = positional_scores(int(d.n_layers));
      alloc = allocate_by_score(prob, score);
      p.scores = score;
    }
  }
  for (int k : alloc.level) p.bits.push_back(levels[size_t(k)]);
  account_plan(p, d.layer_shapes, d.other_params, d.other_bits);
  return p;
}

nlohmann::json plan_to_json(const Plan& p) {
  json j;
  j["format"] = "lieq-plan";
  j["version"] = 1;
  j["model"] = {{"path", p.model_path}, {"architecture", p.architecture}, {"num_layers", p.n_layers}};
  j["allocator"] = p.allocator;
  j["target_bpw"] = p.target_bpw;
  j["levels"] = p.levels;
  j["group_size"] = p.group_size;
  j["symmetric"] = p.symmetric;
  if (!p.level_types.empty()) {
    std::vector<std::string> names;
    for (GgmlType t : p.level_types) names.push_back(ggml_type_name(t));
    j["ggml_types"] = names;
  }
  j["layers"] = json::array();
  for (size_t l = 0; l < p.bits.size(); ++l) {
    json e = {{"layer", l}, {"bits", p.bits[l]}};
    if (!p.scores.empty()) e["score"] = p.scores[l];
    j["layers"].push_back(e);
  }
  j["linear_bpw"] = p.linear_bpw();
  if (p.level_types.empty()) j["file_bpw"] = p.file_bpw();
  j["linear_params"] = p.linear_params;
  j["other_params"] = p.other_params;
  if (p.level_types.empty()) j["expected_file_bytes"] = p.expected_file_bytes();
  return j;
}

Plan read_plan(const std::filesystem::path& path) {
  const json j = read_json_file(path);
  const std::string src = path.string();
  Plan p;
  try {
    if (j.at("format").get<std::string>() != "lieq-plan")
      fail(src, ": not a lieq plan (format is not \"lieq-plan\")");
    if (j.at("version").get<int>() != 1) fail(src, ": plan version ", j.at("version").dump(), " is not supported");
    p.model_path = j.at("model").value("path", std::string());
    p.architecture = j.at("model").value("architecture", std::string());
    p.n_layers = j.at("model").at("num_layers").get<int64_t>();
    p.allocator = j.value("allocator", std::string("manual"));
    p.target_bpw = j.value("target_bpw", 0.0);
    p.levels = j.value("levels", std::vector<int>{});
    p.group_size = j.at("group_size").get<int>();
    p.symmetric = j.value("symmetric", false);
    for (const auto& name : j.value("ggml_types", std::vector<std::string>{})) {
      GgmlType t;
      if (!parse_ggml_type(name, &t)) fail(src, ": unknown ggml type \"", name, "\" in ggml_types");
      p.level_types.push_back(t);
    }
    if (!p.level_types.empty() && p.level_types.size() != p.levels.size())
      fail(src, ": ggml_types has ", p.level_types.size(), " entries for ", p.levels.size(), " levels");
    const json& layers = j.at("layers");
    if (!layers.is_array()) fail(src, ": \"layers\" must be an array");
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& e = layers[i];
      const int idx = e.at("layer").get<int>();
      if (idx != int(i)) fail(src, ": layers[", i, "] has \"layer\": ", idx, "; entries must be in order 0, 1, ...");
      p.bits.push_back(e.at("bits").get<int>());
      if (e.contains("score")) p.scores.push_back(e["score"].get<double>());
    }
  } catch (const json::exception& e) {
    fail(src, ": malformed plan: ", e.what());
  }
  if (p.scores.size() != p.bits.size()) p.scores.clear();
  check(int64_t(p.bits.size()) == p.n_layers, src, ": ", p.bits.size(),
        " layer entries but model.num_layers is ", p.n_layers);
  for (size_t l = 0; l < p.bits.size(); ++l) {
    if (p.level_types.empty())
      validate_spec({p.bits[l], p.group_size, p.symmetric}, cat(src, ": layer ", l));
    else
      check(std::find(p.levels.begin(), p.levels.end(), p.bits[l]) != p.levels.end(), src,
            ": layer ", l, " has ", p.bits[l], " bits, not one of the levels with a ggml type");
  }
  return p;
}

void validate_plan_for_model(const Plan& p, const ModelConfig& c, const std::string& source) {
  check(p.n_layers == c.n_layers, source, ": the plan has ", p.n_layers,
        " layers but the model has ", c.n_layers);
  if (!p.architecture.empty())
    check(p.architecture == c.architecture, source, ": the plan was made for ", p.architecture,
          ", the model is ", c.architecture);
}

}  // namespace lieq
