// Task files: formats recognised by content, errors with file and line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/tasks.h"
#include "test_support.h"
#include "util/error.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
using testing::TempDir;
using testing::write_bytes;

std::string error_of(const std::filesystem::path& p) {
  try {
    load_task(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TaskFiles, MultipleChoiceJsonl) {
  TempDir dir;
  write_bytes(dir / "arc.jsonl",
              "{\"query\": \"Question: 2+2?\", \"choices\": [\"4\", \"5\", \"22\"], \"gold\": 0}\n"
              "\n"
              "{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 1}\n");
  const Task t = load_task(dir / "arc.jsonl");
  EXPECT_EQ(t.name, "arc");
  EXPECT_EQ(t.format, TaskFormat::kMultipleChoice);
  ASSERT_EQ(t.items.size(), 2u);
  EXPECT_EQ(t.items[0].requests.size(), 3u);
  EXPECT_EQ(t.items[0].requests[1].context, "Question: 2+2?");
  EXPECT_EQ(t.items[0].requests[1].continuation, " 5");
  EXPECT_EQ(t.items[0].norm_texts[2], "22");
  EXPECT_EQ(t.items[1].gold, 1);
  EXPECT_EQ(t.items[1].line, 3);
}

TEST(TaskFiles, WinograndePartialScoring) {
  TempDir dir;
  write_bytes(dir / "w.jsonl",
              "{\"context_options\": [\"A so A\", \"A so B\"], \"continuation\": \"ran.\", \"gold\": 1}\n");
  const Task t = load_task(dir / "w.jsonl");
  EXPECT_EQ(t.format, TaskFormat::kWinogrande);
  EXPECT_EQ(t.items[0].requests[0].context, "A so A");
  EXPECT_EQ(t.items[0].requests[1].context, "A so B");
  EXPECT_EQ(t.items[0].requests[1].continuation, " ran.");
}

TEST(TaskFiles, LambadaJsonl) {
  TempDir dir;
  write_bytes(dir / "l.jsonl", "{\"context\": \"He opened the\", \"continuation\": \"door\"}\n");
  const Task t = load_task(dir / "l.jsonl");
  EXPECT_EQ(t.format, TaskFormat::kLambada);
  EXPECT_EQ(t.items[0].requests.size(), 1u);
  EXPECT_EQ(t.items[0].requests[0].continuation, " door");
}

TEST(TaskFiles, HellaswagSixLineLayoutAndLimit) {
  TempDir dir;
  write_bytes(dir / "hs.txt",
              "ctx one\n2\ne0\ne1\ne2\ne3\nctx two\n0\nf0\nf1\nf2\nf3\n");
  const Task t = load_task(dir / "hs.txt");
  EXPECT_EQ(t.format, TaskFormat::kHellaswag);
  ASSERT_EQ(t.items.size(), 2u);
  EXPECT_EQ(t.items[0].gold, 2);
  EXPECT_EQ(t.items[1].requests[3].continuation, " f3");
  EXPECT_EQ(t.items[1].requests[3].context, "ctx two");
  EXPECT_EQ(load_task(dir / "hs.txt", 1).items.size(), 1u);
}

TEST(TaskFiles, MalformedLinesNameFileAndLine) {
  TempDir dir;
  write_bytes(dir / "bad.jsonl",
              "{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{\"query\": \"Q\", \"choic");
  EXPECT_THAT(error_of(dir / "bad.jsonl"), HasSubstr("bad.jsonl:2: malformed JSON"));
  write_bytes(dir / "gold.jsonl", "{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n");
  EXPECT_THAT(error_of(dir / "gold.jsonl"), HasSubstr("gold.jsonl:1: gold 2 is out of range"));
  write_bytes(dir / "keys.jsonl", "{\"question\": \"Q\"}\n");
  EXPECT_THAT(error_of(dir / "keys.jsonl"), HasSubstr("keys.jsonl:1: unrecognised task item"));
  write_bytes(dir / "mixed.jsonl",
              "{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n"
              "{\"context\": \"c\", \"continuation\": \"d\"}\n");
  EXPECT_THAT(error_of(dir / "mixed.jsonl"), HasSubstr("mixed.jsonl:2: item format lambada differs"));
  write_bytes(dir / "choices.jsonl", "{\"query\": \"Q\", \"choices\": \"a\", \"gold\": 0}\n");
  EXPECT_THAT(error_of(dir / "choices.jsonl"), HasSubstr("choices.jsonl:1: \"choices\" must be"));
  write_bytes(dir / "hs.txt", "ctx\nx\ne0\ne1\ne2\ne3\n");
  EXPECT_THAT(error_of(dir / "hs.txt"), HasSubstr("hs.txt:2: expected the gold ending index"));
  write_bytes(dir / "hs5.txt", "ctx\n1\ne0\ne1\ne2\n");
  EXPECT_THAT(error_of(dir / "hs5.txt"), HasSubstr("not a multiple of 6"));
}

TEST(TaskFiles, EmptyFileIsAnError) {
  TempDir dir;
  write_bytes(dir / "empty.jsonl", "");
  EXPECT_THAT(error_of(dir / "empty.jsonl"), HasSubstr("empty.jsonl: empty task file"));
  write_bytes(dir / "blank.jsonl", "\n  \n\n");
  EXPECT_THAT(error_of(dir / "blank.jsonl"), HasSubstr("empty task file"));
  EXPECT_THAT(error_of(dir / "missing.jsonl"), HasSubstr("missing.jsonl: no such file"));
}

TEST(TaskFiles, TrailingSpaceMovesToContinuation) {
  const Request r = move_trailing_space({"Answer: \n", "yes"});
  EXPECT_EQ(r.context, "Answer:");
  EXPECT_EQ(r.continuation, " \nyes");
}

TEST(TaskFiles, Utf8LengthCountsCodePoints) {
  EXPECT_EQ(utf8_length("abc"), 3);
  EXPECT_EQ(utf8_length("café"), 4);
  EXPECT_EQ(utf8_length("東京😀"), 3);
}

}  // namespace
}  // namespace lieq
