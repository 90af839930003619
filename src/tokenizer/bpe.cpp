#include "tokenizer/bpe.h"

#include <cstdio>
#include <queue>
#include <utility>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace lieq {
namespace {

std::string hex_byte_token(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

// A possible merge of the symbol at pos with the next one.
struct Candidate {
  int32_t rank, pos, new_id;
  bool operator<(const Candidate& o) const {  // max-heap order: lowest rank, then leftmost, on top
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

// A symbol of the word being merged, in a linked list over the initial symbols.
struct BpeModel::Symbol {
  int32_t id;
  int32_t prev, next;
  uint32_t len;  // bytes; 0 = merged away
};

BpeModel::BpeModel(const BpeSpec& spec, TokenizerKind kind, const std::filesystem::path& origin)
    : byte_level_(kind == TokenizerKind::kByteLevelBpe),
      byte_fallback_(spec.byte_fallback),
      fuse_unk_(spec.fuse_unk),
      ignore_merges_(spec.ignore_merges),
      unk_(spec.unk_id) {
  vocab_.reserve(spec.vocab.size());
  for (const VocabEntry& e : spec.vocab) {
    if (e.id < 0 || e.id > kMaxTokenId)
      fail(origin.string(), ": model.vocab[\"", e.token, "\"]: id ", e.id, " out of range");
    vocab_[e.token] = e.id;
  }
  add_merges(spec, origin);
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    unicode::append_utf8(ch, unicode::byte_to_unicode(static_cast<uint8_t>(b)));
    auto it = vocab_.find(ch);
    byte_level_ids_[b] = it == vocab_.end() ? -1 : it->second;
    auto fb = vocab_.find(hex_byte_token(static_cast<uint8_t>(b)));
    fallback_ids_[b] = fb == vocab_.end() ? -1 : fb->second;
  }
}

void BpeModel::add_merges(const BpeSpec& spec, const std::filesystem::path& origin) {
  const std::vector<int32_t>& ranks = spec.merge_ranks;
  if (!ranks.empty() && ranks.size() != spec.merges.size())
    fail(origin.string(), ": ", ranks.size(), " merge ranks for ", spec.merges.size(), " merges");
  merges_text_.reserve(spec.merges.size());
  merges_.reserve(spec.merges.size() * 2);
  for (size_t i = 0; i < spec.merges.size(); ++i) {
    const std::string& left = spec.merges[i].left;
    const std::string& right = spec.merges[i].right;
    auto il = vocab_.find(left), ir = vocab_.find(right), im = vocab_.find(left + right);
    for (const auto& [it, name] : {std::pair{il, &left}, std::pair{ir, &right}})
      if (it == vocab_.end())
        fail(origin.string(), ": model.merges[", i, "] (\"", left, " ", right, "\"): token \"",
             *name, "\" is not in the vocabulary");
    if (im == vocab_.end())
      fail(origin.string(), ": model.merges[", i, "] (\"", left, " ", right, "\"): merged token \"",
           left + right, "\" is not in the vocabulary");
    const int32_t rank = ranks.empty() ? static_cast<int32_t>(i) : ranks[i];
    // A later duplicate wins, as in the library.
    merges_.insert_or_assign(pair_key(il->second, ir->second), MergeEntry{rank, im->second});
    merges_text_.push_back(left + " " + right);
  }
}

void BpeModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  compute(word, out);
  if (cacheable) {
    std::vector<int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }
}

void BpeModel::compute(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    const std::string key = byte_level_ ? unicode::bytes_to_gpt2(word) : std::string(word);
    auto it = vocab_.find(key);
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  initial_symbols(word, sym);
  if (sym.empty()) return;
  sym.back().next = -1;
  if (sym.size() > 1 && !merges_.empty()) merge_symbols(sym);
  for (const Symbol& s : sym)
    if (s.len != 0) out.push_back(s.id);
}

void BpeModel::initial_symbols(std::string_view word, std::vector<Symbol>& sym) const {
  auto push = [&](int32_t id, uint32_t len) {
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({id, i - 1, i + 1, len});
  };
  int32_t pending_unk_len = 0;
  bool pending_unk = false;
  for (size_t i = 0; i < word.size();) {
    uint32_t len = 1;
    int32_t id = -1;
    if (byte_level_) {
      id = byte_level_ids_[static_cast<uint8_t>(word[i])];
    } else {
      len = unicode::decode_utf8(word, i).len;
      auto it = vocab_.find(word.substr(i, len));
      if (it != vocab_.end()) id = it->second;
    }
    if (id >= 0) {
      if (pending_unk) push(unk_, static_cast<uint32_t>(pending_unk_len)), pending_unk = false;
      push(id, len);
    } else {
      bool done = false;
      if (byte_fallback_) {
        bool all = true;
        for (uint32_t k = 0; k < len; ++k)
          all = all && fallback_ids_[static_cast<uint8_t>(word[i + k])] >= 0;
        if (all) {
          for (uint32_t k = 0; k < len; ++k)
            push(fallback_ids_[static_cast<uint8_t>(word[i + k])], 1);
          done = true;
        }
      }
      if (!done && unk_ >= 0) {
        if (pending_unk && fuse_unk_) {
          pending_unk_len += static_cast<int32_t>(len);
        } else {
          if (pending_unk) push(unk_, static_cast<uint32_t>(pending_unk_len));
          pending_unk = true;
          pending_unk_len = static_cast<int32_t>(len);
        }
      }
    }
    i += len;
  }
  if (pending_unk) push(unk_, static_cast<uint32_t>(pending_unk_len));
}

void BpeModel::merge_symbols(std::vector<Symbol>& sym) const {
  auto find_merge = [&](int32_t a, int32_t b) -> const MergeEntry* {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  std::vector<Candidate> heap_storage;
  heap_storage.reserve(sym.size());
  std::priority_queue<Candidate> heap(std::less<Candidate>(), std::move(heap_storage));
  for (size_t i = 0; i + 1 < sym.size(); ++i)
    if (const MergeEntry* m = find_merge(sym[i].id, sym[i + 1].id))
      heap.push({m->rank, static_cast<int32_t>(i), m->new_id});
  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    Symbol& cur = sym[top.pos];
    if (cur.len == 0 || cur.next < 0) continue;
    const int32_t right_pos = cur.next;
    const Symbol right = sym[right_pos];
    const MergeEntry* m = find_merge(cur.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    sym[right_pos].len = 0;
    if (right.next >= 0) sym[right.next].prev = top.pos;
    if (cur.prev >= 0)
      if (const MergeEntry* pm = find_merge(sym[cur.prev].id, cur.id))
        heap.push({pm->rank, cur.prev, pm->new_id});
    if (cur.next >= 0)
      if (const MergeEntry* nm = find_merge(cur.id, sym[cur.next].id))
        heap.push({nm->rank, top.pos, nm->new_id});
  }
}

}  // namespace lieq
