#include "jobs/artifact.h"

#include <cstdio>

#include "util/atomic_file.h"
#include "util/json_file.h"
#include "util/progress.h"

namespace lieq::jobs {
namespace fs = std::filesystem;

Note stderr_note() {
  return [](const std::string& s) {
    if (progress_enabled()) std::fprintf(stderr, "%s\n", s.c_str());
  };
}

std::optional<nlohmann::json> ArtifactCache::load(const fs::path& path,
                                                  const nlohmann::json& settings,
                                                  const std::string& what) const {
  if (!fs::exists(path)) return std::nullopt;
  nlohmann::json j;
  try {
    j = read_json_file(path);
  } catch (const std::exception& e) {
    note_(what + ": " + e.what() + "; making it again");
    return std::nullopt;
  }
  if (!j.is_object() || !j.contains(kSettingsKey) || j[kSettingsKey] != settings) {
    note_(what + ": " + path.string() + " was made with other settings; making it again");
    return std::nullopt;
  }
  note_(what + ": reusing " + path.string());
  return j;
}

void ArtifactCache::save(const fs::path& path, nlohmann::json j,
                         const nlohmann::json& settings) const {
  j[kSettingsKey] = settings;
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  write_file_atomic(path, j.dump(1) + "\n");
}

std::string settings_path(const std::string& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).string() : c.string();
}

}  // namespace lieq::jobs
