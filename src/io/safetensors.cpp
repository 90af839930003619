#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {
namespace fs = std::filesystem;

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsFile::SafetensorsFile(const fs::path& path) : file_(path) {
  const std::string p = path.string();
  const size_t size = file_.size();
  if (size < 8) fail(p, ": truncated safetensors file (", size, " bytes, no header length)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_.data(), 8);  // little-endian hosts only (x86-64, aarch64)
  if (header_len > size - 8)
    fail(p, ": safetensors header length ", header_len, " overruns the file (", size, " bytes)");
  if (header_len > (uint64_t(100) << 20)) fail(p, ": safetensors header larger than 100 MiB");
  json header;
  try {
    header = json::parse(file_.data() + 8, file_.data() + 8 + header_len);
  } catch (const json::parse_error& e) {
    fail(p, ": malformed safetensors header JSON: ", e.what());
  }
  if (!header.is_object()) fail(p, ": safetensors header is not a JSON object");
  const uint8_t* base = file_.data() + 8 + header_len;
  const uint64_t data_len = size - 8 - header_len;

  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(p, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        metadata_[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      continue;
    }
    const std::string where = p + ": tensor \"" + name + "\"";
    if (!v.is_object()) fail(where, ": entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(where, ": missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(where, ": missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      fail(where, ": missing or malformed data_offsets");
    TensorView t;
    t.name = name;
    t.file = path;
    if (!parse_safetensors_dtype(v["dtype"].get<std::string>(), &t.dtype))
      fail(where, ": unsupported dtype ", v["dtype"].get<std::string>());
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(where, ": invalid shape");
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim)
        fail(where, ": shape too large");
      numel *= dim;
      t.shape.push_back(int64_t(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(where, ": data_offsets must be non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) fail(where, ": data_offsets begin ", begin, " > end ", end);
    if (end > data_len)
      fail(where, ": data_offsets [", begin, ", ", end, "] out of range (data section has ",
           data_len, " bytes)");
    const uint64_t expect = numel * dtype_size(t.dtype);
    if (end - begin != expect)
      fail(where, ": ", end - begin, " bytes of data but shape ", t.shape_str(), " x ",
           dtype_name(t.dtype), " needs ", expect);
    t.data = base + begin;
    t.nbytes = size_t(end - begin);
    ranges.push_back({begin, end, name});
    tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  // Non-empty ranges must not overlap: compare each with the furthest end so far.
  const Range* furthest = nullptr;
  for (const Range& r : ranges) {
    if (r.end == r.begin) continue;
    if (furthest && r.begin < furthest->end)
      fail(p, ": tensors \"", furthest->name, "\" and \"", r.name,
           "\" have overlapping data_offsets");
    if (!furthest || r.end > furthest->end) furthest = &r;
  }
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

TensorStore::TensorStore(const fs::path& model_dir) : dir_(model_dir) {
  const fs::path single = model_dir / "model.safetensors";
  const fs::path index = model_dir / "model.safetensors.index.json";
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) fail(model_dir.string(), ": not a model directory");
  std::vector<fs::path> shards;
  std::map<std::string, std::string> weight_map;
  if (fs::exists(index, ec)) {
    const json j = read_json_file(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail(index.string(), ": missing \"weight_map\" object");
    std::set<std::string> files;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail(index.string(), ": weight_map entries must be file names");
      const std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        fail(index.string(), ": shard name \"", f, "\" must be a plain file name");
      weight_map[it.key()] = f;
      files.insert(f);
    }
    if (weight_map.empty()) fail(index.string(), ": \"weight_map\" is empty");
    for (const auto& f : files) {
      if (!fs::exists(model_dir / f, ec))
        fail(index.string(), ": shard ", f, " listed in weight_map is missing");
      shards.push_back(model_dir / f);
    }
  } else if (fs::exists(single, ec)) {
    shards.push_back(single);
  } else {
    fail(model_dir.string(), ": no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& s : shards) files_.push_back(std::make_unique<SafetensorsFile>(s));
  for (const auto& f : files_) {
    for (const auto& [name, t] : f->tensors()) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(name);
        if (it == weight_map.end() || it->second != f->path().filename().string()) continue;
      }
      if (index_.count(name)) fail(f->path().string(), ": tensor \"", name, "\" appears twice");
      index_[name] = &t;
    }
  }
  for (const auto& [name, file] : weight_map)
    if (!index_.count(name))
      fail(index.string(), ": tensor \"", name, "\" is not in shard ", file);
}

const TensorView* TensorStore::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const TensorView& TensorStore::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) {
    // Name the file that should have held it: the single file, or the index.
    const fs::path where =
        files_.size() == 1 ? files_.front()->path() : dir_ / "model.safetensors.index.json";
    fail(where.string(), ": missing tensor \"", name, "\"");
  }
  return *t;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> r;
  for (const auto& [name, t] : index_) r.push_back(name);
  return r;
}

const std::map<std::string, std::string>& TensorStore::metadata() const {
  static const std::map<std::string, std::string> kEmpty;
  return files_.empty() ? kEmpty : files_.front()->metadata();
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const void* data, size_t nbytes) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  check(size_t(n) * dtype_size(dtype) == nbytes, "safetensors writer: tensor \"", name,
        "\": byte count does not match shape");
  Entry e{name, dtype, std::move(shape), {}};
  e.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + nbytes);
  entries_.push_back(std::move(e));
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape,
                                const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  add(name, DType::kF32, std::move(shape), data, size_t(n) * 4);
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::write(const fs::path& path) const {
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& e : entries_) {
    // A repeated name would leave one entry's bytes orphaned in the file.
    if (e.name == "__metadata__" || !names.insert(e.name).second)
      fail(path.string(), ": tensor name \"", e.name, "\" is reserved or used twice");
    header[e.name] = {{"dtype", dtype_name(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h += ' ';  // align data to 8 bytes
  const uint64_t n = h.size();
  AtomicFile f(path);
  f.write(&n, 8);
  f.write(h);
  for (const auto& e : entries_) f.write(e.bytes.data(), e.bytes.size());
  f.commit();
}

SafetensorsStreamWriter::SafetensorsStreamWriter(const fs::path& path, std::vector<Decl> decls,
                                                 const std::map<std::string, std::string>& metadata)
    : decls_(std::move(decls)), path_(path) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& d : decls_) {
    check(d.name != "__metadata__" && seen.insert(d.name).second, path.string(),
          ": duplicate tensor name \"", d.name, "\"");
    uint64_t n = dtype_size(d.dtype);
    for (int64_t dim : d.shape) n *= uint64_t(dim);
    header[d.name] = {{"dtype", dtype_name(d.dtype)},
                      {"shape", d.shape},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h += ' ';
  const uint64_t n = h.size();
  file_ = std::make_unique<AtomicFile>(path);
  file_->write(&n, 8);
  file_->write(h);
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() = default;

const std::string& SafetensorsStreamWriter::next_name() const {
  check(!done(), path_.string(), ": all declared tensors were written");
  return decls_[next_].name;
}

void SafetensorsStreamWriter::write(const std::string& name, const void* data, size_t nbytes) {
  check(!done(), path_.string(), ": tensor \"", name, "\" was not declared");
  const Decl& d = decls_[next_];
  check(d.name == name, path_.string(), ": tensor \"", name, "\" written out of order (expected \"",
        d.name, "\")");
  uint64_t n = dtype_size(d.dtype);
  for (int64_t dim : d.shape) n *= uint64_t(dim);
  check(n == nbytes, path_.string(), ": tensor \"", name, "\" has ", nbytes, " bytes, declared ", n);
  file_->write(data, nbytes);
  ++next_;
}

void SafetensorsStreamWriter::commit() {
  check(done(), path_.string(), ": ", decls_.size() - next_, " declared tensors were not written");
  file_->commit();
}

}  // namespace lieq
