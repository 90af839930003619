#include "eval/tasks.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq {
using json = nlohmann::json;

const char* task_format_name(TaskFormat f) {
  switch (f) {
    case TaskFormat::kMultipleChoice: return "multiple_choice";
    case TaskFormat::kWinogrande: return "winogrande";
    case TaskFormat::kLambada: return "lambada";
    case TaskFormat::kHellaswag: return "hellaswag";
  }
  return "?";
}

int64_t utf8_length(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Request move_trailing_space(const Request& r) {
  size_t end = r.context.size();
  while (end > 0 && std::isspace(static_cast<unsigned char>(r.context[end - 1]))) --end;
  Request out;
  out.context = r.context.substr(0, end);
  out.continuation = r.context.substr(end) + r.continuation;
  return out;
}

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      if (pos < text.size()) lines.push_back(text.substr(pos));
      break;
    }
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    pos = nl + 1;
  }
  return lines;
}

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r") == std::string::npos; }

std::string get_string(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) fail(where, ": \"", key, "\" must be a string");
  return it->get<std::string>();
}

int get_gold(const json& j, size_t n_choices, const std::string& where) {
  auto it = j.find("gold");
  if (it == j.end() || !it->is_number_integer()) fail(where, ": \"gold\" must be an integer");
  const int64_t g = it->get<int64_t>();
  if (g < 0 || size_t(g) >= n_choices)
    fail(where, ": gold ", g, " is out of range for ", n_choices, " choices");
  return int(g);
}

std::vector<std::string> get_string_array(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() < 2)
    fail(where, ": \"", key, "\" must be an array of at least 2 strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) fail(where, ": \"", key, "\" must hold strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

TaskFormat detect_jsonl_format(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": expected a JSON object");
  if (j.contains("query") && j.contains("choices")) return TaskFormat::kMultipleChoice;
  if (j.contains("context_options")) return TaskFormat::kWinogrande;
  if (j.contains("context") && j.contains("continuation")) return TaskFormat::kLambada;
  fail(where, ": unrecognised task item (expected query/choices/gold, "
              "context_options/continuation/gold or context/continuation)");
}

TaskItem parse_jsonl_item(const json& j, TaskFormat f, const std::string& where) {
  TaskItem item;
  switch (f) {
    case TaskFormat::kMultipleChoice: {
      const std::string query = get_string(j, "query", where);
      const auto choices = get_string_array(j, "choices", where);
      item.gold = get_gold(j, choices.size(), where);
      for (const auto& c : choices) {
        item.requests.push_back({query, " " + c});
        item.norm_texts.push_back(c);
      }
      break;
    }
    case TaskFormat::kWinogrande: {
      const auto options = get_string_array(j, "context_options", where);
      const std::string cont = get_string(j, "continuation", where);
      item.gold = get_gold(j, options.size(), where);
      for (const auto& o : options) {
        item.requests.push_back({o, " " + cont});
        item.norm_texts.push_back(cont);
      }
      break;
    }
    case TaskFormat::kLambada: {
      const std::string ctx = get_string(j, "context", where);
      const std::string cont = get_string(j, "continuation", where);
      if (is_blank(cont)) fail(where, ": empty continuation");
      item.requests.push_back({ctx, " " + cont});
      item.norm_texts.push_back(cont);
      item.gold = 0;
      break;
    }
    case TaskFormat::kHellaswag:
      break;
  }
  return item;
}

}  // namespace

Task load_task(const std::filesystem::path& path, int64_t limit) {
  const std::string text = read_text_file(path);
  const std::string p = path.string();
  Task task;
  task.path = path;
  task.name = path.stem().string();
  const std::vector<std::string> lines = split_lines(text);
  size_t first = 0;
  while (first < lines.size() && is_blank(lines[first])) ++first;
  if (first == lines.size()) fail(p, ": empty task file (no items)");
  auto full = [&] { return limit > 0 && int64_t(task.items.size()) >= limit; };

  const std::string& head = lines[first];
  const size_t nb = head.find_first_not_of(" \t");
  if (head[nb] == '{') {
    bool have_format = false;
    for (size_t i = first; i < lines.size() && !full(); ++i) {
      if (is_blank(lines[i])) continue;
      const std::string where = cat(p, ":", i + 1);
      json j;
      try {
        j = json::parse(lines[i]);
      } catch (const json::parse_error& e) {
        fail(where, ": malformed JSON: ", e.what());
      }
      const TaskFormat f = detect_jsonl_format(j, where);
      if (!have_format) {
        task.format = f;
        have_format = true;
      } else if (f != task.format) {
        fail(where, ": item format ", task_format_name(f), " differs from the file's ",
             task_format_name(task.format));
      }
      TaskItem item = parse_jsonl_item(j, f, where);
      item.line = int64_t(i + 1);
      task.items.push_back(std::move(item));
    }
  } else {
    // HellaSwag, llama.cpp layout: context, gold index, then 4 endings.
    task.format = TaskFormat::kHellaswag;
    size_t n = lines.size();
    while (n > first && is_blank(lines[n - 1])) --n;
    if ((n - first) % 6 != 0)
      fail(p, ": ", n - first, " lines is not a multiple of 6 (HellaSwag layout: context, gold, 4 endings)");
    for (size_t i = first; i < n && !full(); i += 6) {
      const std::string where = cat(p, ":", i + 2);
      TaskItem item;
      item.line = int64_t(i + 1);
      const std::string& g = lines[i + 1];
      if (g.size() != 1 || g[0] < '0' || g[0] > '3')
        fail(where, ": expected the gold ending index 0-3, got \"", g.substr(0, 40), "\"");
      item.gold = g[0] - '0';
      for (size_t e = 0; e < 4; ++e) {
        item.requests.push_back({lines[i], " " + lines[i + 2 + e]});
        item.norm_texts.push_back(lines[i + 2 + e]);
      }
      task.items.push_back(std::move(item));
    }
  }
  if (task.items.empty()) fail(p, ": no task items");
  return task;
}

}  // namespace lieq
