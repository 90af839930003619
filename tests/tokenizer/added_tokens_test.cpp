// Added tokens split out of the raw text: the calls split makes, in order.
#include "tokenizer/added_tokens.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lieq {
namespace {

using ::testing::ElementsAre;

// The calls of split as "text:<segment>|<at_start>" and "id:<id>".
std::vector<std::string> calls(const AddedTokens& added, std::string_view s) {
  std::vector<std::string> out;
  added.split(
      s,
      [&](std::string_view segment, bool at_start) {
        out.push_back("text:" + std::string(segment) + "|" + (at_start ? "1" : "0"));
      },
      [&](int32_t id) { out.push_back("id:" + std::to_string(id)); });
  return out;
}

AddedToken token(std::string content, int32_t id) {
  AddedToken t;
  t.content = std::move(content);
  t.id = id;
  return t;
}

TEST(AddedTokens, LeftmostLongestWithTheSegmentsBetween) {
  const AddedTokens added({token("<a>", 10), token("<a>b", 11), token("<", 12)}, "test");
  EXPECT_THAT(calls(added, "x<a>by<a>"),
              ElementsAre("text:x|1", "id:11", "text:y|0", "id:10", "text:|0"));
  EXPECT_THAT(calls(added, "<<a"), ElementsAre("text:|1", "id:12", "text:|0", "id:12", "text:a|0"));
  EXPECT_THAT(calls(added, "plain"), ElementsAre("text:plain|1"));
  const AddedTokens none({}, "test");
  EXPECT_THAT(calls(none, "<a>"), ElementsAre("text:<a>|1"));
}

TEST(AddedTokens, StripFlagsTakeTheWhiteSpaceAround) {
  AddedToken l = token("<L>", 1), r = token("<R>", 2);
  l.lstrip = true;
  r.rstrip = true;
  const AddedTokens added({l, r}, "test");
  EXPECT_THAT(calls(added, "a \xE3\x80\x80<L> b"), ElementsAre("text:a|1", "id:1", "text: b|0"));
  EXPECT_THAT(calls(added, "a <R>\n\tb"), ElementsAre("text:a |1", "id:2", "text:b|0"));
  // lstrip stops at the previous token: the segment between is not crossed.
  EXPECT_THAT(calls(added, "<R>  <L>"),
              ElementsAre("text:|1", "id:2", "text:|0", "id:1", "text:|0"));
}

TEST(AddedTokens, SingleWordNeedsNoWordCharacterAround) {
  AddedToken w = token("<W>", 3);
  w.single_word = true;
  const AddedTokens added({w}, "test");
  EXPECT_THAT(calls(added, "a <W>."), ElementsAre("text:a |1", "id:3", "text:.|0"));
  EXPECT_THAT(calls(added, "a<W>"), ElementsAre("text:a<W>|1"));
  EXPECT_THAT(calls(added, "<W>b"), ElementsAre("text:<W>b|1"));
  EXPECT_THAT(calls(added, "e\xCC\x81<W>"), ElementsAre("text:e\xCC\x81<W>|1"));  // a mark is \w
  EXPECT_THAT(calls(added, "\xFF<W>"), ElementsAre("text:\xFF|1", "id:3", "text:|0"));
}

}  // namespace
}  // namespace lieq
