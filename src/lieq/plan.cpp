#include "lieq/plan.h"

#include <algorithm>
#include <cmath>

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

const char* granularity_name(Granularity g) { return g == Granularity::kGroup ? "group" : "layer"; }

bool parse_granularity(const std::string& s, Granularity* out) {
  for (Granularity g : {Granularity::kLayer, Granularity::kGroup})
    if (s == granularity_name(g)) return *out = g, true;
  return false;
}

std::vector<std::vector<double>> Measurements::errors_for(const std::vector<StorageFormat>& want,
                                                          const std::string& source) const {
  std::vector<std::vector<double>> out(error.size());
  for (const StorageFormat& f : want) {
    auto it = std::find(levels.begin(), levels.end(), f);
    check(it != levels.end(), source, ": ", f.name(), " was not measured (measured: ",
          format_names(levels), ")");
    const size_t k = size_t(it - levels.begin());
    for (size_t l = 0; l < error.size(); ++l) out[l].push_back(error[l][k]);
  }
  return out;
}

nlohmann::json measurements_to_json(const Measurements& m) {
  json levels = json::array();
  for (const StorageFormat& f : m.levels) levels.push_back(f.to_json());
  return {{"format", "lieq-measurements"}, {"version", 2},
          {"model", m.model_path},         {"method", m.method},
          {"granularity", granularity_name(m.granularity)},
          {"levels", levels},
          {"calibration", {{"samples", m.calib_samples}, {"seqlen", m.calib_seqlen}}},
          {"seconds", m.seconds},          {"error", m.error}};
}

Measurements read_measurements(const std::filesystem::path& path) {
  return measurements_from_json(read_json_file(path), path.string());
}

Measurements measurements_from_json(const nlohmann::json& j, const std::string& src) {
  Measurements m;
  try {
    if (j.at("format").get<std::string>() != "lieq-measurements")
      fail(src, ": not a lieq measurements file");
    const int version = j.at("version").get<int>();
    check(version == 1 || version == 2, src, ": measurements version ", version, " is not supported");
    m.model_path = j.at("model").get<std::string>();
    m.method = j.at("method").get<std::string>();
    const std::string gran = j.value("granularity", std::string("layer"));
    if (!parse_granularity(gran, &m.granularity))
      fail(src, ": unknown granularity \"", gran, "\" (layer or group)");
    if (version == 1) {  // bit widths of one integer grid
      const QuantSpec g{0, j.at("group_size").get<int>(), j.at("symmetric").get<bool>()};
      m.levels = grid_formats(j.at("levels").get<std::vector<int>>(), g.group_size, g.symmetric);
    } else {
      for (const json& f : j.at("levels")) m.levels.push_back(storage_format_from_json(f, src));
    }
    m.calib_samples = j.at("calibration").at("samples").get<int64_t>();
    m.calib_seqlen = j.at("calibration").at("seqlen").get<int64_t>();
    m.seconds = j.value("seconds", 0.0);
    m.error = j.at("error").get<std::vector<std::vector<double>>>();
  } catch (const json::exception& e) {
    fail(src, ": malformed measurements: ", e.what());
  }
  for (const auto& row : m.error)
    check(row.size() == m.levels.size(), src, ": an error row does not have one value per level");
  return m;
}

const StorageFormat& Plan::format_of(size_t l, Role role) const {
  check(l < layer_formats.size(), "plan: layer ", l, " out of range (", layer_formats.size(), " layers)");
  return per_group() ? group_formats[l][size_t(tensor_group_of(role))] : layer_formats[l];
}

std::vector<QuantSpec> Plan::layer_specs() const {
  std::vector<QuantSpec> s;
  for (const StorageFormat& f : layer_formats) s.push_back(f.spec());
  return s;
}

std::vector<GgmlType> Plan::layer_types() const {
  std::vector<GgmlType> t;
  for (const StorageFormat& f : layer_formats) t.push_back(f.ggml_type());
  return t;
}

