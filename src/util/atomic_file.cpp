#include "util/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace lieq {

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  // The host too: processes on two machines sharing a directory (compare
  // shards on a cluster's file system) may have the same pid.
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  tmp_ = path_;
  tmp_ += cat(".tmp.", host, ".", ::getpid());
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail(path_.string(), ": cannot create: ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (f_) {
    std::fclose(f_);
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (!f_) fail(path_.string(), ": write after commit");
  if (n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n) fail(path_.string(), ": write failed: ", std::strerror(errno));
  offset_ += n;
}

void AtomicFile::commit() {
  // A second commit would pass a null FILE* to fflush (which then flushes
  // every stream) and fileno.
  if (!f_) fail(path_.string(), ": already committed");
  if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0)
    fail(path_.string(), ": write failed: ", std::strerror(errno));
  std::fclose(f_);
  f_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    std::filesystem::remove(tmp_, ec);
    fail(path_.string(), ": cannot rename temp file into place: ", ec.message());
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  AtomicFile f(path);
  f.write(contents);
  f.commit();
}

}  // namespace lieq
