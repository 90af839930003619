// safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the data. Files are memory-mapped; every header field is validated
// (overrunning header, offsets out of range or overlapping, size != shape x dtype).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/dtype.h"
#include "util/mapped_file.h"

namespace lieq {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // points into the mapped file
  size_t nbytes = 0;
  std::filesystem::path file;  // for error messages

  int64_t numel() const;
  std::string shape_str() const;  // "[8192, 256]"
};

class SafetensorsFile {
 public:
  // Throws Error naming the path and the problem.
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return file_.path(); }

 private:
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a Hugging Face model directory: model.safetensors, or the
// shards listed in model.safetensors.index.json ("weight_map": name -> file).
class TensorStore {
 public:
  explicit TensorStore(const std::filesystem::path& model_dir);

  const TensorView* find(const std::string& name) const;
  // Like find, but throws Error "<file>: missing tensor <name>" when absent
  // (<file>: model.safetensors, or model.safetensors.index.json when sharded).
  const TensorView& get(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::filesystem::path& dir() const { return dir_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  // Metadata of the first file (shards repeat it).
  const std::map<std::string, std::string>& metadata() const;

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

// Builds a safetensors file in memory order of insertion and writes it
// atomically (temp file + rename).
class SafetensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
           size_t nbytes);
  void add_f32(const std::string& name, std::vector<int64_t> shape, const float* data);
  void set_metadata(const std::string& key, const std::string& value);
  void write(const std::filesystem::path& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes a safetensors file whose tensors are declared up front and then
// streamed in declaration order, so a large output never sits in memory whole.
// Data goes to a temp file that is renamed into place by commit(); without
// commit() nothing appears at the destination.
class SafetensorsStreamWriter {
 public:
  struct Decl {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  SafetensorsStreamWriter(const std::filesystem::path& path, std::vector<Decl> decls,
                          const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsStreamWriter();
  // Writes the next declared tensor; name and byte count must match the declaration.
  void write(const std::string& name, const void* data, size_t nbytes);
  const std::string& next_name() const;
  bool done() const { return next_ == decls_.size(); }
  void commit();

 private:
  std::vector<Decl> decls_;
  size_t next_ = 0;
  std::unique_ptr<class AtomicFile> file_;
  std::filesystem::path path_;
};

}  // namespace lieq