void account_plan(Plan& p, const std::vector<LayerShapes>& shapes, int64_t other_params,
                  int64_t other_bits) {
  check(shapes.size() == p.layer_formats.size(), "plan: ", p.layer_formats.size(),
        " layers, model has ", shapes.size());
  p.linear_params = p.linear_bits = 0;
  for (size_t l = 0; l < shapes.size(); ++l) {
    const auto& lin = shapes[l].linears;
    check(!p.per_group() || lin.size() == kLinearRoles.size(), "plan: layer ", l, " has ",
          lin.size(), " linear weights, a per-group plan needs ", kLinearRoles.size());
    for (size_t i = 0; i < lin.size(); ++i) {
      const auto [r, c] = lin[i];
      p.linear_params += r * c;
      p.linear_bits += (p.per_group() ? p.format_of(l, kLinearRoles[i]) : p.layer_formats[l])
                           .storage_bits(r, c);
    }
  }
  p.other_params = other_params;
  p.other_bits = other_bits;
}

std::vector<LayerShapes> allocation_items(const std::vector<LayerShapes>& layers, Granularity g) {
  if (g == Granularity::kLayer) return layers;
  std::vector<LayerShapes> items(layers.size() * kTensorGroups);
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& lin = layers[l].linears;
    check(lin.size() == kLinearRoles.size(), "plan: layer ", l, " has ", lin.size(),
          " linear weights; allocation per tensor group needs ", kLinearRoles.size());
    for (size_t i = 0; i < lin.size(); ++i)
      items[l * kTensorGroups + size_t(tensor_group_of(kLinearRoles[i]))].linears.push_back(lin[i]);
  }
  return items;
}

namespace {
// Per-group item scores from per-layer ones: the promotion order (layers by
// score, stable; a layer's groups in kGroupPromotionOrder) as descending values.
std::vector<double> group_scores(const std::vector<double>& layer_score) {
  std::vector<size_t> order(layer_score.size());
  for (size_t l = 0; l < order.size(); ++l) order[l] = l;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return layer_score[a] > layer_score[b]; });
  std::vector<double> s(layer_score.size() * kTensorGroups);
  double next = double(s.size());
  for (size_t l : order)
    for (int g : kGroupPromotionOrder) s[l * kTensorGroups + size_t(g)] = next--;
  return s;
}

// The group with the most weights of layer l (the per-layer label of a per-group plan).
int largest_group(const LayerShapes& layer) {
  std::array<int64_t, kTensorGroups> n{};
  for (size_t i = 0; i < layer.linears.size() && i < kLinearRoles.size(); ++i)
    n[size_t(tensor_group_of(kLinearRoles[i]))] += layer.linears[i].first * layer.linears[i].second;
  return int(std::max_element(n.begin(), n.end()) - n.begin());
}
}  // namespace

Plan make_plan(const Diagnostics& d, AllocatorKind a, double target_bpw, const std::vector<int>& levels,
               const std::vector<StorageFormat>& formats, const Measurements* m,
               Granularity granularity) {
  check(levels.size() == formats.size(), "plan: ", levels.size(), " level labels for ", formats.size(),
        " storage formats");
  for (size_t k = 1; k < levels.size(); ++k)
    check(levels[k] > levels[k - 1], "plan: levels must be strictly ascending (level ", k, " is ",
          levels[k], " after ", levels[k - 1], ")");
  const bool grouped = granularity == Granularity::kGroup;
  AllocProblem prob;
  prob.layers = allocation_items(d.layer_shapes, granularity);
  prob.levels = formats;
  prob.target_bpw = target_bpw;
  Plan p;
  p.model_path = d.model_path;
  p.architecture = d.architecture;
  p.n_layers = d.n_layers;
  p.allocator = allocator_name(a);
  p.granularity = granularity;
  p.target_bpw = target_bpw;
  p.levels = levels;
  p.formats = formats;
  Allocation alloc;
  switch (a) {
    case AllocatorKind::kUniform:
      // Integer grids: one grid for every layer at the group size that
      // reaches the target (the plan's only level); ggml types: the highest
      // level that fits.
      if (const std::optional<StorageFormat> g = uniform_grid(prob)) {
        prob.levels = {*g};
        p.levels = {g->spec().bits};
        p.formats = prob.levels;
      }
      alloc = allocate_uniform(prob);
      break;
    case AllocatorKind::kMeasured:
      check(m != nullptr, "plan: the measured allocator needs layer measurements");
      check(m->granularity == granularity, "plan: measurements per ", granularity_name(m->granularity),
            " for a plan per ", granularity_name(granularity));
      alloc = allocate_knapsack(prob, m->errors_for(formats, m->model_path));
      break;
    default: {
      std::vector<double> score;
      for (const auto& l : d.layers)
        score.push_back(a == AllocatorKind::kLieq ? l.score : a == AllocatorKind::kLim ? l.lim : l.zd);
      if (a == AllocatorKind::kPositional) score = positional_scores(int(d.n_layers));
      alloc = allocate_by_score(prob, grouped ? group_scores(score) : score);
      p.scores = score;
    }
  }
  for (size_t l = 0; l < size_t(d.n_layers); ++l) {
    if (!grouped) {
      const int k = alloc.level[l];
      p.bits.push_back(p.levels[size_t(k)]);
      p.layer_formats.push_back(p.formats[size_t(k)]);
      continue;
    }
    std::array<int, kTensorGroups> gb{};
    std::array<StorageFormat, kTensorGroups> gf;
    for (size_t g = 0; g < size_t(kTensorGroups); ++g) {
      const int k = alloc.level[l * kTensorGroups + g];
      gb[g] = p.levels[size_t(k)];
      gf[g] = p.formats[size_t(k)];
    }
    const size_t big = size_t(largest_group(d.layer_shapes[l]));
    p.bits.push_back(gb[big]);
    p.layer_formats.push_back(gf[big]);
    p.group_bits.push_back(gb);
    p.group_formats.push_back(gf);
  }
  // A GGUF output picks the embedding's and head's types itself.
  const bool any_ggml = std::any_of(formats.begin(), formats.end(), [](const auto& f) { return f.is_ggml(); });
  account_plan(p, d.layer_shapes, d.other_params, any_ggml ? -1 : d.other_bits);
  return p;
}

