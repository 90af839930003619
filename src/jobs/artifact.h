// The one artifact cache of every stage (diagnostics, measurements, plans,
// quantized models, evaluated rows): a JSON file saved with the settings it
// was made under, under the key "made_with". A later run reuses it only when
// the recorded settings equal the wanted ones; anything else (absent, not
// JSON, malformed, other settings) makes it anew, and saving is atomic (temp
// file + rename), so an interrupted run resumes and a stale file is never
// taken for a current one.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace lieq::jobs {

// Where the cache says what it reused or why it did not (stderr by default,
// silent under LIEQ_QUIET).
using Note = std::function<void(const std::string&)>;
Note stderr_note();

class ArtifactCache {
 public:
  explicit ArtifactCache(Note note = stderr_note()) : note_(std::move(note)) {}

  // The saved JSON at `path` when it records exactly `settings`; nullopt
  // (with a note naming the file and the reason) otherwise. `what` names
  // the artifact in notes ("diagnostics").
  std::optional<nlohmann::json> load(const std::filesystem::path& path,
                                     const nlohmann::json& settings, const std::string& what) const;
  // Saves j with `settings` recorded, atomically.
  void save(const std::filesystem::path& path, nlohmann::json j,
            const nlohmann::json& settings) const;

  // load, parsed by `parse` (an Error there counts as a stale file), or
  // make(), saved through to_json.
  template <typename T>
  T load_or_make(const std::filesystem::path& path, const nlohmann::json& settings,
                 const std::string& what, const std::function<T(const nlohmann::json&)>& parse,
                 const std::function<T()>& make,
                 const std::function<nlohmann::json(const T&)>& to_json) const {
    if (std::optional<nlohmann::json> j = load(path, settings, what)) {
      if (std::optional<T> t = try_parse<T>(*j, path, what, parse)) return std::move(*t);
    }
    T t = make();
    save(path, to_json(t), settings);
    return t;
  }

  const Note& note() const { return note_; }

 private:
  template <typename T>
  std::optional<T> try_parse(const nlohmann::json& j, const std::filesystem::path& path,
                             const std::string& what,
                             const std::function<T(const nlohmann::json&)>& parse) const {
    try {
      return parse(j);
    } catch (const std::exception& e) {
      note_(what + ": " + path.string() + ": " + e.what() + "; making it again");
      return std::nullopt;
    }
  }

  Note note_;
};

// The settings key of saved artifacts.
inline constexpr const char* kSettingsKey = "made_with";

// An absolute, normalised path, so that settings name files the same way
// whatever the working directory.
std::string settings_path(const std::string& p);

}  // namespace lieq::jobs
