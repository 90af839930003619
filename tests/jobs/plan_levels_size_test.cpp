// Levels by ggml type name and whole-file size targets for GGUF plans.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../expect_error.h"
#include "io/gguf.h"
#include "eval/calibration.h"
#include "jobs/jobs_fixtures.h"
#include "jobs/quantize.h"
#include "jobs/stages.h"
#include "model/reader.h"
#include "pipeline/gguf_export.h"
#include "pipeline/measure.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_file.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;

TEST(PlanLevels, NamesMakeAGgufPlanSortedByBitsPerWeight) {
  const jobs::ResolvedLevels r =
      jobs::resolve_levels({"Q4_K", "iq2_xxs", "3", "IQ2_S"}, false, "", 128, false);
  EXPECT_TRUE(r.gguf);
  EXPECT_TRUE(r.named);
  ASSERT_EQ(r.formats.size(), 4u);
  EXPECT_EQ(r.formats[0].name(), "IQ2_XXS");
  EXPECT_EQ(r.formats[1].name(), "IQ2_S");
  EXPECT_EQ(r.formats[2].name(), "Q3_K");  // 3 through the default type map
  EXPECT_EQ(r.formats[3].name(), "Q4_K");
  EXPECT_EQ(r.labels, (std::vector<int>{1, 2, 3, 4}));
  // Widths alone keep their meaning.
  const jobs::ResolvedLevels w = jobs::resolve_levels({"4", "2"}, false, "", 64, true);
  EXPECT_FALSE(w.gguf);
  EXPECT_EQ(w.labels, (std::vector<int>{2, 4}));
  EXPECT_EQ(w.formats[0].name(), "int2 g64 sym");
  const jobs::ResolvedLevels g = jobs::resolve_levels({"2", "4"}, true, "2=IQ2_XS", 128, false);
  EXPECT_EQ(g.formats[0].name(), "IQ2_XS");
  EXPECT_LIEQ_ERROR(jobs::resolve_levels({"IQ9_Z"}, false, "", 128, false), "--levels");
  EXPECT_LIEQ_ERROR(jobs::level_widths({"2", "Q4_K"}, "compare --levels"), "compare --levels");
}

TEST(PlanSize, ParsesBytesAndUnits) {
  EXPECT_EQ(jobs::parse_size("1500000", "--target-size"), 1500000u);
  EXPECT_EQ(jobs::parse_size("1.5MB", "--target-size"), 1500000u);
  EXPECT_EQ(jobs::parse_size("2 MiB", "--target-size"), 2097152u);
  EXPECT_EQ(jobs::parse_size("3gib", "--target-size"), 3221225472u);
  EXPECT_EQ(jobs::parse_size("12KB", "--target-size"), 12000u);
  for (const char* bad : {"", "MB", "-1MB", "1.5 parsecs", "0"})
    EXPECT_LIEQ_ERROR(jobs::parse_size(bad, "--target-size"), "--target-size");
}

// A LieQ plan for tinylm under a file size: the file the plan describes is
// at most that size and within one layer step of it.
TEST(PlanSize, FileOfThePlanFitsTheLimit) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const ModelReader reader(dir);
  const ModelConfig& c = reader.config();
  const Diagnostics d = testing::model_diagnostics(dir, 5);
  jobs::PlanRequest r;
  r.embed_type = GgmlType::Q4_K;  // as GgufExportOptions' defaults
  r.output_type = GgmlType::Q6_K;
  const jobs::ResolvedLevels lv = jobs::resolve_levels({"IQ2_XXS", "IQ2_S", "Q3_K", "Q4_K"}, true,
                                                       "", 128, false);
  r.levels = lv.labels;
  r.formats = lv.formats;
  const Tokenizer tok = Tokenizer::load(dir);
  GgufExportOptions o;
  const uint64_t smallest =
      gguf_file_bytes(reader, tok, o, std::vector<StorageFormat>(size_t(c.n_layers), r.formats[0]),
                      "gptq");
  const uint64_t largest =
      gguf_file_bytes(reader, tok, o, std::vector<StorageFormat>(size_t(c.n_layers), r.formats[3]),
                      "gptq");
  testing::TempDir tmp;
  for (double f : {0.3, 0.6, 0.9}) {
    r.target_size = smallest + uint64_t(f * double(largest - smallest));
    const Plan p = jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache());
    const uint64_t bytes = gguf_file_bytes(reader, tok, o, p.layer_formats, "gptq");
    EXPECT_LE(bytes, r.target_size);
    // One layer from Q3_K to Q4_K is the largest step there is.
    EXPECT_GT(bytes + (largest - smallest) / uint64_t(c.n_layers), r.target_size) << f;
    EXPECT_EQ(p.target_size, r.target_size);
  }
  r.target_size = smallest - 1;
  EXPECT_LIEQ_ERROR(jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache()),
                    "below the smallest file");
  // Integer grids have no GGUF size.
  r.formats = grid_formats({2, 4}, 128, false);
  r.levels = {2, 4};
  r.target_size = largest;
  EXPECT_LIEQ_ERROR(jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache()), "GGUF plan");
}

