// The BPE model on its own: merge order (rank, then leftmost), explicit
// ranks, duplicate merges, byte fallback and unk, ignore_merges; checked
// against a naive reference on random merge tables; errors name the file.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"

namespace lieq {
namespace {

using Ids = std::vector<int32_t>;

Ids encode(const BpeModel& bpe, std::string_view word) {
  Ids out;
  bpe.encode(word, out);
  return out;
}

// Byte-level vocabulary of the letters a..e (ids 0..4: their GPT-2
// characters are themselves), then the given tokens.
BpeSpec letters(const std::vector<std::string>& tokens, const std::vector<BpeMerge>& merges) {
  BpeSpec spec;
  for (char c = 'a'; c <= 'e'; ++c) spec.vocab.push_back({std::string(1, c), c - 'a'});
  for (const std::string& t : tokens)
    spec.vocab.push_back({t, static_cast<int32_t>(spec.vocab.size())});
  spec.merges = merges;
  return spec;
}

TEST(Bpe, LowestRankFirstThenLeftmost) {
  // ids: ab 5, bc 6, abc 7.
  const BpeSpec spec = letters({"ab", "bc", "abc"}, {{"b", "c"}, {"a", "b"}, {"a", "bc"}});
  const BpeModel bpe(spec, TokenizerKind::kByteLevelBpe, "test");
  EXPECT_EQ(encode(bpe, "abc"), Ids({7}));      // bc (rank 0), then a+bc
  EXPECT_EQ(encode(bpe, "abab"), Ids({5, 5}));  // no bc: ab twice
  EXPECT_EQ(encode(bpe, "dab"), Ids({3, 5}));
  // Equal explicit ranks: the leftmost pair first ("ab" before "bc" in "abc").
  BpeSpec tied = letters({"ab", "bc"}, {{"b", "c"}, {"a", "b"}});
  tied.merge_ranks = {0, 0};
  const BpeModel tied_bpe(tied, TokenizerKind::kByteLevelBpe, "test");
  EXPECT_EQ(encode(tied_bpe, "abc"), Ids({5, 2}));
  EXPECT_EQ(tied_bpe.merges_text(), (std::vector<std::string>{"b c", "a b"}));
}

TEST(Bpe, ALaterDuplicateMergeWins) {
  const BpeSpec spec = letters({"ab", "bc"}, {{"a", "b"}, {"b", "c"}, {"a", "b"}});
  const BpeModel bpe(spec, TokenizerKind::kByteLevelBpe, "test");
  EXPECT_EQ(encode(bpe, "abc"), Ids({0, 6}));  // "a b" now ranks 2, after "b c"
  EXPECT_EQ(bpe.merges_text().size(), 3u);
}

TEST(Bpe, SentencePieceFallbackAndUnk) {
  BpeSpec spec;
  spec.vocab = {{"<unk>", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}, {"a", 3}, {"\xE2\x96\x81", 4}};
  spec.unk_id = 0;
  spec.byte_fallback = true;
  const BpeModel with_fallback(spec, TokenizerKind::kSentencePieceBpe, "test");
  EXPECT_EQ(with_fallback.byte_token(0xC3), 1);
  EXPECT_EQ(with_fallback.byte_token(0x41), -1);
  EXPECT_EQ(encode(with_fallback, "a\xC3\xA9"), Ids({3, 1, 2}));  // é as its bytes
  EXPECT_EQ(encode(with_fallback, "aA"), Ids({3, 0}));            // no <0x41>: unk
  spec.byte_fallback = false;
  const BpeModel plain(spec, TokenizerKind::kSentencePieceBpe, "test");
  EXPECT_EQ(encode(plain, "xya\xC3\xA9"), Ids({0, 0, 3, 0}));  // one unk per character
  spec.fuse_unk = true;
  const BpeModel fused(spec, TokenizerKind::kSentencePieceBpe, "test");
  EXPECT_EQ(encode(fused, "xya\xC3\xA9z"), Ids({0, 3, 0}));  // runs fused
  spec.unk_id = -1;
  const BpeModel no_unk(spec, TokenizerKind::kSentencePieceBpe, "test");
  EXPECT_EQ(encode(no_unk, "xay"), Ids({3}));  // dropped
}

TEST(Bpe, IgnoreMergesTakesAVocabularyWordWhole) {
  BpeSpec spec = letters({"ab", "abc"}, {{"a", "b"}});
  const BpeModel merging(spec, TokenizerKind::kByteLevelBpe, "test");
  EXPECT_EQ(encode(merging, "abc"), Ids({5, 2}));
  spec.ignore_merges = true;
  const BpeModel whole(spec, TokenizerKind::kByteLevelBpe, "test");
  EXPECT_EQ(encode(whole, "abc"), Ids({6}));
  EXPECT_EQ(encode(whole, "abcd"), Ids({5, 2, 3}));
}

// The textbook algorithm: join the adjacent pair of lowest (rank, position)
// until none has a merge.
Ids naive_bpe(const BpeSpec& spec, std::string_view word) {
  auto id_of = [&](const std::string& t) {
    for (const VocabEntry& e : spec.vocab)
      if (e.token == t) return e.id;
    return -1;
  };
  std::vector<std::string> sym;
  for (char c : word) sym.emplace_back(1, c);
  for (;;) {
    size_t best = sym.size(), best_rank = spec.merges.size();
    for (size_t i = 0; i + 1 < sym.size(); ++i)
      for (size_t r = 0; r < best_rank; ++r)
        if (spec.merges[r].left == sym[i] && spec.merges[r].right == sym[i + 1]) {
          best = i, best_rank = r;
          break;
        }
    if (best == sym.size()) break;
    sym[best] += sym[best + 1];
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  Ids out;
  for (const std::string& s : sym) out.push_back(id_of(s));
  return out;
}

// Random merge tables (each merged token made by one merge only, where the
// library's heap and the textbook loop agree) and random words.
TEST(Bpe, AgreesWithTheNaiveAlgorithm) {
  std::mt19937 rng(11);
  for (int table = 0; table < 40; ++table) {
    std::vector<std::string> tokens = {"a", "b", "c", "d", "e"};
    std::vector<std::string> extra;
    std::vector<BpeMerge> merges;
    for (int k = 0; k < 30; ++k) {
      const std::string& l = tokens[rng() % tokens.size()];
      const std::string& r = tokens[rng() % tokens.size()];
      if (std::find(tokens.begin(), tokens.end(), l + r) != tokens.end()) continue;
      merges.push_back({l, r});
      extra.push_back(l + r);
      tokens.push_back(l + r);
    }
    const BpeSpec spec = letters(extra, merges);
    const BpeModel bpe(spec, TokenizerKind::kByteLevelBpe, "test");
    for (int w = 0; w < 50; ++w) {
      std::string word;
      for (int i = 1 + static_cast<int>(rng() % 16); i > 0; --i)
        word.push_back(static_cast<char>('a' + rng() % 5));
      ASSERT_EQ(encode(bpe, word), naive_bpe(spec, word)) << "table " << table << " word " << word;
      ASSERT_EQ(encode(bpe, word), naive_bpe(spec, word)) << "cached, word " << word;
    }
  }
}

TEST(Bpe, ErrorsNameTheFile) {
  EXPECT_LIEQ_ERROR(BpeModel(letters({}, {{"a", "x"}}), TokenizerKind::kByteLevelBpe, "v.json"),
                    "v.json", "model.merges[0] (\"a x\")", "token \"x\" is not in the vocabulary");
  EXPECT_LIEQ_ERROR(BpeModel(letters({}, {{"a", "b"}}), TokenizerKind::kByteLevelBpe, "v.json"),
                    "v.json", "merged token \"ab\" is not in the vocabulary");
  BpeSpec ranks = letters({"ab"}, {{"a", "b"}});
  ranks.merge_ranks = {0, 1, 2};
  EXPECT_LIEQ_ERROR(BpeModel(ranks, TokenizerKind::kByteLevelBpe, "v.json"), "v.json",
                    "3 merge ranks for 1 merges");
  BpeSpec negative = letters({}, {});
  negative.vocab.push_back({"z", -4});
  EXPECT_LIEQ_ERROR(BpeModel(negative, TokenizerKind::kByteLevelBpe, "v.json"), "v.json",
                    "model.vocab[\"z\"]: id -4 out of range");
}

}  // namespace
}  // namespace lieq
