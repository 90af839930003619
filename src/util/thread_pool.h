// One explicit pool of worker threads, passed to whoever needs parallelism.
// parallel_for(begin, end, grain, f) splits [begin, end) into chunks of at
// least `grain` and calls f(chunk_begin, chunk_end, thread_index) on them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lieq {

class ThreadPool {
 public:
  // n_threads <= 0: the number of hardware threads (or LIEQ_THREADS when set).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;
  void parallel_for(int64_t begin, int64_t end, int64_t grain, const RangeFn& f);

  // The process-wide default pool (created on first use).
  static ThreadPool& global();

 private:
  void worker(int index);
  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const RangeFn* job_ = nullptr;
  int64_t job_begin_ = 0, job_end_ = 0, job_chunk_ = 0;
  int64_t next_chunk_ = 0, n_chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Hardware threads to use: LIEQ_THREADS when set, else std::thread::hardware_concurrency.
int default_thread_count();

}  // namespace lieq
