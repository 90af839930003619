// Writes that never leave a half-written output: data goes to
// "<path>.tmp.<host>.<pid>" and is renamed over the destination only when
// complete.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace lieq {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();  // removes the temp file unless commit() was called
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  uint64_t offset() const { return offset_; }
  // Flushes, fsyncs and renames onto the destination.
  void commit();

 private:
  std::filesystem::path path_, tmp_;
  std::FILE* f_ = nullptr;
  uint64_t offset_ = 0;
};

// Writes a whole text file atomically.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

}  // namespace lieq
