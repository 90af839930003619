// The tokenizer part of GGUF files (the tokenizer.ggml.* keys), both ways.
//
// Writing follows llama.cpp's convert_hf_to_gguf.py for the two families lieq
// reads:
//  - byte-level BPE (_set_vocab_gpt2): tokenizer.ggml.model "gpt2", .pre the
//    llama.cpp name of the split regexes, .tokens padded to n_vocab with
//    "[PAD<id>]", .token_type (NORMAL, CONTROL for special added tokens and
//    added tokens that look special "<|...|>", USER_DEFINED for other added
//    tokens, UNUSED for the padding), .merges ("left right" by rank).
//  - SentencePiece-style BPE from tokenizer.json (_set_vocab_llama_hf):
//    model "llama", pre "default", .tokens, .scores, .token_type (BYTE for
//    <0xXX>, CONTROL for the special tokens, USER_DEFINED for other added
//    tokens). llama.cpp's SPM tokenizer has no merges: it repeatedly joins the
//    adjacent pair whose concatenation is the token of highest score (leftmost
//    on ties). The converter's LlamaHfVocab gives every token -1000, which makes
//    llama.cpp join left to right; here a token made by a merge of rank r scores
//    -r (the lowest rank when several merges make it) and every other token
//    kNoMergeScore, so that llama.cpp merges in the tokenizer.json's rank order.
// Both then write the special ids (bos, eos, unk, padding),
// add_bos_token / add_eos_token and tokenizer.chat_template when
// tokenizer_config.json has one. The converter writes add_* only when
// tokenizer_config.json has them and leaves the rest to llama.cpp's defaults
// (which differ by model and pre name and between versions); they are always
// written here, with the tokenizer's own values (add_eos_token false: lieq never
// appends EOS). A SentencePiece tokenizer that puts no "▁" before the text
// also gets add_space_prefix false (llama.cpp's SPM default is true).
// A byte-level tokenizer whose regexes have no llama.cpp name is refused: for
// "gpt2" llama.cpp reads "default" (or no pre) as a regex list no Hugging Face
// tokenizer uses.
//
// Reading builds a TokenizerSpec straight from those keys (also files written
// by llama.cpp's own converter): a BPE model whose vocabulary is every token
// but the UNUSED ones, CONTROL/UNKNOWN tokens as special added tokens and
// USER_DEFINED ones as plain added tokens; for "gpt2" the merges and the split
// regexes of the pre name with the ByteLevel decoder; for "llama" merges
// derived from the scores as llama.cpp's SPM applies them (every pair of tokens
// whose concatenation is a token, ranked by that token's score, equal scores
// sharing a rank so that the leftmost pair goes first), byte fallback to
// <0xXX>, and the "▁" normalizer and decoder.
#pragma once

#include <cstdint>

#include "io/gguf.h"
#include "tokenizer/spec.h"
#include "tokenizer/tokenizer.h"

namespace lieq {

// Score of tokens of a "llama" vocabulary that no merge produces (below every
// merge's -rank, so that llama.cpp forms such a token only when nothing else applies).
inline constexpr float kNoMergeScore = -1e9f;

// Sets the tokenizer.ggml.* keys (and tokenizer.chat_template) of tok on w.
// n_vocab is the model's vocabulary size (rows of the token embedding): the
// token list is padded to it. Throws Error when n_vocab is smaller than the
// tokenizer's id space, when a byte-level tokenizer's split regexes have no
// llama.cpp pre-tokenizer name, or when two ids would get the same token text
// (llama.cpp refuses such files).
void write_gguf_tokenizer(GgufWriter& w, const Tokenizer& tok, int64_t n_vocab);

// The spec of the tokenizer described by r's tokenizer.ggml.* keys (origin
// r.path()). Throws Error naming r.path() and the key for an unknown model or
// pre name, a missing token list, arrays of the wrong type or length,
// duplicate tokens, malformed merges or special ids out of range.
TokenizerSpec tokenizer_spec_from_gguf(const GgufReader& r);

// Tokenizer::from_spec(tokenizer_spec_from_gguf(r)).
Tokenizer tokenizer_from_gguf(const GgufReader& r);

}  // namespace lieq
