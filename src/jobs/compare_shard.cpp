#include "jobs/compare_shard.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <regex>

#include "jobs/compare.h"
#include "jobs/compare_rows.h"
#include "lieq/diagnose.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq::jobs {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
bool parse_int(std::string_view s, int* v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}
}  // namespace

ShardSpec parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  ShardSpec s;
  if (slash == std::string::npos || !parse_int(std::string_view(text).substr(0, slash), &s.index) ||
      !parse_int(std::string_view(text).substr(slash + 1), &s.count) || s.count < 1 ||
      s.index < 0 || s.index >= s.count)
    fail("--shard \"", text, "\": want I/N, shard I of N with 0 <= I < N (e.g. 0/4)");
  return s;
}

fs::path shard_results_path(const fs::path& dir, const ShardSpec& s) {
  return dir / "shards" / cat("shard-", s.index, "-of-", s.count, ".json");
}

json shard_settings(const CompareRequest& r, const CompareInputs& in) {
  std::vector<std::string> methods, allocators;
  for (QuantMethod m : in.methods) methods.push_back(method_name(m));
  for (AllocatorKind a : in.allocators) allocators.push_back(allocator_name(a));
  return {{"model", settings_path(r.model)},
          {"calib", calib_settings(r.calib)},
          {"diag_calib", calib_settings(r.diag_calib)},
          {"targets", in.targets},
          {"methods", methods},
          {"allocators", allocators},
          {"levels", in.levels},
          {"group_size", r.group_size},
          {"symmetric", r.symmetric},
          {"damp", r.damp},
          {"eval", eval_settings(r, in, true)},
          {"bpw_tolerance", r.bpw_tolerance}};
}

std::vector<std::string> combo_names(const json& settings) {
  std::vector<std::string> names;
  for (const json& t : settings.at("targets"))
    for (const json& m : settings.at("methods"))
      for (const json& a : settings.at("allocators")) {
        ResultRow row;
        row.method = m.get<std::string>();
        row.allocator = a.get<std::string>();
        row.target_bpw = t.get<double>();
        names.push_back(row.name());
      }
  return names;
}

namespace {
// One shard file, read and checked on its own.
struct ShardFile {
  fs::path path;
  ShardSpec spec;
  json settings, plans, diagnostics_json;
  std::vector<std::pair<std::string, std::string>> report_settings;
  ComparisonResults results;
  Diagnostics diagnostics;
  double seconds = 0;
  std::string label() const {
    return cat(path.string(), " (shard ", spec.index, "/", spec.count, ")");
  }
};

ShardFile read_shard(const fs::path& path) {
  ShardFile f;
  f.path = path;
  const json j = read_json_file(path);
  const std::string src = path.string();
  try {
    check(j.is_object() && j.contains("shard"), src,
          ": not a compare shard's results (no \"shard\" member; results.json of an unsharded "
          "run cannot be merged)");
    const json& s = j.at("shard");
    f.spec.index = s.at("index").get<int>();
    f.spec.count = s.at("count").get<int>();
    check(f.spec.count >= 1 && f.spec.index >= 0 && f.spec.index < f.spec.count, src, ": shard ",
          f.spec.index, "/", f.spec.count, " is not a shard I/N with 0 <= I < N");
    f.settings = s.at("settings");
    const size_t n_combos = combo_names(f.settings).size();
    check(s.at("n_combos").get<size_t>() == n_combos, src, ": n_combos ", s.at("n_combos"),
          " but its settings make ", n_combos, " combinations");
    for (const json& kv : s.at("report_settings"))
      f.report_settings.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
    f.plans = j.at("plans");
    check(f.plans.is_array(), src, ": \"plans\" is not an array");
    f.diagnostics_json = j.at("diagnostics");
    f.seconds = j.value("seconds", 0.0);
  } catch (const json::exception& e) {
    fail(src, ": malformed shard results: ", e.what());
  }
  f.results = results_from_json(j, src);
  f.diagnostics = diagnostics_from_json(f.diagnostics_json, src + ": diagnostics");
  return f;
}

// The shard files named by --merge: a directory's shards/shard-<I>-of-<N>.json
// (sorted by name) or a file itself; the same file named twice counts once.
std::vector<fs::path> shard_paths(const std::vector<fs::path>& inputs) {
  check(!inputs.empty(), "--merge: at least one directory or shard file");
  static const std::regex name(R"(shard-\d+-of-\d+\.json)");
  std::vector<fs::path> paths, seen;
  auto add = [&](const fs::path& p) {
    const fs::path canon = fs::weakly_canonical(p);
    if (std::find(seen.begin(), seen.end(), canon) != seen.end()) return;
    seen.push_back(canon);
    paths.push_back(p);
  };
  for (const fs::path& in : inputs) {
    if (fs::is_regular_file(in)) {
      add(in);
      continue;
    }
    if (!fs::is_directory(in)) fail(in.string(), ": no such file or directory (--merge)");
    std::vector<fs::path> found;
    if (fs::is_directory(in / "shards"))
      for (const auto& e : fs::directory_iterator(in / "shards"))
        if (e.is_regular_file() && std::regex_match(e.path().filename().string(), name))
          found.push_back(e.path());
    if (found.empty())
      fail(in.string(), ": no shard results (", (in / "shards" / "shard-I-of-N.json").string(),
           "); run lieq compare ... --shard I/N -o ", in.string(), " first");
    std::sort(found.begin(), found.end());
    for (const fs::path& p : found) add(p);
  }
  return paths;
}

// "targets: [2.5,3.0] vs [2.5]" for the first member (depth first) where a and b differ.
std::string first_difference(const json& a, const json& b, const std::string& at) {
  if (a.is_object() && b.is_object()) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.push_back(k);
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) keys.push_back(k);
    for (const std::string& k : keys) {
      const std::string sub = at.empty() ? k : at + "." + k;
      if (!a.contains(k) || !b.contains(k))
        return cat(sub, ": ", a.contains(k) ? a[k].dump() : "absent", " vs ",
                   b.contains(k) ? b[k].dump() : "absent");
      if (a[k] != b[k]) return first_difference(a[k], b[k], sub);
    }
  }
  return cat(at.empty() ? "settings" : at, ": ", a.dump(), " vs ", b.dump());
}

