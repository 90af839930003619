// The artifact cache: reuse only under the recorded settings; absent,
// unreadable, malformed or differently-made files are made again and saved
// atomically with their settings; every decision is noted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "jobs/artifact.h"
#include "test_support.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
using json = nlohmann::json;

struct Recorder {
  std::string log;
  jobs::Note note() {
    return [this](const std::string& s) { log += s + "\n"; };
  }
};

int parse_value(const json& j) {
  if (!j.contains("value")) fail("no value");
  return j.at("value").get<int>();
}

TEST(ArtifactCache, ReusesOnlyUnderTheSameSettings) {
  testing::TempDir tmp;
  Recorder rec;
  const jobs::ArtifactCache cache(rec.note());
  const auto path = tmp / "sub" / "a.json";
  int made = 0;
  auto get = [&](const json& settings, int value) {
    return cache.load_or_make<int>(
        path, settings, "thing", parse_value, [&] { return ++made, value; },
        [](const int& v) {
          return json{{"value", v}};
        });
  };
  const json s1 = {{"samples", 4}}, s2 = {{"samples", 8}};
  EXPECT_EQ(get(s1, 1), 1);  // absent: made, saved (the folder too)
  EXPECT_EQ(made, 1);
  const json saved = read_json_file(path);
  EXPECT_EQ(saved[jobs::kSettingsKey], s1);
  EXPECT_EQ(saved["value"], 1);
  EXPECT_EQ(get(s1, 2), 1);  // reused
  EXPECT_EQ(made, 1);
  EXPECT_THAT(rec.log, HasSubstr("thing: reusing " + path.string()));
  EXPECT_EQ(get(s2, 3), 3);  // other settings: made again
  EXPECT_EQ(made, 2);
  EXPECT_THAT(rec.log, HasSubstr("was made with other settings"));
  EXPECT_EQ(read_json_file(path)[jobs::kSettingsKey], s2);

  testing::write_bytes(path, "{ not json");
  EXPECT_EQ(get(s2, 4), 4);
  EXPECT_THAT(rec.log, HasSubstr("malformed JSON"));
  testing::write_bytes(path, json{{jobs::kSettingsKey, s2}}.dump());  // parses, but no value
  EXPECT_EQ(get(s2, 5), 5);
  EXPECT_THAT(rec.log, HasSubstr("no value; making it again"));
  testing::write_bytes(path, json{{"value", 9}}.dump());  // made without settings
  EXPECT_EQ(get(s2, 6), 6);
  EXPECT_EQ(made, 5);
  // No temp files left behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp / "sub"))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(ArtifactCache, LoadAndSave) {
  testing::TempDir tmp;
  Recorder rec;
  const jobs::ArtifactCache cache(rec.note());
  const auto path = tmp / "m.json";
  EXPECT_FALSE(cache.load(path, json::object(), "marker"));
  cache.save(path, json::object(), {{"k", 1}});
  EXPECT_TRUE(cache.load(path, {{"k", 1}}, "marker"));
  EXPECT_FALSE(cache.load(path, {{"k", 2}}, "marker"));
  testing::write_bytes(path, "[1, 2]");  // not an object
  EXPECT_FALSE(cache.load(path, {{"k", 1}}, "marker"));
  EXPECT_EQ(jobs::settings_path("a/../b.txt"),
            (std::filesystem::current_path() / "b.txt").string());
}

}  // namespace
}  // namespace lieq
