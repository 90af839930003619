// Process facts for reports: peak resident memory.
#pragma once

#include <cstdint>

namespace lieq {

// Peak resident set size of this process so far, in bytes (getrusage).
int64_t peak_rss_bytes();

}  // namespace lieq