// Every shard 0..N-1 of one sweep exactly once, each holding its rows.
std::vector<const ShardFile*> check_shards(const std::vector<ShardFile>& files) {
  const ShardFile& first = files[0];
  const int n = first.spec.count;
  std::vector<const ShardFile*> by_index(size_t(n), nullptr);
  for (const ShardFile& f : files) {
    check(f.spec.count == n, "shards of different sweeps: ", first.label(), " and ", f.label());
    check(f.settings == first.settings, "shards of different settings: ", first.path.string(),
          " and ", f.path.string(), " differ in ",
          first_difference(first.settings, f.settings, ""));
    const ShardFile*& slot = by_index[size_t(f.spec.index)];
    check(slot == nullptr, "shard ", f.spec.index, "/", n,
          " given twice: ", slot ? slot->path.string() : "", " and ", f.path.string());
    slot = &f;
  }
  std::string missing;
  for (int i = 0; i < n; ++i)
    if (by_index[size_t(i)] == nullptr) missing += cat(missing.empty() ? "" : ", ", i, "/", n);
  check(missing.empty(), "missing shard results: ", missing, " (have ", files.size(), " of ", n,
        ", e.g. ", first.label(), ")");
  const std::vector<std::string> names = combo_names(first.settings);
  for (const ShardFile* f : by_index) {
    std::vector<std::string> want, have;
    for (size_t i = 0; i < names.size(); ++i)
      if (f->spec.has(i)) want.push_back(names[i]);
    for (const ResultRow& row : f->results.rows) have.push_back(row.name());
    if (have != want) {
      std::string w, h;
      for (const auto& x : want) w += " " + x;
      for (const auto& x : have) h += " " + x;
      fail(f->path.string(), ": shard ", f->spec.index, "/", n, " should hold the rows",
           w.empty() ? " (none)" : w, " but holds", h.empty() ? " none" : h);
    }
  }
  return by_index;
}

json without_seconds(json j) {
  j.erase("seconds");
  return j;
}
}  // namespace

CompareOutcome merge_compare(const MergeRequest& m, const ArtifactCache& cache) {
  check(!m.out.empty(), "--merge: give the output directory with -o");
  std::vector<ShardFile> files;
  for (const fs::path& p : shard_paths(m.inputs)) files.push_back(read_shard(p));
  const std::vector<const ShardFile*> shards = check_shards(files);
  const ShardFile& s0 = *shards[0];

  CompareOutcome o;
  ComparisonResults& res = o.results;
  res = s0.results;
  res.settings = s0.report_settings;
  res.rows.clear();
  const size_t n_combos = combo_names(s0.settings).size();
  const size_t n = shards.size();
  for (size_t i = 0; i < n_combos; ++i) {
    const ShardFile& f = *shards[i % n];
    res.rows.push_back(f.results.rows[i / n]);
  }
  for (const ShardFile* f : shards) {
    o.seconds += f->seconds;
    // Shards on machines with other vector units may round differently.
    if (f->results.has_baseline != s0.results.has_baseline ||
        without_seconds(row_to_json(f->results.baseline)) !=
            without_seconds(row_to_json(s0.results.baseline)))
      cache.note()(cat("lieq: warning: the original's figures in ", f->path.string(),
                       " differ from ", s0.path.string(),
                       "'s; each row's paired figures are against its own shard's original"));
    if (f->plans != s0.plans)
      cache.note()(cat("lieq: warning: the plans in ", f->path.string(), " differ from ",
                       s0.path.string(), "'s; results.json lists the latter's"));
  }
  sort_rows(res.rows);
  compute_recovery(res);
  mark_matched_bits(res);
  mark_pareto(res);
  std::vector<fs::path> dirs;
  for (const ShardFile* f : shards) dirs.push_back(f->path.parent_path().parent_path());
  make_verdict(res, paired_se_from(res, dirs));
  o.n_combos = n_combos;
  o.n_reused = n_combos;
  fs::create_directories(m.out);
  write_compare_outputs(m.out, s0.diagnostics, s0.plans, o);
  cache.note()(cat("compare --merge: ", n, " shards, ", n_combos, " combinations; wrote ",
                   (m.out / "results.json").string(), ", ", (m.out / "results.md").string(),
                   " and ", (m.out / "report.html").string()));
  return o;
}

}  // namespace lieq::jobs