TEST(PlanSize, HeadAndEmbeddingTypesFollowTheLayersBits) {
  using G = GgmlType;
  EXPECT_EQ(jobs::choose_global_types(2.2, {}, {}).output, G::Q5_K);
  EXPECT_EQ(jobs::choose_global_types(2.2, {}, {}).embed, G::Q2_K);
  EXPECT_EQ(jobs::choose_global_types(2.7, {}, {}).embed, G::IQ3_S);
  EXPECT_EQ(jobs::choose_global_types(3.05, {}, {}).output, G::Q5_K);
  EXPECT_EQ(jobs::choose_global_types(3.2, {}, {}).output, G::Q6_K);
  EXPECT_EQ(jobs::choose_global_types(3.2, {}, {}).embed, G::Q4_K);
  EXPECT_EQ(jobs::choose_global_types(2.2, G::Q8_0, G::Q8_0).output, G::Q8_0);  // given: kept
  EXPECT_EQ(jobs::choose_global_types(2.2, G::Q8_0, G::Q8_0).embed, G::Q8_0);
}

// A size target on tinylm (tied: its embedding is the head) low enough for a
// Q5_K head: the plan records the types it counted, and quantize --plan
// writes them, in a file of exactly the planned size.
TEST(PlanSize, ThePlansTypesAreTheFilesTypes) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  const ModelReader reader(dir);
  const ModelConfig& c = reader.config();
  const Diagnostics d = testing::model_diagnostics(dir, 1);
  jobs::PlanRequest r;
  const jobs::ResolvedLevels lv = jobs::resolve_levels({"Q2_K", "Q3_K", "Q4_K"}, true, "", 128, false);
  r.levels = lv.labels;
  r.formats = lv.formats;
  r.method = "rtn";
  const Tokenizer tok = Tokenizer::load(dir);
  GgufExportOptions o;
  o.output_type = GgmlType::Q5_K;
  const uint64_t q2 = gguf_file_bytes(
      reader, tok, o, std::vector<StorageFormat>(size_t(c.n_layers), r.formats[0]), "rtn");
  r.target_size = q2 + 300000;  // layers at about 2.9 bpw
  const Plan p = jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache());
  EXPECT_EQ(p.output_type, "Q5_K");
  write_file_atomic(tmp / "plan.json", plan_to_json(p).dump(1));
  EXPECT_EQ(read_plan(tmp / "plan.json").output_type, "Q5_K");
  jobs::QuantizeRequest q;
  q.model = dir.string();
  q.out = (tmp / "x.gguf").string();
  q.method = QuantMethod::kRtn;
  q.plan_file = (tmp / "plan.json").string();
  jobs::run_quantize(q, jobs::ArtifactCache());
  const GgufReader file(tmp / "x.gguf");
  EXPECT_EQ(file.get_tensor(kGgufEmbedding).type, GgmlType::Q5_K);
  EXPECT_EQ(fs::file_size(tmp / "x.gguf"), gguf_file_bytes(reader, tok, o, p.layer_formats, "rtn"));
  EXPECT_LE(fs::file_size(tmp / "x.gguf"), r.target_size);
  // A bad type in a plan file names it.
  nlohmann::json j = plan_to_json(p);
  j["output_type"] = "Q9_K";
  write_file_atomic(tmp / "bad.json", j.dump());
  EXPECT_LIEQ_ERROR(read_plan(tmp / "bad.json"), "bad.json", "Q9_K", "head");
}

// The measured allocator over levels Q2_K, Q4_K with the head (and an
// untied embedding) chosen end to end, calibration `samples` x 64 of data.
jobs::PlanRequest measured_head_request(const fs::path& data, int64_t samples) {
  jobs::PlanRequest r;
  const jobs::ResolvedLevels lv = jobs::resolve_levels({"Q2_K", "Q4_K"}, true, "", 128, false);
  r.levels = lv.labels;
  r.formats = lv.formats;
  r.allocator = AllocatorKind::kMeasured;
  r.measure.calib = {data.string(), samples, 64, 0};
  r.measured_head = true;
  return r;
}

