// Perplexity of the benchmark model against shared/models/tinylm-*/reference.json
// (an independent implementation of the same protocol): within 0.5%.
// The Gutenberg book runs in the default suite; the larger texts are in
// tests/slow (label "slow").
#include <gtest/gtest.h>

#include "eval/perplexity.h"
#include "model/load.h"
#include "test_support.h"
#include "util/json_file.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {

TEST(ReferencePpl, TinylmGutenbergPlainProtocol) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const json ref = read_json_file(dir / "reference.json");
  const std::string rel = "gutenberg/adventures-of-sherlock-holmes.txt";
  const auto data = testing::shared_data(rel);
  LIEQ_REQUIRE_PATH(data);
  const Model m = load_model(dir);
  const Tokenizer tok = load_tokenizer(m);
  PplOptions opt;
  opt.ctx = ref["ctx"].get<int64_t>();
  opt.progress = false;
  const PplResult r = perplexity(m, tok, read_text_file(data), opt);
  const double want = ref[rel]["ppl"].get<double>();
  EXPECT_NEAR(r.ppl / want, 1.0, 0.005) << r.ppl << " vs " << want;
  EXPECT_EQ(r.tokens, ref[rel]["tokens"].get<int64_t>());
}

}  // namespace
}  // namespace lieq
