// The committed Unicode tables are what scripts/gen_unicode_tables.py makes:
// the script is run with python3 into a temp file and the result compared
// byte for byte with src/tokenizer/unicode_tables.cpp.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "test_support.h"

namespace lieq {
namespace {

namespace fs = std::filesystem;

// The source tree: $LIEQ_SOURCE_DIR, else the lieq_SOURCE_DIR of the build's
// CMakeCache.txt (the lieq binary lies at the top of the build tree).
fs::path source_dir() {
  if (const char* env = std::getenv("LIEQ_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
  std::ifstream cache(fs::path(LIEQ_BINARY).parent_path() / "CMakeCache.txt");
  const std::string key = "lieq_SOURCE_DIR:STATIC=";
  for (std::string line; std::getline(cache, line);)
    if (line.starts_with(key)) return line.substr(key.size());
  return {};
}

// Runs a shell command; its exit status (-1 when it could not run).
int run(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

std::string shell_quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

std::string first_line(const fs::path& p) {
  std::ifstream f(p);
  std::string line;
  std::getline(f, line);
  return line;
}

TEST(UnicodeTables, RegeneratingGivesTheCommittedFile) {
  const fs::path src = source_dir();
  ASSERT_FALSE(src.empty()) << "source tree not found (set LIEQ_SOURCE_DIR)";
  const fs::path script = src / "scripts" / "gen_unicode_tables.py";
  const fs::path committed = src / "src" / "tokenizer" / "unicode_tables.cpp";
  ASSERT_TRUE(fs::exists(script)) << script;
  ASSERT_TRUE(fs::exists(committed)) << committed;
  if (run("python3 -c pass >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 not found: cannot run " << script << " (scripts/setup.sh installs it)";

  testing::TempDir dir;
  // The first line names the Unicode version the tables were made from.
  const std::string header = first_line(committed);
  const std::string version_file = (dir / "version").string();
  ASSERT_EQ(run("python3 -c 'import unicodedata; print(unicodedata.unidata_version, end=\"\")' > " +
                shell_quoted(version_file)),
            0);
  const std::string version = testing::read_bytes(version_file);
  if (header.find("unicodedata " + version + ";") == std::string::npos)
    GTEST_SKIP() << "python3's unicodedata is Unicode " << version
                 << ", the committed tables are not (" << header
                 << "): regenerating cannot reproduce them here";

  const fs::path out = dir / "unicode_tables.cpp";
  ASSERT_EQ(run("python3 " + shell_quoted(script) + " -o " + shell_quoted(out)), 0) << script;
  const std::string want = testing::read_bytes(committed);
  const std::string got = testing::read_bytes(out);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "regenerate with: python3 scripts/gen_unicode_tables.py -o "
                              "src/tokenizer/unicode_tables.cpp";
}

}  // namespace
}  // namespace lieq
