#include "io/imatrix.h"

#include <cmath>
#include <cstring>

#include "io/gguf.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq {
namespace fs = std::filesystem;

const std::vector<float>* Imatrix::find(const std::string& gguf_name) const {
  const auto it = importance.find(gguf_name);
  return it == importance.end() ? nullptr : &it->second;
}

namespace {

void check_values(const std::vector<float>& v, const std::string& src, const std::string& name) {
  for (size_t i = 0; i < v.size(); ++i)
    check(std::isfinite(v[i]) && v[i] >= 0, src, ": ", name, ": importance ", v[i], " at column ", i,
          " is not a finite non-negative number");
}

std::string_view strip_suffix(std::string_view s, std::string_view suffix, bool* had) {
  *had = s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
  return *had ? s.substr(0, s.size() - suffix.size()) : s;
}

Imatrix read_gguf_imatrix(const fs::path& path) {
  const GgufReader r(path);
  const std::string src = path.string();
  Imatrix m;
  if (const GgufValue* v = r.find("imatrix.datasets")) m.datasets = v->as_string_array();
  if (const GgufValue* v = r.find("imatrix.chunk_count")) m.chunk_count = int64_t(v->as_u32());
  if (const GgufValue* v = r.find("imatrix.chunk_size")) m.chunk_size = int64_t(v->as_u32());
  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> parts;
  for (const GgufTensorInfo& t : r.tensors()) {
    bool sums = false, counts = false;
    std::string_view base = strip_suffix(t.name, ".in_sum2", &sums);
    if (!sums) base = strip_suffix(t.name, ".counts", &counts);
    if (!sums && !counts) continue;
    check(t.type == GgmlType::F32, src, ": ", t.name, " is ", ggml_type_name(t.type), ", not F32");
    auto& p = parts[std::string(base)];
    (sums ? p.first : p.second) = &t;
  }
  check(!parts.empty(), src, ": a GGUF file without importance data (no *.in_sum2 / *.counts tensors)");
  for (const auto& [name, p] : parts) {
    check(p.first && p.second, src, ": ", name, " has ", p.first ? "in_sum2 but no counts" : "counts but no in_sum2");
    const int64_t n = p.first->numel(), n_mat = p.second->numel();
    check(n_mat > 0 && n % n_mat == 0, src, ": ", name, ": ", n, " sums for ", n_mat, " counts");
    std::vector<float> sums(static_cast<size_t>(n)), counts(static_cast<size_t>(n_mat));
    std::memcpy(sums.data(), p.first->data, sums.size() * sizeof(float));
    std::memcpy(counts.data(), p.second->data, counts.size() * sizeof(float));
    std::vector<float> imp(static_cast<size_t>(n));
    const int64_t per = n / n_mat;
    for (int64_t j = 0; j < n_mat; ++j) {
      check(std::isfinite(counts[size_t(j)]) && counts[size_t(j)] >= 0, src, ": ", name,
            ": count ", counts[size_t(j)], " is not a non-negative number");
      const float count = float(std::lround(counts[size_t(j)]));
      for (int64_t i = 0; i < per; ++i)
        imp[size_t(j * per + i)] = count > 0 ? sums[size_t(j * per + i)] / count : 1.0f;
    }
    check_values(imp, src, name);
    m.importance[name] = std::move(imp);
  }
  return m;
}

// Bounds-checked reads of the legacy layout.
class LegacyCursor {
 public:
  LegacyCursor(const MappedFile& f, std::string src) : f_(f), src_(std::move(src)) {}
  bool at_end() const { return pos_ == f_.size(); }
  int32_t i32(const char* what) {
    int32_t v;
    std::memcpy(&v, bytes(sizeof v, what), sizeof v);
    return v;
  }
  const uint8_t* bytes(size_t n, const char* what) {
    check(n <= f_.size() - pos_, src_, ": truncated at byte ", pos_, " (", what, ")");
    const uint8_t* p = f_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  const MappedFile& f_;
  std::string src_;
  size_t pos_ = 0;
};

Imatrix read_legacy_imatrix(const MappedFile& f, const std::string& src) {
  Imatrix m;
  m.legacy = true;
  LegacyCursor c(f, src);
  const int32_t n_entries = c.i32("entry count");
  check(n_entries >= 1, src, ": ", n_entries, " entries (not an imatrix file?)");
  for (int32_t e = 0; e < n_entries; ++e) {
    const int32_t len = c.i32("name length");
    check(len >= 1 && len <= 4096, src, ": entry ", e, ": name length ", len, " out of range");
    const uint8_t* p = c.bytes(size_t(len), "name");
    const std::string name(reinterpret_cast<const char*>(p), size_t(len));
    const int32_t ncall = c.i32("call count");
    const int32_t nval = c.i32("value count");
    check(ncall >= 0, src, ": ", name, ": call count ", ncall, " is negative");
    check(nval >= 1, src, ": ", name, ": value count ", nval, " out of range");
    const uint8_t* data = c.bytes(size_t(nval) * sizeof(float), "values");
    std::vector<float> v(static_cast<size_t>(nval));
    std::memcpy(v.data(), data, v.size() * sizeof(float));
    if (ncall > 0)
      for (float& x : v) x = x / float(ncall);
    check_values(v, src, name);
    check(m.importance.emplace(name, std::move(v)).second, src, ": ", name, " appears twice");
  }
  if (!c.at_end()) {  // optional: chunk count and the dataset's name
    m.chunk_count = c.i32("chunk count");
    const int32_t len = c.i32("dataset name length");
    check(len >= 0 && len <= 1 << 20, src, ": dataset name length ", len, " out of range");
    if (len > 0) {
      const uint8_t* p = c.bytes(size_t(len), "dataset name");
      m.datasets.emplace_back(reinterpret_cast<const char*>(p), size_t(len));
    }
  }
  return m;
}

}  // namespace

Imatrix read_imatrix(const fs::path& path) {
  const MappedFile f(path);
  Imatrix m = f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0
                  ? read_gguf_imatrix(path)
                  : read_legacy_imatrix(f, path.string());
  m.path = path.string();
  return m;
}

}  // namespace lieq
