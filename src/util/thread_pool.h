// One explicit pool of worker threads, passed to whoever needs parallelism.
// parallel_for(begin, end, grain, f) splits [begin, end) into chunks of at
// least `grain` (or the whole range when it is shorter) and calls
// f(chunk_begin, chunk_end, thread_index) on them. An exception thrown by f
// stops the remaining chunks and is rethrown to the caller of parallel_for
// once every thread has left f. A parallel_for called from inside a task runs
// serially on the calling thread, with that thread's index.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
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
  // Takes chunks of the current job until none is left; lock holds mu_ on
  // entry and on return.
  void run_chunks(std::unique_lock<std::mutex>& lock, int thread);
  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // serialises parallel_for calls from different threads
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const RangeFn* job_ = nullptr;
  int64_t job_begin_ = 0, job_end_ = 0;
  int64_t next_chunk_ = 0, n_chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;  // first exception thrown by the current job
};

// Hardware threads to use: LIEQ_THREADS when set, else std::thread::hardware_concurrency.
int default_thread_count();

}  // namespace lieq
