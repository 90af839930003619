// lieq tokenize MODEL (--text T | --file F) [--decode] [--json] [--no-bos]
#include <iostream>
#include <sstream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq::cli {

namespace {
struct TokenizeArgs {
  std::string model, text, file;
  bool decode = false, json = false, no_bos = false;
};

// Reads ids separated by spaces, commas or brackets ("1 2 3", "[1, 2, 3]").
std::vector<int32_t> parse_ids(const std::string& s, const std::string& where) {
  std::vector<int32_t> ids;
  std::string cleaned = s;
  for (char& ch : cleaned)
    if (ch == ',' || ch == '[' || ch == ']' || ch == '\n' || ch == '\t') ch = ' ';
  std::istringstream in(cleaned);
  std::string tokstr;
  while (in >> tokstr) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tokstr, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != tokstr.size() || v < 0 || v > INT32_MAX)
      fail(where, ": \"", tokstr, "\" is not a token id");
    ids.push_back(int32_t(v));
  }
  return ids;
}

int run_tokenize(const TokenizeArgs& a) {
  const Tokenizer tok = Tokenizer::load(a.model);
  if (a.text.empty() == a.file.empty() && !(a.text.empty() && a.file.empty()))
    fail("tokenize: give either --text or --file, not both");
  const bool from_file = !a.file.empty();
  const std::string input = from_file ? read_text_file(a.file) : a.text;
  if (a.decode) {
    const std::vector<int32_t> ids = parse_ids(input, from_file ? a.file : "--text");
    for (int32_t id : ids)
      if (id >= tok.vocab_size())
        fail(from_file ? a.file : "--text", ": token id ", id, " out of range (vocab ",
             tok.vocab_size(), ")");
    const std::string text = tok.decode(ids);
    if (a.json)
      print_json({{"text", nlohmann::json(text)}});
    else
      std::cout << text << std::flush;
    return 0;
  }
  const std::vector<int32_t> ids = tok.encode(input, tok.add_bos() && !a.no_bos);
  if (a.json) {
    print_json({{"ids", ids}});
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}
}  // namespace

void add_tokenize(CLI::App& app, Action& action) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "Text to token ids (or --decode ids to text)");
  sub->add_option("model", args->model, "Model directory (tokenizer.json)")->required();
  auto* text = sub->add_option("--text", args->text, "Text to tokenize (or ids with --decode)");
  auto* file = sub->add_option("--file", args->file, "File to tokenize (or ids with --decode)");
  text->excludes(file);
  sub->add_flag("--decode", args->decode, "Decode token ids to text");
  sub->add_flag("--no-bos", args->no_bos, "Do not prepend BOS even when the tokenizer adds one");
  sub->add_flag("--json", args->json, "Print JSON ({\"ids\": [...]} or {\"text\": ...})");
  sub->callback([args, &action] {
    if (args->text.empty() && args->file.empty()) throw CLI::RequiredError("--text or --file");
    action = [args] { return run_tokenize(*args); };
  });
}

}  // namespace lieq::cli
