// Progress on stderr: "label [i/n] 42% elapsed 3.1s ETA 4.2s". Redraws in place
// on a terminal, prints at most one line per ~5% otherwise (logs stay short).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lieq {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();
  // Sets the number of finished units; extra is appended to the line (e.g. "ppl 12.3").
  void update(int64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");
  double elapsed_seconds() const;

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int last_bucket_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Whether progress output is wanted (false when LIEQ_QUIET is set).
bool progress_enabled();

}  // namespace lieq