// The measured allocator's end-to-end head choice: every candidate that
// fits is tried (a trial file quantized and measured, then removed), the one
// of least KL divergence is kept in the plan, and the plan's file fits;
// asking for it with a head type given is an error.
TEST(PlanSize, MeasuredHeadType) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  Diagnostics d = testing::model_diagnostics(dir, 5);
  d.calib_source = data.string();
  jobs::PlanRequest r = measured_head_request(data, 4);
  const ModelConfig& c = reader.config();
  GgufExportOptions o;
  o.output_type = GgmlType::Q3_K;
  r.target_size = gguf_file_bytes(reader, tok, o,
                                  std::vector<StorageFormat>(size_t(c.n_layers), r.formats[0]), "gptq") +
                  400000;
  std::string log;
  const Plan p =
      jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache([&](const std::string& s) { log += s; }));
  EXPECT_THAT(log, ::testing::HasSubstr("head type (end to end"));
  EXPECT_THAT(log, ::testing::HasSubstr("-> " + p.output_type));
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(e.path().extension(), ".json") << e.path();  // no trial file left behind
  EXPECT_THAT(std::vector<std::string>({"Q3_K", "Q4_K", "Q5_K", "Q6_K"}), ::testing::Contains(p.output_type));
  GgufExportOptions po;
  GgmlType head;
  ASSERT_TRUE(parse_ggml_type(p.output_type, &head));
  po.output_type = head;
  EXPECT_LE(gguf_file_bytes(reader, tok, po, p.layer_formats, "gptq"), r.target_size);
  // No candidate fits: the error says why.
  const uint64_t fits = r.target_size;
  r.target_size = 1000000;
  EXPECT_LIEQ_ERROR(jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache()),
                    "no head type of 4 candidates fits", "below the smallest file");
  r.target_size = fits;
  r.output_type = GgmlType::Q4_K;
  EXPECT_LIEQ_ERROR(jobs::run_plan(d, r, tmp / "diag.json", jobs::ArtifactCache()),
                    "--output-type measured", "given already");
}

// An untied model: after the head, the embedding's type is chosen end to
// end too (of Q2_K, IQ3_S, Q4_K, Q5_K), noted, kept in the plan, and the
// plan's file fits; a given --embed-type is kept as given.
TEST(PlanSize, UntiedEmbeddingChosenEndToEnd) {
  const auto dir = testing::shared_model("random-llama");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  testing::TempDir tmp;
  ModelReader reader(dir);
  ASSERT_FALSE(reader.config().tie_word_embeddings);
  const Tokenizer tok = Tokenizer::load(dir);
  Diagnostics d = testing::model_diagnostics(dir, 5);
  d.calib_source = data.string();
  jobs::PlanRequest r = measured_head_request(data, 2);
  GgufExportOptions o;
  o.embed_type = GgmlType::Q5_K;
  o.output_type = GgmlType::Q6_K;
  const std::vector<StorageFormat> lowest(size_t(reader.config().n_layers), r.formats[0]);
  r.target_size = gguf_file_bytes(reader, tok, o, lowest, "gptq") + 20000;
  std::string log;
  const jobs::ArtifactCache cache([&](const std::string& s) { log += s + "\n"; });
  const Plan p = jobs::run_plan(d, r, tmp / "diag.json", cache);
  EXPECT_THAT(log, ::testing::HasSubstr("head type (end to end"));
  EXPECT_THAT(log, ::testing::HasSubstr("embedding type (end to end"));
  EXPECT_THAT(log, ::testing::HasSubstr("-> " + p.embed_type + "\n"));
  EXPECT_THAT(std::vector<std::string>({"Q2_K", "IQ3_S", "Q4_K", "Q5_K"}),
              ::testing::Contains(p.embed_type));
  GgufExportOptions po;
  ASSERT_TRUE(parse_ggml_type(p.embed_type, &po.embed_type));
  ASSERT_TRUE(parse_ggml_type(p.output_type, &po.output_type));
  EXPECT_LE(gguf_file_bytes(reader, tok, po, p.layer_formats, "gptq"), r.target_size);
  r.embed_type = GgmlType::Q2_K;
  log.clear();
  EXPECT_EQ(jobs::run_plan(d, r, tmp / "diag.json", cache).embed_type, "Q2_K");
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("embedding type (end to end")));
}

}  // namespace
}  // namespace lieq
