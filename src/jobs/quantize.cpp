#include "jobs/quantize.h"

#include <chrono>
#include <map>

#include "eval/perplexity.h"
#include "format/ggml_policy.h"
#include "io/gguf.h"
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

// Each layer's format and the width it was given.
struct LayerFormats {
  std::vector<StorageFormat> formats;
  std::vector<int> bits;
  std::string mode;
};

LayerFormats layer_formats(const QuantizeRequest& r, const ModelConfig& c,
                           const ArtifactCache& cache, QuantizeOptions& opt) {
  LayerFormats lf;
  if (!r.plan_file.empty()) {
    const Plan p = read_plan(r.plan_file);
    validate_plan_for_model(p, c, r.plan_file);
    lf.formats = p.layer_formats, lf.bits = p.bits;
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
    lf.formats = pm.plan.layer_formats, lf.bits = pm.plan.bits;
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

// Each layer's format in the output: a GGUF file stores ggml types (an
// integer-grid layer's bits map through the type map), a lieq directory
// integer grids.
std::vector<StorageFormat> output_formats(const LayerFormats& lf, bool gguf,
                                          const std::string& gguf_types) {
  const GgmlTypeMap map = parse_ggml_type_map(gguf_types);
  std::vector<StorageFormat> out;
  for (size_t l = 0; l < lf.formats.size(); ++l) {
    const StorageFormat& f = lf.formats[l];
    if (f.is_ggml() && !gguf)
      fail("layer ", l, " is planned as ", f.name(),
           ", a ggml type: write a .gguf file, or plan without --gguf");
    if (f.is_ggml() || !gguf) {
      out.push_back(f);
      continue;
    }
    out.push_back(ggml_format_for_bits(map, lf.bits[l]));
  }
  return out;
}

QuantizeReport write_gguf(const QuantizeRequest& r, ModelReader& reader, const CalibSet* calib,
                          const QuantizeOptions& opt, const std::vector<StorageFormat>& formats,
                          std::string& mode) {
  GgufExportOptions go;
  go.base = opt;
  for (const StorageFormat& f : formats) go.layer_types.push_back(f.ggml_type());
  go.embed_type = r.embed_type;
  go.output_type = r.output_type;
  go.importance = r.importance;
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
  ModelReader reader(r.model);
  if (reader.quantized())
    fail(r.model, ": is already a lieq quantized model (", kQuantManifestFile,
         "); quantize the original model instead");
  const ModelConfig& c = reader.config();
  opt.gptq = r.gptq;
  opt.gptq.rtn.mse_clip = r.mse_clip;
  opt.rtn.mse_clip = r.mse_clip;
  const LayerFormats lf = layer_formats(r, c, cache, opt);
  const std::vector<StorageFormat> formats = output_formats(lf, is_gguf_path(r.out), r.gguf_types);
  CalibSet calib;
  if (!r.calib.file.empty()) calib = load_calibration(r.model, r.calib, c.max_position_embeddings);
  const CalibSet* calib_ptr = r.calib.file.empty() ? nullptr : &calib;
  QuantizeOutcome o;
  o.mode = lf.mode;
  if (is_gguf_path(r.out)) {
    o.report = write_gguf(r, reader, calib_ptr, opt, formats, o.mode);
  } else {
    for (const StorageFormat& f : formats) opt.layer_specs.push_back(f.spec());
    o.report = quantize_model(reader, calib_ptr, opt, r.out);
  }
  o.ppl = ppl_before_after(r.model, r.out, r.eval_data, r.eval_windows);
  o.total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return o;
}

}  // namespace lieq::jobs
