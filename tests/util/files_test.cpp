// AtomicFile (nothing visible until commit), MappedFile / read_text_file,
// JSON helpers with errors naming the file, and Progress output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "expect_error.h"
#include "test_support.h"
#include "util/atomic_file.h"
#include "util/json_file.h"
#include "util/mapped_file.h"
#include "util/progress.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

size_t count_entries(const fs::path& dir) {
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir); it != fs::directory_iterator(); ++it) ++n;
  return n;
}

// ---------------------------------------------------------------- AtomicFile

TEST(AtomicFile, NothingLeftWithoutCommit) {
  testing::TempDir tmp;
  const fs::path path = tmp / "out.bin";
  {
    AtomicFile f(path);
    f.write("hello");
    EXPECT_EQ(f.offset(), 5u);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(count_entries(tmp.path()), 1u);  // only the temp file
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(count_entries(tmp.path()), 0u);  // temp file removed
}

TEST(AtomicFile, DestinationAppearsOnlyOnCommit) {
  testing::TempDir tmp;
  const fs::path path = tmp / "out.bin";
  AtomicFile f(path);
  f.write("abc");
  const char bytes[] = {'\0', '\1', '\2'};
  f.write(bytes, 3);
  f.write("", 0);
  EXPECT_EQ(f.offset(), 6u);
  EXPECT_FALSE(fs::exists(path));
  f.commit();
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(testing::read_bytes(path), std::string("abc\0\1\2", 6));
  EXPECT_EQ(count_entries(tmp.path()), 1u);  // no temp file left behind
}

TEST(AtomicFile, ReplacesExistingFileOnlyOnCommit) {
  testing::TempDir tmp;
  const fs::path path = tmp / "out.txt";
  testing::write_bytes(path, "old contents");
  {
    AtomicFile f(path);
    f.write("new");
    EXPECT_EQ(testing::read_bytes(path), "old contents");
  }  // abandoned
  EXPECT_EQ(testing::read_bytes(path), "old contents");
  AtomicFile f(path);
  f.write("new");
  EXPECT_EQ(testing::read_bytes(path), "old contents");
  f.commit();
  EXPECT_EQ(testing::read_bytes(path), "new");
}

TEST(AtomicFile, WriteFileAtomic) {
  testing::TempDir tmp;
  write_file_atomic(tmp / "a.json", "{\"x\": 1}\n");
  EXPECT_EQ(testing::read_bytes(tmp / "a.json"), "{\"x\": 1}\n");
  EXPECT_EQ(count_entries(tmp.path()), 1u);
}

TEST(AtomicFile, ErrorsNameThePath) {
  testing::TempDir tmp;
  const fs::path bad = tmp / "missing_dir" / "x.bin";
  EXPECT_LIEQ_ERROR(AtomicFile f(bad), bad.string(), "cannot create");
  EXPECT_LIEQ_ERROR(write_file_atomic(bad, "x"), bad.string());
  // Committing onto a directory fails and leaves no temp file.
  fs::create_directories(tmp / "dir" / "inner");
  {
    AtomicFile f(tmp / "dir");
    f.write("x");
    EXPECT_LIEQ_ERROR(f.commit(), (tmp / "dir").string(), "rename");
  }
  EXPECT_EQ(count_entries(tmp.path()), 1u);  // just "dir"
}

TEST(AtomicFile, UseAfterCommitIsAnError) {
  testing::TempDir tmp;
  AtomicFile f(tmp / "x");
  f.write("1");
  f.commit();
  EXPECT_LIEQ_ERROR(f.commit(), "already committed");
  EXPECT_LIEQ_ERROR(f.write("2"), "after commit");
  EXPECT_EQ(testing::read_bytes(tmp / "x"), "1");
}

// ---------------------------------------------------------------- MappedFile

TEST(MappedFile, MapsContents) {
  testing::TempDir tmp;
  testing::write_bytes(tmp / "f", "0123456789");
  MappedFile m(tmp / "f");
  ASSERT_EQ(m.size(), 10u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), "0123456789");
  EXPECT_EQ(m.path(), tmp / "f");
  MappedFile moved(std::move(m));
  EXPECT_EQ(moved.size(), 10u);
  EXPECT_EQ(moved.data()[3], '3');
  EXPECT_EQ(m.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  MappedFile assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), 10u);
  EXPECT_EQ(assigned.data()[9], '9');
}

TEST(MappedFile, EmptyFileMapsToNothing) {
  testing::TempDir tmp;
  testing::write_bytes(tmp / "empty", "");
  MappedFile m(tmp / "empty");
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.data(), nullptr);
}

TEST(MappedFile, Errors) {
  testing::TempDir tmp;
  EXPECT_LIEQ_ERROR(MappedFile m(tmp / "absent"), (tmp / "absent").string(), "cannot open");
  EXPECT_LIEQ_ERROR(MappedFile m(tmp.path()), tmp.path().string(), "not a regular file");
}

