// Evaluation windows: counts, BOS handling and the scored range of each protocol.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "eval/windows.h"
#include "util/error.h"

namespace lieq {
namespace {

TEST(WindowPlan, PlainKeepsPartialWindowAndScoresAllButFirst) {
  const WindowPlan p = make_window_plan(PplProtocol::kPlain, 1000, 256, 4096, false, -1);
  EXPECT_EQ(p.ctx, 256);
  EXPECT_EQ(p.n_windows, 4);  // 3 full windows and the 232-token tail
  EXPECT_EQ(p.window_len(2), 256);
  EXPECT_EQ(p.window_len(3), 232);
  EXPECT_EQ(p.first_scored, 0);
  EXPECT_EQ(p.scored_in(256), 255);
  // Scored tokens in all: every token but the first of each window.
  EXPECT_EQ(3 * p.scored_in(256) + p.scored_in(232), 1000 - 4);
  std::vector<int32_t> stream(1000);
  std::iota(stream.begin(), stream.end(), 0);
  std::vector<int32_t> w(256);
  window_tokens(p, stream, 2, w.data());
  EXPECT_EQ(w[0], 512);
  EXPECT_EQ(w[255], 767);
  window_tokens(p, stream, 3, w.data());
  EXPECT_EQ(w[0], 768);
  EXPECT_EQ(w[231], 999);
  // A one-token tail predicts nothing and is dropped.
  EXPECT_EQ(make_window_plan(PplProtocol::kPlain, 513, 256, 4096, false, -1).n_windows, 2);
}

TEST(WindowPlan, TruncateDropsThePartialWindow) {
  WindowPlan p = make_window_plan(PplProtocol::kPlain, 1000, 256, 4096, false, -1);
  p.truncate(2);
  EXPECT_EQ(p.n_windows, 2);
  EXPECT_EQ(p.window_len(1), 256);
}

TEST(WindowPlan, PlainWithBosPrependsBosAndStridesByCtxMinusOne) {
  const WindowPlan p = make_window_plan(PplProtocol::kPlain, 1000, 100, 4096, true, 7);
  EXPECT_EQ(p.n_windows, 1000 / 99 + 1);  // 10 full windows, BOS + 10-token tail
  EXPECT_EQ(p.window_len(10), 11);
  std::vector<int32_t> stream(1000);
  std::iota(stream.begin(), stream.end(), 0);
  std::vector<int32_t> w(100);
  window_tokens(p, stream, 1, w.data());
  EXPECT_EQ(w[0], 7);
  EXPECT_EQ(w[1], 99);
  EXPECT_EQ(w[99], 197);
  EXPECT_EQ(p.scored_in(100), 99);  // every text token of the window
}

TEST(WindowPlan, CtxIsCappedByTheModel) {
  const WindowPlan p = make_window_plan(PplProtocol::kPlain, 100000, 0, 256, false, -1);
  EXPECT_EQ(p.ctx, 256);
  const WindowPlan q = make_window_plan(PplProtocol::kLlamaCpp, 100000, 0, 4096, false, -1);
  EXPECT_EQ(q.ctx, 512);
}

TEST(WindowPlan, LlamaCppScoresSecondHalfAndReplacesFirstTokenWithBos) {
  const WindowPlan p = make_window_plan(PplProtocol::kLlamaCpp, 2000, 512, 4096, true, 1);
  EXPECT_EQ(p.n_windows, 3);  // llama.cpp drops the tail
  EXPECT_EQ(p.first_scored, 256);
  EXPECT_EQ(p.scored_in(512), 255);
  std::vector<int32_t> stream(2000, 5);
  std::vector<int32_t> w(512);
  window_tokens(p, stream, 0, w.data());
  EXPECT_EQ(w[0], 1);
  EXPECT_EQ(w[1], 5);
}

TEST(WindowPlan, TooShortTextIsAnError) {
  EXPECT_THROW(make_window_plan(PplProtocol::kPlain, 1, 256, 4096, false, -1), Error);
  EXPECT_THROW(make_window_plan(PplProtocol::kLlamaCpp, 10, 256, 4096, false, -1), Error);
  EXPECT_THROW(make_window_plan(PplProtocol::kWikitext2, 255, 256, 4096, false, -1), Error);
  // A short text still makes one (partial) plain window.
  EXPECT_EQ(make_window_plan(PplProtocol::kPlain, 10, 256, 4096, false, -1).window_len(0), 10);
}

TEST(ProtocolText, Wikitext2JoinsRowsWithBlankRowsEmpty) {
  const std::string raw = " \n = Title = \n \n Body text . \n";
  // rows: "", " = Title = \n", "", " Body text . \n"
  EXPECT_EQ(protocol_text(raw, PplProtocol::kWikitext2),
            "\n\n = Title = \n\n\n\n\n Body text . \n");
  EXPECT_EQ(protocol_text(raw, PplProtocol::kPlain), raw);
}

TEST(LogSumExp, MatchesDirectComputation) {
  const float x[4] = {1.0f, 2.0f, -3.0f, 1000.0f};
  EXPECT_NEAR(log_sum_exp(x, 3), std::log(std::exp(1.0) + std::exp(2.0) + std::exp(-3.0)), 1e-6);
  EXPECT_NEAR(log_sum_exp(x, 4), 1000.0, 1e-6);  // no overflow
}

}  // namespace
}  // namespace lieq
