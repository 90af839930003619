// Slow reference checks (ctest -L slow): every text of reference.json with the
// plain protocol, and the llama.cpp protocol against llama-perplexity's value.
#include <gtest/gtest.h>

#include "eval/perplexity.h"
#include "model/load.h"
#include "test_support.h"
#include "util/json_file.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {

class ReferencePplSlow : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferencePplSlow, PlainProtocolWithinHalfPercent) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const auto data = testing::shared_data(GetParam());
  LIEQ_REQUIRE_PATH(data);
  const json ref = read_json_file(dir / "reference.json");
  const std::string key = GetParam() == "wikitext-2-raw/wiki.test.raw" ? "wiki.test.raw" : GetParam();
  const Model m = load_model(dir);
  const Tokenizer tok = load_tokenizer(m);
  PplOptions opt;
  opt.ctx = ref["ctx"].get<int64_t>();
  opt.progress = false;
  const PplResult r = perplexity(m, tok, read_text_file(data), opt);
  const double want = ref[key]["ppl"].get<double>();
  EXPECT_NEAR(r.ppl / want, 1.0, 0.005) << r.ppl << " vs " << want;
  EXPECT_EQ(r.tokens, ref[key]["tokens"].get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Texts, ReferencePplSlow,
                         // The Gutenberg book runs in the default suite
                         // (tests/eval/reference_ppl_test.cpp).
                         ::testing::Values("wikitext-2-raw/wiki.test.raw",
                                           "tinystories/valid-excerpt.txt"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return std::to_string(p.index);
                         });

TEST(ReferencePplSlowLlamaCpp, GutenbergMatchesLlamaPerplexity) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const std::string rel = "gutenberg/adventures-of-sherlock-holmes.txt";
  const auto data = testing::shared_data(rel);
  LIEQ_REQUIRE_PATH(data);
  const json ref = read_json_file(dir / "reference.json")["llamacpp_protocol"][rel];
  const Model m = load_model(dir);
  const Tokenizer tok = load_tokenizer(m);
  PplOptions opt;
  opt.protocol = PplProtocol::kLlamaCpp;
  opt.ctx = ref["ctx"].get<int64_t>();
  opt.progress = false;
  const PplResult r = perplexity(m, tok, read_text_file(data), opt);
  EXPECT_EQ(r.windows, ref["chunks"].get<int64_t>());
  EXPECT_NEAR(r.ppl / ref["ppl"].get<double>(), 1.0, 0.005) << r.ppl;
}

}  // namespace
}  // namespace lieq
