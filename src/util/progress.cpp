#include "util/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace lieq {

bool progress_enabled() { return std::getenv("LIEQ_QUIET") == nullptr; }

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && progress_enabled()),
      tty_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

static std::string fmt_seconds(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), (int(s) % 3600) / 60);
  return buf;
}

void Progress::update(int64_t done, const std::string& extra) {
  if (!enabled_ || total_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const int bucket = int(20 * done / total_);
  if (tty_) {
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else if (bucket == last_bucket_ && done < total_) {
    return;
  }
  last_bucket_ = bucket;
  last_draw_ = now;
  const double el = elapsed_seconds();
  const double eta = done > 0 ? el * double(total_ - done) / double(done) : 0.0;
  std::fprintf(stderr, "%s%s [%lld/%lld] %3d%% elapsed %s ETA %s%s%s%s", tty_ ? "\r\033[K" : "",
               label_.c_str(), (long long)done, (long long)total_, int(100 * done / total_),
               fmt_seconds(el).c_str(), fmt_seconds(eta).c_str(), extra.empty() ? "" : " ",
               extra.c_str(), tty_ ? "" : "\n");
  std::fflush(stderr);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  if (!enabled_ || total_ <= 0) return;
  last_bucket_ = -1;
  enabled_ = true;
  const double el = elapsed_seconds();
  std::fprintf(stderr, "%s%s [%lld/%lld] done in %s%s%s\n", tty_ ? "\r\033[K" : "",
               label_.c_str(), (long long)total_, (long long)total_, fmt_seconds(el).c_str(),
               extra.empty() ? "" : " ", extra.c_str());
  std::fflush(stderr);
}

}  // namespace lieq
