// Helpers shared by the tests: where ../shared is, temp dirs, running the CLI.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lieq::testing {

// ../shared beside the checkout (LIEQ_SHARED overrides); empty path when absent.
std::filesystem::path shared_dir();
// shared_dir()/models/<name>, or empty when absent.
std::filesystem::path shared_model(const std::string& name);
std::filesystem::path shared_data(const std::string& rel);
// True when LIEQ_REQUIRE_SHARED is set (CI): absent shared data is then a
// failure, not a skip, so a run cannot pass having skipped half the suite.
bool shared_required();

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the lieq binary with args (no shell quoting issues: args are quoted).
CliResult run_cli(const std::vector<std::string>& args);

// n values uniform in [-scale, scale] from mt19937 seeded with seed.
std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f);

// rows x cols values ~ N(0, sd^2) from mt19937 seeded with seed.
std::vector<float> normal_matrix(int64_t rows, int64_t cols, uint32_t seed, float sd = 1.0f);

void write_bytes(const std::filesystem::path& path, const std::string& bytes);
std::string read_bytes(const std::filesystem::path& path);
// Copies a model directory (all regular files) to dst.
void copy_dir(const std::filesystem::path& src, const std::filesystem::path& dst);

}  // namespace lieq::testing

#define LIEQ_REQUIRE_PATH(p)                                                        \
  do {                                                                              \
    if ((p).empty() || !std::filesystem::exists(p)) {                               \
      if (::lieq::testing::shared_required())                                       \
        FAIL() << "shared test data absent (" << #p << ") and LIEQ_REQUIRE_SHARED is set"; \
      GTEST_SKIP() << "shared test data absent (" << #p << "); skipping";           \
    }                                                                               \
  } while (0)
