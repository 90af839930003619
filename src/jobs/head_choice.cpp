#include "jobs/head_choice.h"

#include <unistd.h>

#include <optional>

#include "eval/kld.h"
#include "jobs/stages.h"
#include "model/load.h"
#include "model/reader.h"
#include "pipeline/gguf_export.h"
#include "util/error.h"
#include "util/progress.h"

namespace lieq::jobs {

namespace fs = std::filesystem;

namespace {

// Removes a file when it goes out of scope.
struct ScratchFile {
  fs::path path;
  ~ScratchFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

// The GGUF export of plan p (GPTQ), its head and embedding in the plan's types.
GgufExportOptions trial_options(const Plan& p, const ModelConfig& c, const std::string& name) {
  GgufExportOptions o;
  o.base.method = QuantMethod::kGptq;
  o.base.progress = false;
  for (const StorageFormat& f : p.layer_formats) o.layer_types.push_back(f.ggml_type());
  o.tensor_types = plan_tensor_types(p, c);
  check(parse_ggml_type(p.embed_type, &o.embed_type) &&
            parse_ggml_type(p.output_type, &o.output_type),
        "head choice: the plan has no embedding or head type (internal error)");
  o.name = name;
  return o;
}

}  // namespace

TypeChoice choose_type_end_to_end(const std::string& what, const std::string& model,
                                  const CalibSet& calib, const std::string& calib_text,
                                  const fs::path& scratch_dir,
                                  const std::vector<GgmlType>& candidates,
                                  const std::function<Plan(GgmlType)>& plan_for) {
  TypeChoice out;
  ModelReader reader(model);
  const Tokenizer tok = Tokenizer::load(model);
  // The float model with its 16-bit weights kept 16-bit (half the memory of
  // float32; products convert on the fly), beside one trial file at a time.
  LoadOptions lo;
  lo.keep_16bit = true;
  const Model base = load_model(model, lo);
  PplOptions po;
  po.ctx = calib.seqlen;
  po.max_windows = calib.n_samples;
  po.progress = false;
  Progress bar(what + " types", int64_t(candidates.size()), progress_enabled());
  std::optional<double> best_kld;  // of out.type, once a candidate fits
  std::string why_not;             // the last candidate's reason for not fitting
  out.note = what + " type (end to end, mean KLD on the calibration text):";
  for (size_t i = 0; i < candidates.size(); ++i) {
    const GgmlType type = candidates[i];
    const char* name = ggml_type_name(type);
    std::optional<Plan> p;
    try {
      p = plan_for(type);
    } catch (const Error& e) {
      out.note += cat(" ", name, " does not fit;");
      why_not = e.what();
      bar.update(int64_t(i) + 1, cat(name, " does not fit"));
      continue;
    }
    const ScratchFile file{scratch_dir / cat(".lieq-", what, "-", name, ".", ::getpid(), ".gguf")};
    (void)export_gguf(reader, tok, &calib, trial_options(*p, reader.config(), "head trial"),
                      file.path);
    const double kld = kl_divergence(base, load_model(file.path), tok, calib_text, po).mean_kld;
    out.note += cat(" ", name, " ", kld, ";");
    if (!best_kld || kld < *best_kld) out.type = type, best_kld = kld;
    bar.update(int64_t(i) + 1, cat(name, " KLD ", kld));
  }
  check(best_kld.has_value(), "--output-type measured: no ", what, " type of ", candidates.size(),
        " candidates fits the size (", why_not, ")");
  out.note += cat(" -> ", ggml_type_name(out.type));
  bar.finish(ggml_type_name(out.type));
  return out;
}

}  // namespace lieq::jobs