namespace {
// The one group size and symmetry of a plan whose levels are all integer
// grids sharing them (written for people reading the file, and read back
// from files that have no "formats"); false otherwise.
bool common_grid(const std::vector<StorageFormat>& formats, QuantSpec* out) {
  if (formats.empty() || !formats[0].is_grid()) return false;
  for (const StorageFormat& f : formats)
    if (!f.is_grid() || f.spec().group_size != formats[0].spec().group_size ||
        f.spec().symmetric != formats[0].spec().symmetric)
      return false;
  *out = formats[0].spec();
  return true;
}

StorageFormat parse_format_name(const json& name, const std::string& where) {
  StorageFormat f;
  const std::string n = name.get<std::string>();
  if (!parse_storage_format(n, &f))
    fail(where, ": unknown storage format \"", n, "\" (a ggml type such as Q4_K, or e.g. \"int4 g128 asym\")");
  return f;
}

// The level formats of a plan file: "formats" (names), else the older keys:
// "ggml_types", else one integer grid from "group_size" and "symmetric".
std::vector<StorageFormat> read_level_formats(const json& j, const std::vector<int>& levels,
                                              const std::string& src) {
  std::vector<StorageFormat> f;
  if (j.contains("formats")) {
    for (const json& n : j.at("formats")) f.push_back(parse_format_name(n, src));
  } else if (j.contains("ggml_types")) {
    for (const auto& name : j.at("ggml_types").get<std::vector<std::string>>()) {
      GgmlType t;
      if (!parse_ggml_type(name, &t)) fail(src, ": unknown ggml type \"", name, "\" in ggml_types");
      f.push_back(StorageFormat::ggml(t));
    }
  } else {
    const int group_size = j.at("group_size").get<int>();
    const bool symmetric = j.value("symmetric", false);
    for (int b : levels) {
      const QuantSpec q{b, group_size, symmetric};
      validate_spec(q, cat(src, ": level ", b));
      f.push_back(StorageFormat::grid(q));
    }
    return f;
  }
  check(f.size() == levels.size(), src, ": ", f.size(), " level formats for ", levels.size(), " levels");
  return f;
}

// A layer's format: its level's, or, in a plan whose levels share one integer
// grid (a person may edit a layer to any width), that grid at its bits.
StorageFormat layer_format_for(int bits, const Plan& p, const std::string& where) {
  const auto it = std::find(p.levels.begin(), p.levels.end(), bits);
  if (it != p.levels.end()) return p.formats[size_t(it - p.levels.begin())];
  QuantSpec grid;
  check(common_grid(p.formats, &grid), where, ": ", bits, " bits is not one of the plan's levels (",
        format_names(p.formats), ")");
  grid.bits = bits;
  validate_spec(grid, where);
  return StorageFormat::grid(grid);
}
}  // namespace

