// A read-only memory-mapped file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace lieq {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws Error naming the path when the file cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release();
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Tells the kernel the pages wholly inside [p, p + n) of a read-only file
// mapping are not needed now (madvise MADV_DONTNEED): they leave the process's
// resident set and are read again from the page cache if touched. Used after
// a tensor was converted, so reading a model layer by layer keeps one layer's
// bytes resident, not the whole file. A no-op when the range holds no whole page.
void release_pages(const void* p, size_t n);

// Reads a whole file into a string; throws Error naming the path on failure.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace lieq
