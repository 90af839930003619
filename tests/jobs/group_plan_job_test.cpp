// Per-group plans through quantize: a GGUF file holds each linear in its
// group's planned type, its size is the one the plan was made for (with
// --target-size: at most that), and a lieq directory stores each linear in
// its group's integer grid.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "io/gguf.h"
#include "io/quant_manifest.h"
#include "jobs/jobs_fixtures.h"
#include "jobs/quantize.h"
#include "jobs/stages.h"
#include "model/reader.h"
#include "pipeline/gguf_export.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;

TEST(GroupPlanJob, GgufHoldsEachGroupsTypeAtThePlannedSize) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  const Diagnostics d = testing::model_diagnostics(dir, 5);
  const ModelReader reader(dir);
  const ModelConfig& c = reader.config();
  const Tokenizer tok = Tokenizer::load(dir);
  jobs::PlanRequest r;
  const jobs::ResolvedLevels lv = jobs::resolve_levels({"Q2_K", "Q4_K", "Q6_K"}, true, "", 128, false);
  r.levels = lv.labels;
  r.formats = lv.formats;
  r.granularity = Granularity::kGroup;
  r.method = "rtn";
  GgufExportOptions o;
  const uint64_t smallest = gguf_file_bytes(
      reader, tok, o, std::vector<StorageFormat>(size_t(c.n_layers), r.formats[0]), "rtn");
  const uint64_t largest = gguf_file_bytes(
      reader, tok, o, std::vector<StorageFormat>(size_t(c.n_layers), r.formats[2]), "rtn");
  r.target_size = smallest + (largest - smallest) * 35 / 100;
  const Plan p = jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache());
  ASSERT_TRUE(p.per_group());
  // Some layer mixes types across its groups (the budget falls inside a layer).
  bool mixed = false;
  for (const auto& g : p.group_bits) mixed |= !(g[0] == g[1] && g[1] == g[2] && g[2] == g[3]);
  EXPECT_TRUE(mixed);
  write_file_atomic(tmp / "plan.json", plan_to_json(p).dump(1));

  jobs::QuantizeRequest q;
  q.model = dir.string();
  q.out = (tmp / "g.gguf").string();
  q.method = QuantMethod::kRtn;
  q.plan_file = (tmp / "plan.json").string();
  const jobs::QuantizeOutcome out = jobs::run_quantize(q, jobs::ArtifactCache());
  EXPECT_THAT(out.mode, ::testing::HasSubstr("tensors Q"));
  const GgufReader file(tmp / "g.gguf");
  for (int l = 0; l < c.n_layers; ++l)
    for (Role role : kLinearRoles) {
      const GgufTensorInfo* t = file.find_tensor(gguf_layer_tensor_name(role, l));
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(t->type, p.format_of(size_t(l), role).ggml_type()) << t->name;
    }
  // The planned size is the file's, and within the limit.
  GgufExportOptions po;
  po.tensor_types = jobs::plan_tensor_types(p, c);
  const uint64_t planned = gguf_file_bytes(reader, tok, po, p.layer_formats, "rtn");
  EXPECT_EQ(fs::file_size(tmp / "g.gguf"), planned);
  EXPECT_LE(planned, r.target_size);
  // Per group the budget is filled closer than per layer.
  r.granularity = Granularity::kLayer;
  const Plan pl = jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache());
  EXPECT_GE(p.linear_bits, pl.linear_bits);
}

TEST(GroupPlanJob, DirectoryStoresEachGroupsGrid) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  const Diagnostics d = testing::model_diagnostics(dir, 5);
  const Plan p = make_plan(d, AllocatorKind::kLieq, 3.6, {2, 4}, grid_formats({2, 4}, 32, false),
                           nullptr, Granularity::kGroup);
  write_file_atomic(tmp / "plan.json", plan_to_json(p).dump(1));
  jobs::QuantizeRequest q;
  q.model = dir.string();
  q.out = (tmp / "q").string();
  q.method = QuantMethod::kRtn;
  q.plan_file = (tmp / "plan.json").string();
  const jobs::QuantizeOutcome out = jobs::run_quantize(q, jobs::ArtifactCache());
  const QuantManifest m = QuantManifest::read(tmp / "q" / kQuantManifestFile);
  for (int l = 0; l < d.n_layers; ++l)
    for (Role role : kLinearRoles)
      EXPECT_EQ(m.tensors.at(hf_layer_tensor_name(role, l)).spec.bits,
                p.format_of(size_t(l), role).spec().bits)
          << l;
  EXPECT_EQ(out.report.linear_bits, p.linear_bits);
}

}  // namespace
}  // namespace lieq