nlohmann::json plan_to_json(const Plan& p) {
  json j;
  j["format"] = "lieq-plan";
  j["version"] = 1;
  j["model"] = {{"path", p.model_path}, {"architecture", p.architecture}, {"num_layers", p.n_layers}};
  j["allocator"] = p.allocator;
  j["granularity"] = granularity_name(p.granularity);
  j["target_bpw"] = p.target_bpw;
  if (p.target_size > 0) j["target_size"] = p.target_size;
  if (!p.embed_type.empty()) j["embed_type"] = p.embed_type;
  if (!p.output_type.empty()) j["output_type"] = p.output_type;
  j["levels"] = p.levels;
  j["formats"] = json::array();
  for (const StorageFormat& f : p.formats) j["formats"].push_back(f.name());
  QuantSpec grid;
  if (common_grid(p.formats, &grid)) {
    j["group_size"] = grid.group_size;
    j["symmetric"] = grid.symmetric;
  }
  j["layers"] = json::array();
  for (size_t l = 0; l < p.bits.size(); ++l) {
    json e = {{"layer", l}, {"bits", p.bits[l]}};
    if (p.per_group()) {
      e["groups"] = json::object();
      for (size_t g = 0; g < size_t(kTensorGroups); ++g)
        e["groups"][kTensorGroupNames[g]] = p.group_bits[l][g];
    }
    if (!p.scores.empty()) e["score"] = p.scores[l];
    j["layers"].push_back(e);
  }
  j["linear_bpw"] = p.linear_bpw();
  if (p.other_known()) j["file_bpw"] = p.file_bpw();
  j["linear_params"] = p.linear_params;
  j["other_params"] = p.other_params;
  if (p.other_known()) j["expected_file_bytes"] = p.expected_file_bytes();
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
    const std::string gran = j.value("granularity", std::string("layer"));
    if (!parse_granularity(gran, &p.granularity))
      fail(src, ": unknown granularity \"", gran, "\" (layer or group)");
    p.target_bpw = j.value("target_bpw", 0.0);
    p.target_size = j.value("target_size", uint64_t{0});
    p.embed_type = j.value("embed_type", std::string());
    p.output_type = j.value("output_type", std::string());
    for (const std::string* t : {&p.embed_type, &p.output_type}) {
      GgmlType g;
      if (!t->empty() && !parse_ggml_type(*t, &g))
        fail(src, ": unknown ggml type \"", *t, "\" for the ", t == &p.embed_type ? "embedding" : "head");
    }
    p.levels = j.value("levels", std::vector<int>{});
    p.formats = read_level_formats(j, p.levels, src);
    const json& layers = j.at("layers");
    if (!layers.is_array()) fail(src, ": \"layers\" must be an array");
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& e = layers[i];
      const int idx = e.at("layer").get<int>();
      if (idx != int(i)) fail(src, ": layers[", i, "] has \"layer\": ", idx, "; entries must be in order 0, 1, ...");
      p.bits.push_back(e.at("bits").get<int>());
      p.layer_formats.push_back(layer_format_for(p.bits.back(), p, cat(src, ": layer ", i)));
      if (p.granularity == Granularity::kGroup) {
        // Every group's label, each a level's (or a width of the plan's common grid).
        const json& groups = e.at("groups");
        if (!groups.is_object() || groups.size() != size_t(kTensorGroups))
          fail(src, ": layer ", i, ": \"groups\" must give the ", kTensorGroups,
               " tensor groups qkv, o, gate_up, down");
        std::array<int, kTensorGroups> gb{};
        std::array<StorageFormat, kTensorGroups> gf;
        for (size_t g = 0; g < size_t(kTensorGroups); ++g) {
          const char* name = kTensorGroupNames[g];
          if (!groups.contains(name)) fail(src, ": layer ", i, ": \"groups\" has no \"", name, "\"");
          gb[g] = groups.at(name).get<int>();
          gf[g] = layer_format_for(gb[g], p, cat(src, ": layer ", i, " group ", name));
        }
        p.group_bits.push_back(gb);
        p.group_formats.push_back(gf);
      }
      if (e.contains("score")) p.scores.push_back(e["score"].get<double>());
    }
  } catch (const json::exception& e) {
    fail(src, ": malformed plan: ", e.what());
  }
  if (p.scores.size() != p.bits.size()) p.scores.clear();
  check(int64_t(p.bits.size()) == p.n_layers, src, ": ", p.bits.size(),
        " layer entries but model.num_layers is ", p.n_layers);
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
