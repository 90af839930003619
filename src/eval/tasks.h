// Zero-shot task files, recognised by content (not by file name):
//   {"query", "choices", "gold"} jsonl      PIQA, ARC, OpenBookQA, BoolQ, ...
//   {"context_options", "continuation", "gold"} jsonl   WinoGrande (partial scoring)
//   {"context", "continuation"} jsonl       LAMBADA (greedy exact match + perplexity)
//   6-line text items (context, gold index, 4 endings)   HellaSwag as llama.cpp ships it
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lieq {

enum class TaskFormat : uint8_t { kMultipleChoice, kWinogrande, kLambada, kHellaswag };
const char* task_format_name(TaskFormat f);

// One loglikelihood request: score of `continuation` after `context`.
struct Request {
  std::string context, continuation;
};

struct TaskItem {
  std::vector<Request> requests;        // one per choice (one for LAMBADA)
  std::vector<std::string> norm_texts;  // per choice: the text whose length normalises acc_norm
  int gold = 0;
  int64_t line = 0;                     // 1-based line of the item in its file
};

struct Task {
  std::string name;  // file stem
  std::filesystem::path path;
  TaskFormat format = TaskFormat::kMultipleChoice;
  std::vector<TaskItem> items;
};

// Reads a task file; limit > 0 keeps the first `limit` items. A malformed line
// throws Error "<file>:<line>: <problem>"; a file with no items is an error.
Task load_task(const std::filesystem::path& path, int64_t limit = 0);

// The harness's request preparation: trailing whitespace of the context moves
// to the front of the continuation.
Request move_trailing_space(const Request& r);

// Length in Unicode code points of UTF-8 text (Python's len()).
int64_t utf8_length(const std::string& s);

}  // namespace lieq
