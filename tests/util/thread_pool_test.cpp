// ThreadPool::parallel_for: every index exactly once, chunk sizes honour the
// grain, thread indices in range, exceptions reach the caller, and the pool
// stays usable afterwards.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/thread_pool.h"

namespace lieq {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (int64_t begin : {int64_t(0), int64_t(5), int64_t(-7)}) {
      for (int64_t len : {0, 1, 2, 3, 7, 12, 13, 64, 100, 1001}) {
        for (int64_t grain : {-1, 0, 1, 2, 3, 5, 64, 10000}) {
          const int64_t end = begin + len;
          std::vector<std::atomic<int>> hits(static_cast<size_t>(len));
          std::atomic<int> bad_thread{0}, bad_range{0}, small_chunk{0}, calls{0};
          pool.parallel_for(begin, end, grain, [&](int64_t b, int64_t e, int t) {
            ++calls;
            if (t < 0 || t >= threads) ++bad_thread;
            if (b < begin || e > end || b >= e) {
              ++bad_range;
              return;
            }
            // Every chunk holds at least `grain` indices unless the whole
            // range is shorter than that.
            if (e - b < std::min<int64_t>(std::max<int64_t>(grain, 1), len)) ++small_chunk;
            for (int64_t i = b; i < e; ++i) ++hits[size_t(i - begin)];
          });
          SCOPED_TRACE(::testing::Message() << "threads " << threads << " begin " << begin
                                          << " len " << len << " grain " << grain);
          EXPECT_EQ(bad_thread, 0);
          EXPECT_EQ(bad_range, 0);
          EXPECT_EQ(small_chunk, 0);
          if (len == 0) {
            EXPECT_EQ(calls, 0);
          }
          for (int64_t i = 0; i < len; ++i) ASSERT_EQ(hits[size_t(i)], 1) << "index " << begin + i;
        }
      }
    }
  }
}

TEST(ThreadPool, EmptyAndReversedRangesCallNothing) {
  ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(5, 5, 1, [&](int64_t, int64_t, int) { ++calls; });
  pool.parallel_for(5, 2, 1, [&](int64_t, int64_t, int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, UsesSeveralThreadsForLargeRanges) {
  // Not guaranteed by the contract, but with blocking work every thread of a
  // 3-thread pool should get some of 3 * 4 chunks; check that more than one does.
  ThreadPool pool(3);
  std::mutex mu;
  std::vector<int> seen;
  pool.parallel_for(0, 12, 1, [&](int64_t, int64_t, int t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(t);
  });
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  EXPECT_GE(seen.size(), 2u);
}

TEST(ThreadPool, ManyConsecutiveJobs) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 2000; ++rep)
    pool.parallel_for(0, 10, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
  EXPECT_EQ(sum, 2000 * 45);
}

TEST(ThreadPool, ExceptionReachesTheCallerAndPoolStaysUsable) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t bad : {int64_t(0), int64_t(50), int64_t(99)}) {  // in every thread's share
      std::atomic<int> after{0};
      try {
        pool.parallel_for(0, 100, 1, [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) {
            if (i == bad) fail("index ", i, " failed");
            ++after;
          }
        });
        ADD_FAILURE() << "no exception, threads " << threads;
      } catch (const Error& e) {
        EXPECT_STREQ(e.what(), cat("index ", bad, " failed").c_str());
      }
      EXPECT_LT(after, 100);
      // The pool still runs complete jobs.
      std::vector<std::atomic<int>> hits(100);
      pool.parallel_for(0, 100, 1, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
      });
      for (const auto& h : hits) ASSERT_EQ(h, 1);
    }
  }
}

TEST(ThreadPool, ExceptionsInSeveralChunksRethrowOne) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(0, 64, 1,
                                 [&](int64_t, int64_t, int) { throw std::runtime_error("x"); }),
               std::runtime_error);
  std::atomic<int> n{0};
  pool.parallel_for(0, 64, 1, [&](int64_t b, int64_t e, int) { n += int(e - b); });
  EXPECT_EQ(n, 64);
}

TEST(ThreadPool, DefaultThreadCount) {
  EXPECT_GE(default_thread_count(), 1);
  ThreadPool pool;
  EXPECT_GE(pool.size(), 1);
  EXPECT_GE(ThreadPool::global().size(), 1);
  EXPECT_EQ(&ThreadPool::global(), &ThreadPool::global());
}

}  // namespace
}  // namespace lieq
