#include "jobs/quantize.h"

#include <array>
#include <chrono>
#include <map>

#include "eval/perplexity.h"
#include "format/ggml_policy.h"
#include "io/gguf.h"
#include "io/imatrix.h"
#include "io/quant_manifest.h"
#include "model/load.h"
#include "model/reader.h"
#include "pipeline/gguf_export.h"
#include "pipeline/quantize.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq::jobs {
namespace {
namespace fs = std::filesystem;

// Each layer's format and the width it was given; a per-group plan's the
// same per tensor group.
struct LayerFormats {
  std::vector<StorageFormat> formats;
  std::vector<int> bits;
  std::vector<std::array<StorageFormat, kTensorGroups>> group_formats;
  std::vector<std::array<int, kTensorGroups>> group_bits;
  std::string mode;
  std::optional<GgmlType> embed_type, output_type;  // a size target's
  void take(const Plan& p) {
    formats = p.layer_formats, bits = p.bits;
    group_formats = p.group_formats, group_bits = p.group_bits;
    GgmlType t;
    if (parse_ggml_type(p.embed_type, &t)) embed_type = t;
    if (parse_ggml_type(p.output_type, &t)) output_type = t;
  }
};

LayerFormats layer_formats(const QuantizeRequest& r, const ModelConfig& c,
                           const ArtifactCache& cache, QuantizeOptions& opt) {
  LayerFormats lf;
  if (!r.plan_file.empty()) {
    const Plan p = read_plan(r.plan_file);
    validate_plan_for_model(p, c, r.plan_file);
    lf.take(p);
    opt.extra_files["plan.json"] = read_text_file(r.plan_file);
    lf.mode = "plan " + r.plan_file;
  } else if (r.one_shot) {
    // Diagnose and plan first, kept in OUT.stages (a rerun with the same
    // settings resumes from them) and saved next to the quantized weights.
    const fs::path stages = stages_dir_for(r.out);
    cache.note()(cat("[1/3] diagnose, [2/3] plan (", allocator_name(r.one_shot->plan.allocator),
                     ", target ", r.one_shot->plan.target_bpw, " bpw) in ", stages.string()));
    const PlannedModel pm =
        diagnose_and_plan(r.one_shot->diagnose, r.one_shot->plan, stages, cache);
    if (r.on_plan) r.on_plan(pm.plan);
    lf.take(pm.plan);
    opt.extra_files["diagnostics.json"] = diagnostics_to_json(pm.diagnostics).dump(1) + "\n";
    opt.extra_files["diagnostics.svg"] = diagnostics_chart_svg(pm.diagnostics);
    opt.extra_files["plan.json"] = plan_to_json(pm.plan).dump(1) + "\n";
    lf.mode = cat("plan ", pm.plan.allocator, " at ", pm.plan.target_bpw, " bpw");
    cache.note()("[3/3] quantize");
  } else {
    validate_spec(r.uniform, "--bits/--group-size");
    lf.formats.assign(size_t(c.n_layers), StorageFormat::grid(r.uniform));
    lf.bits.assign(size_t(c.n_layers), r.uniform.bits);
    lf.mode = r.uniform.name();
  }
  return lf;
}

// A planned format in the output: a GGUF file stores ggml types (an
// integer-grid level's bits map through the type map), a lieq directory
// integer grids.
StorageFormat output_format(const StorageFormat& f, int bits, bool gguf, const GgmlTypeMap& map,
                            const std::string& where) {
  if (f.is_ggml() && !gguf)
    fail(where, " is planned as ", f.name(), ", a ggml type: write a .gguf file, or plan without --gguf");
  if (f.is_ggml() || !gguf) return f;
  return ggml_format_for_bits(map, bits);
}

struct OutputFormats {
  std::vector<StorageFormat> layers;
  std::vector<std::array<StorageFormat, kTensorGroups>> groups;  // per-group plans
};

OutputFormats output_formats(const LayerFormats& lf, bool gguf, const std::string& gguf_types) {
  const GgmlTypeMap map = parse_ggml_type_map(gguf_types);
  OutputFormats out;
  for (size_t l = 0; l < lf.formats.size(); ++l)
    out.layers.push_back(output_format(lf.formats[l], lf.bits[l], gguf, map, cat("layer ", l)));
  for (size_t l = 0; l < lf.group_formats.size(); ++l) {
    std::array<StorageFormat, kTensorGroups> g;
    for (size_t i = 0; i < g.size(); ++i)
      g[i] = output_format(lf.group_formats[l][i], lf.group_bits[l][i], gguf, map,
                           cat("layer ", l, " group ", kTensorGroupNames[i]));
    out.groups.push_back(g);
  }
  return out;
}

// Every linear's format by tensor name (GGUF or HF naming) where a per-group
// plan sets it.
template <class T, class F>
std::map<std::string, T> group_overrides(const OutputFormats& f, const ModelConfig& c, bool gguf,
                                         F value) {
  std::map<std::string, T> out;
  for (size_t l = 0; l < f.groups.size(); ++l)
    for (Role role : kLinearRoles)
      if (role_present(role, c))
        out[gguf ? gguf_layer_tensor_name(role, int(l)) : hf_layer_tensor_name(role, int(l))] =
            value(f.groups[l][size_t(tensor_group_of(role))]);
  return out;
}

QuantizeReport write_gguf(const QuantizeRequest& r, ModelReader& reader, const CalibSet* calib,
                          const QuantizeOptions& opt, const OutputFormats& formats,
                          const LayerFormats& lf, std::string& mode) {
  GgufExportOptions go;
  go.base = opt;
  for (const StorageFormat& f : formats.layers) go.layer_types.push_back(f.ggml_type());
  go.tensor_types = group_overrides<GgmlType>(formats, reader.config(), true,
                                              [](const StorageFormat& f) { return f.ggml_type(); });
  go.embed_type = r.embed_type ? *r.embed_type : lf.embed_type.value_or(GgmlType::Q4_K);
  go.output_type = r.output_type ? *r.output_type : lf.output_type.value_or(GgmlType::Q6_K);
  go.importance = r.importance;
  if (!r.imatrix_file.empty()) go.imatrix = read_imatrix(r.imatrix_file);
  if (!r.types_from.empty()) {
    // Every quantized tensor's type as in another GGUF file of the same model.
    const GgufReader ref(r.types_from);
    for (const GgufTensorInfo& t : ref.tensors())
      if (t.shape.size() == 2 && t.type != GgmlType::F32) go.tensor_types[t.name] = t.type;
    mode += " with the tensor types of " + r.types_from;
  }
  go.name = fs::path(r.model).filename().string();
  const Tokenizer tok = Tokenizer::load(r.model);
  QuantizeReport rep = export_gguf(reader, tok, calib, go, r.out);
  std::map<std::string, int> n_of;
  for (GgmlType t : go.layer_types) ++n_of[ggml_type_name(t)];
  std::string types;
  for (const auto& [t, n] : n_of) types += cat(types.empty() ? "" : ", ", n, " layers ", t);
  if (!go.tensor_types.empty()) {
    // Per-tensor types (a per-group plan, --types-from): the count of each.
    n_of.clear();
    for (const auto& [name, t] : go.tensor_types) ++n_of[ggml_type_name(t)];
    types.clear();
    for (const auto& [t, n] : n_of) types += cat(types.empty() ? "" : ", ", n, " tensors ", t);
  }
  if (r.plan_file.empty() && !r.one_shot) mode = "uniform";
  mode += " -> GGUF: " + types;
  return rep;
}

std::vector<PplRow> ppl_before_after(const std::string& fp_dir, const std::string& q_dir,
                                     const std::vector<std::string>& files, int64_t max_windows) {
  std::vector<PplRow> rows;
  if (files.empty()) return rows;
  const Model fp = load_model(fp_dir), q = load_model(q_dir);
  const Tokenizer tok = load_tokenizer(fp);
  PplOptions po;
  po.max_windows = max_windows;
  for (const auto& f : files) {
    const std::string text = read_text_file(f);
    rows.push_back({f, perplexity(fp, tok, text, po).ppl, perplexity(q, tok, text, po).ppl});
  }
  return rows;
}
}  // namespace