TEST(ReadTextFile, ContentsAndErrors) {
  testing::TempDir tmp;
  testing::write_bytes(tmp / "t.txt", std::string("a\0b\n", 4));
  EXPECT_EQ(read_text_file(tmp / "t.txt"), std::string("a\0b\n", 4));
  EXPECT_LIEQ_ERROR(read_text_file(tmp / "absent.txt"), (tmp / "absent.txt").string(), "no such file");
  EXPECT_LIEQ_ERROR(read_text_file(tmp.path()), tmp.path().string(), "directory");
}

// ---------------------------------------------------------------- JSON files

TEST(JsonFile, ReadAndTypedAccess) {
  testing::TempDir tmp;
  const fs::path p = tmp / "c.json";
  testing::write_bytes(p, R"({"i": 3, "d": 2.5, "b": true, "s": "x", "v": [1, 2], "n": null})");
  const json j = read_json_file(p);
  EXPECT_EQ(json_get<int64_t>(j, "i", p), 3);
  EXPECT_EQ(json_get<int>(j, "i", p), 3);
  EXPECT_DOUBLE_EQ(json_get<double>(j, "d", p), 2.5);
  EXPECT_DOUBLE_EQ(json_get<double>(j, "i", p), 3.0);  // integers are numbers too
  EXPECT_TRUE(json_get<bool>(j, "b", p));
  EXPECT_EQ(json_get<std::string>(j, "s", p), "x");
  EXPECT_EQ(json_get<std::vector<int64_t>>(j, "v", p), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(json_get_or<int64_t>(j, "absent", 7, p), 7);
  EXPECT_EQ(json_get_or<int64_t>(j, "n", 8, p), 8);  // null counts as absent
  EXPECT_EQ(json_get_or<std::string>(j, "s", "y", p), "x");

  EXPECT_LIEQ_ERROR(json_get<int64_t>(j, "absent", p), p.string(), "missing \"absent\"");
  EXPECT_LIEQ_ERROR(json_get<int64_t>(j, "n", p), p.string(), "missing \"n\"");
  EXPECT_LIEQ_ERROR(json_get<int64_t>(j, "s", p), p.string(), "\"s\"", "wrong type", "string");
  EXPECT_LIEQ_ERROR(json_get<bool>(j, "i", p), p.string(), "\"i\"", "wrong type");
  EXPECT_LIEQ_ERROR(json_get_or<std::string>(j, "v", "", p), p.string(), "\"v\"", "wrong type");
  EXPECT_LIEQ_ERROR(json_get<int64_t>(json::array(), "i", p), p.string(), "expected a JSON object");
}

TEST(JsonFile, ReadErrors) {
  testing::TempDir tmp;
  const fs::path p = tmp / "bad.json";
  testing::write_bytes(p, "{\"a\": [1, 2}");
  EXPECT_LIEQ_ERROR((void)read_json_file(p), p.string(), "malformed JSON");
  EXPECT_LIEQ_ERROR((void)read_json_file(tmp / "none.json"), (tmp / "none.json").string(),
                    "no such file");
}

// ------------------------------------------------------------------ Progress

// Captures what Progress writes to stderr, with LIEQ_QUIET unset.
class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* q = std::getenv("LIEQ_QUIET")) saved_quiet_ = q;
    ::unsetenv("LIEQ_QUIET");
  }
  void TearDown() override {
    if (saved_quiet_) ::setenv("LIEQ_QUIET", saved_quiet_->c_str(), 1);
  }
  std::optional<std::string> saved_quiet_;
};

TEST_F(ProgressTest, TotalZeroDoesNotCrashOrDivide) {
  ::testing::internal::CaptureStderr();
  {
    Progress p("empty", 0);
    p.update(0);
    p.update(3, "extra");
    p.finish("done");
    p.finish();  // twice is harmless
    EXPECT_GE(p.elapsed_seconds(), 0.0);
  }
  {
    Progress neg("negative", -5);
    neg.update(1);
  }  // destructor finishes
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, ::testing::Not(HasSubstr("nan")));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("inf")));
  EXPECT_EQ(err, "");
}

TEST_F(ProgressTest, PrintsLinesWhenNotATerminal) {
  ::testing::internal::CaptureStderr();  // stderr becomes a file: no redraws
  {
    Progress p("work", 10);
    p.update(5, "ppl 12.5");
    p.update(5);  // same 5% bucket: not printed again
    p.update(10);
    p.finish("all good");
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("work [5/10]  50%"));
  EXPECT_THAT(err, HasSubstr("ppl 12.5"));
  EXPECT_THAT(err, HasSubstr("work [10/10] 100%"));
  EXPECT_THAT(err, HasSubstr("done in"));
  EXPECT_THAT(err, HasSubstr("all good"));
  EXPECT_EQ(err.find("[5/10]"), err.rfind("[5/10]"));
  EXPECT_EQ(err.find('\r'), std::string::npos);
}

TEST_F(ProgressTest, DisabledPrintsNothing) {
  ::testing::internal::CaptureStderr();
  {
    Progress p("quiet", 10, /*enabled=*/false);
    p.update(5);
    p.finish();
  }
  ::setenv("LIEQ_QUIET", "1", 1);
  EXPECT_FALSE(progress_enabled());
  {
    Progress p("quiet env", 10);
    p.update(10);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace lieq
