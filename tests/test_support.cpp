#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace lieq::testing {
namespace fs = std::filesystem;

fs::path shared_dir() {
  if (const char* s = std::getenv("LIEQ_SHARED")) return fs::path(s);
  fs::path p(LIEQ_SHARED_DIR);
  return fs::exists(p) ? p : fs::path();
}

bool shared_required() {
  const char* v = std::getenv("LIEQ_REQUIRE_SHARED");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

fs::path shared_model(const std::string& name) {
  const fs::path s = shared_dir();
  if (s.empty()) return {};
  const fs::path p = s / "models" / name;
  return fs::exists(p) ? p : fs::path();
}

fs::path shared_data(const std::string& rel) {
  const fs::path s = shared_dir();
  if (s.empty()) return {};
  const fs::path p = s / "data" / rel;
  return fs::exists(p) ? p : fs::path();
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("lieq_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
           std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

static std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) {
    if (c == '\'')
      r += "'\\''";
    else
      r += c;
  }
  return r + "'";
}

CliResult run_cli(const std::vector<std::string>& args) {
  TempDir tmp;
  std::string cmd = shell_quote(LIEQ_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  const fs::path out = tmp / "stdout", err = tmp / "stderr";
  cmd += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " </dev/null";
  CliResult r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  return r;
}

std::vector<float> random_vec(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::vector<float> normal_matrix(int64_t rows, int64_t cols, uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (float& x : v) x = nd(rng);
  return v;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void copy_dir(const fs::path& src, const fs::path& dst) {
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    if (e.is_regular_file()) fs::copy_file(e.path(), dst / e.path().filename());
}

}  // namespace lieq::testing