bool is_gguf_path(const std::string& p) {
  return p.size() > 5 && p.compare(p.size() - 5, 5, ".gguf") == 0;
}

QuantizeOutcome run_quantize(const QuantizeRequest& r, const ArtifactCache& cache) {
  const auto t_start = std::chrono::steady_clock::now();
  QuantizeOptions opt;
  opt.method = r.method;
  if (opt.method != QuantMethod::kRtn && r.calib.file.empty())
    fail("--calib: ", opt.method == QuantMethod::kAwq ? "AWQ" : "GPTQ",
         " needs a calibration text file");
  for (const auto& f : r.eval_data) (void)read_text_file(f);  // fail early on a bad path
  if (!r.imatrix_file.empty()) {
    check(is_gguf_path(r.out), "--imatrix: llama.cpp's importance matrix weighs ggml types; write a .gguf file");
    check(r.method == QuantMethod::kRtn, "--imatrix: needs --method rtn (GPTQ and AWQ use the calibration's Hessian)");
  }
  ModelReader reader(r.model);
  if (reader.quantized())
    fail(r.model, ": is already a lieq quantized model (", kQuantManifestFile,
         "); quantize the original model instead");
  const ModelConfig& c = reader.config();
  opt.gptq = r.gptq;
  opt.gptq.rtn.mse_clip = r.mse_clip;
  opt.rtn.mse_clip = r.mse_clip;
  const LayerFormats lf = layer_formats(r, c, cache, opt);
  const OutputFormats formats = output_formats(lf, is_gguf_path(r.out), r.gguf_types);
  CalibSet calib;
  if (!r.calib.file.empty()) calib = load_calibration(r.model, r.calib, c.max_position_embeddings);
  const CalibSet* calib_ptr = r.calib.file.empty() ? nullptr : &calib;
  QuantizeOutcome o;
  o.mode = lf.mode;
  if (is_gguf_path(r.out)) {
    o.report = write_gguf(r, reader, calib_ptr, opt, formats, lf, o.mode);
  } else {
    for (const StorageFormat& f : formats.layers) opt.layer_specs.push_back(f.spec());
    opt.tensor_specs = group_overrides<QuantSpec>(formats, c, false,
                                                  [](const StorageFormat& f) { return f.spec(); });
    o.report = quantize_model(reader, calib_ptr, opt, r.out);
  }
  o.ppl = ppl_before_after(r.model, r.out, r.eval_data, r.eval_windows);
  o.total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return o;
}

}  // namespace lieq::jobs
