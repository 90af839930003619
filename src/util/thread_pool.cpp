#include "util/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace lieq {

namespace {
// Index of the pool thread running the current task, -1 outside any task.
// A parallel_for called from inside a task runs serially on that thread.
thread_local int tls_task_thread = -1;
}  // namespace

int default_thread_count() {
  if (const char* s = std::getenv("LIEQ_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads > 0 ? n_threads : default_thread_count()) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, int64_t grain, const RangeFn& f) {
  if (end <= begin) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n = end - begin;
  const int64_t max_chunks = std::max<int64_t>(1, n / grain);
  // A few chunks per thread balance uneven work (causal attention rows).
  const int64_t n_chunks = std::min<int64_t>(max_chunks, int64_t(n_threads_) * 4);
  if (tls_task_thread >= 0) {
    f(begin, end, tls_task_thread);
    return;
  }
  if (n_threads_ == 1 || n_chunks == 1) {
    tls_task_thread = 0;
    try {
      f(begin, end, 0);
    } catch (...) {
      tls_task_thread = -1;
      throw;
    }
    tls_task_thread = -1;
    return;
  }
  // One job at a time: callers from different threads take turns.
  std::lock_guard<std::mutex> call_lock(call_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  job_ = &f;
  job_begin_ = begin;
  job_end_ = end;
  n_chunks_ = n_chunks;
  next_chunk_ = 0;
  pending_ = n_threads_ - 1;
  error_ = nullptr;
  ++generation_;
  cv_start_.notify_all();
  // The calling thread works too, as thread 0.
  run_chunks(lock, 0);
  cv_done_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::run_chunks(std::unique_lock<std::mutex>& lock, int thread) {
  while (next_chunk_ < n_chunks_) {
    // Chunk c is [begin + c * n / n_chunks, begin + (c + 1) * n / n_chunks):
    // sizes differ by at most one and none is below n / n_chunks >= grain.
    const int64_t c = next_chunk_++;
    const int64_t n = job_end_ - job_begin_;
    const int64_t b = job_begin_ + c * n / n_chunks_;
    const int64_t e = job_begin_ + (c + 1) * n / n_chunks_;
    const RangeFn* job = job_;
    lock.unlock();
    std::exception_ptr err;
    tls_task_thread = thread;
    try {
      (*job)(b, e, thread);
    } catch (...) {
      err = std::current_exception();
    }
    tls_task_thread = -1;
    lock.lock();
    if (err) {
      if (!error_) error_ = err;
      next_chunk_ = n_chunks_;  // hand out no more chunks
    }
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_start_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    run_chunks(lock, index);
    if (--pending_ == 0) cv_done_.notify_all();
  }
}

}  // namespace lieq
