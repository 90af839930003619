// GGUF reading and writing: round trips of every metadata value type and of
// tensors of several ggml types, the exact byte layout of a small file, the
// streaming writer against the in-memory one, custom alignment, hand-built
// corrupt files (each must throw lieq::Error naming the file and the problem),
// truncation at every byte and seeded random byte flips (parse or throw, never
// crash).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "expect_error.h"
#include "io/gguf.h"
#include "format/ggml_formats.h"
#include "test_support.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A hand-built GGUF byte string (little-endian), independent of GgufWriter.
struct Raw {
  std::string b;
  template <typename T>
  Raw& put(T v) {
    char c[sizeof(T)];
    std::memcpy(c, &v, sizeof(T));
    b.append(c, sizeof(T));
    return *this;
  }
  Raw& u8(uint8_t v) { return put(v); }
  Raw& u32(uint32_t v) { return put(v); }
  Raw& u64(uint64_t v) { return put(v); }
  Raw& i64(int64_t v) { return put(v); }
  Raw& str(const std::string& s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Raw& zeros(size_t n) {
    b.append(n, '\0');
    return *this;
  }
  Raw& pad_to(size_t a) {
    while (b.size() % a) b += '\0';
    return *this;
  }
  // A tensor info: name, dims, ggml type id, offset.
  Raw& tensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t type,
              uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) i64(d);
    return u32(type).u64(offset);
  }
};

Raw header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Raw r;
  r.b = "GGUF";
  return r.u32(version).u64(n_tensors).u64(n_kv);
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

// Replaces the file with a new one: rewriting a file in place through a
// truncating open makes ext4 flush it to disk on close (auto_da_alloc), which
// slows the thousands of rewrites below by ~100x.
void write_fresh(const fs::path& path, const std::string& bytes) {
  fs::remove(path);
  testing::write_bytes(path, bytes);
}

// Writes bytes to dir/name, expects GgufReader to throw lieq::Error whose
// message contains the path and every word.
void expect_bad(const testing::TempDir& dir, const std::string& bytes,
                std::initializer_list<std::string> words, const std::string& name = "bad.gguf") {
  const fs::path path = dir / name;
  write_fresh(path, bytes);
  const std::string msg = testing::error_message([&] { GgufReader r(path); });
  EXPECT_THAT(msg, HasSubstr(path.string()));
  for (const std::string& w : words) EXPECT_THAT(msg, HasSubstr(w));
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Every metadata value type, with edge values, in one list.
std::vector<std::pair<std::string, GgufValue>> all_value_kinds() {
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("u8", uint8_t{255});
  kv.emplace_back("i8", int8_t{-128});
  kv.emplace_back("u16", uint16_t{65535});
  kv.emplace_back("i16", int16_t{-32768});
  kv.emplace_back("u32", uint32_t{4000000000u});
  kv.emplace_back("i32", int32_t{std::numeric_limits<int32_t>::min()});
  kv.emplace_back("f32", 1.0f / 3.0f);
  kv.emplace_back("f32.inf", -std::numeric_limits<float>::infinity());
  kv.emplace_back("bool.t", true);
  kv.emplace_back("bool.f", false);
  kv.emplace_back("str", "hello");
  kv.emplace_back("str.empty", "");
  kv.emplace_back("str.unicode", "héllo wörld ✓ 日本語 🦙");
  kv.emplace_back("str.nul", std::string("a\0b", 3));
  kv.emplace_back("u64", uint64_t{std::numeric_limits<uint64_t>::max()});
  kv.emplace_back("i64", int64_t{std::numeric_limits<int64_t>::min()});
  kv.emplace_back("f64", 2.718281828459045);
  kv.emplace_back("arr.u8", std::vector<uint8_t>{0, 1, 255});
  kv.emplace_back("arr.i8", std::vector<int8_t>{-128, 0, 127});
  kv.emplace_back("arr.u16", std::vector<uint16_t>{0, 65535});
  kv.emplace_back("arr.i16", std::vector<int16_t>{-32768, 32767, 5});
  kv.emplace_back("arr.u32", std::vector<uint32_t>{1, 2, 3, 4000000000u});
  kv.emplace_back("arr.i32", std::vector<int32_t>{-1, 0, 1, 151643});
  kv.emplace_back("arr.f32", std::vector<float>{0.5f, -0.0f, 1e-30f, 3.4e38f});
  kv.emplace_back("arr.bool", std::vector<bool>{true, false, true});
  kv.emplace_back("arr.str", std::vector<std::string>{"a", "", "Ġthe", "日本", std::string(300, 'x')});
  kv.emplace_back("arr.u64", std::vector<uint64_t>{std::numeric_limits<uint64_t>::max(), 0});
  kv.emplace_back("arr.i64", std::vector<int64_t>{-5, std::numeric_limits<int64_t>::max()});
  kv.emplace_back("arr.f64", std::vector<double>{1e300, -1e-300});
  kv.emplace_back("arr.empty.f32", std::vector<float>{});
  kv.emplace_back("arr.empty.str", std::vector<std::string>{});
  // Nested: an array of arrays of differing element types and lengths, and
  // an array of arrays of arrays.
  kv.emplace_back("arr.nested",
                  std::vector<GgufValue>{GgufValue(std::vector<int32_t>{1, 2}),
                                         GgufValue(std::vector<std::string>{"x", "", "yz"}),
                                         GgufValue(std::vector<float>{})});
  kv.emplace_back("arr.nested2",
                  std::vector<GgufValue>{GgufValue(std::vector<GgufValue>{
                      GgufValue(std::vector<uint8_t>{7}), GgufValue(std::vector<GgufValue>{})})});
  kv.emplace_back("arr.nested.empty", std::vector<GgufValue>{});
  return kv;
}

// ---------------------------------------------------------------- values

TEST(GgufValue, TypedConstructorsPickTheExactType) {
  EXPECT_EQ(GgufValue(uint8_t{1}).type(), GgufType::kUint8);
  EXPECT_EQ(GgufValue(int8_t{1}).type(), GgufType::kInt8);
  EXPECT_EQ(GgufValue(uint16_t{1}).type(), GgufType::kUint16);
  EXPECT_EQ(GgufValue(int16_t{1}).type(), GgufType::kInt16);
  EXPECT_EQ(GgufValue(7u).type(), GgufType::kUint32);
  EXPECT_EQ(GgufValue(7).type(), GgufType::kInt32);
  EXPECT_EQ(GgufValue(1.5f).type(), GgufType::kFloat32);
  EXPECT_EQ(GgufValue(true).type(), GgufType::kBool);
  EXPECT_EQ(GgufValue("x").type(), GgufType::kString);
  EXPECT_EQ(GgufValue(std::string("x")).type(), GgufType::kString);
  EXPECT_EQ(GgufValue(uint64_t{1}).type(), GgufType::kUint64);
  EXPECT_EQ(GgufValue(size_t{1}).type(), GgufType::kUint64);
  EXPECT_EQ(GgufValue(int64_t{1}).type(), GgufType::kInt64);
  EXPECT_EQ(GgufValue(1.5).type(), GgufType::kFloat64);
  const GgufValue a(std::vector<std::string>{"a", "b"});
  EXPECT_TRUE(a.is_array());
  EXPECT_EQ(a.array_type(), GgufType::kString);
  EXPECT_EQ(a.array_size(), 2u);
  EXPECT_EQ(a.type_name(), "array of string");
  EXPECT_THAT(a.as_string_array(), ElementsAre("a", "b"));
  EXPECT_EQ(GgufValue(std::vector<GgufValue>{a}).array_type(), GgufType::kArray);
  EXPECT_EQ(GgufValue(std::vector<bool>{true, false}).as_bool_array(),
            (std::vector<bool>{true, false}));
}

TEST(GgufValue, MismatchedAccessorThrowsNamingTheKey) {
  GgufValue v(uint32_t{5});
  v.set_context("model.gguf: key 'llama.block_count'");
  EXPECT_EQ(v.as_u32(), 5u);
  EXPECT_LIEQ_ERROR(v.as_i32(), "model.gguf: key 'llama.block_count'", "expected int32",
                    "got uint32");
  EXPECT_LIEQ_ERROR(v.as_string(), "llama.block_count", "expected string");
  EXPECT_LIEQ_ERROR(v.as_f32_array(), "llama.block_count", "expected array of float32");
  EXPECT_LIEQ_ERROR(v.array_size(), "llama.block_count", "expected array");
  GgufValue s(std::vector<std::string>{"x"});
  s.set_context("key 'tokens'");
  EXPECT_LIEQ_ERROR(s.as_i32_array(), "key 'tokens'", "expected array of int32",
                    "got array of string");
  // A scalar cannot be an element of an array of arrays.
  EXPECT_LIEQ_ERROR(GgufValue(std::vector<GgufValue>{GgufValue(1)}), "element 0", "not an array");
}

TEST(GgufValue, LenientIntegerAndFloatAccessors) {
  EXPECT_EQ(GgufValue(uint8_t{200}).as_int(), 200);
  EXPECT_EQ(GgufValue(int16_t{-3}).as_int(), -3);
  EXPECT_EQ(GgufValue(uint32_t{4000000000u}).as_uint(), 4000000000u);
  EXPECT_EQ(GgufValue(uint64_t{1} << 63).as_uint(), uint64_t{1} << 63);
  EXPECT_LIEQ_ERROR(GgufValue(uint64_t{1} << 63).as_int(), "does not fit");
  EXPECT_LIEQ_ERROR(GgufValue(int32_t{-1}).as_uint(), ">= 0");
  EXPECT_LIEQ_ERROR(GgufValue(1.0f).as_int(), "integer");
  EXPECT_EQ(GgufValue(0.25f).as_float(), 0.25);
  EXPECT_EQ(GgufValue(0.125).as_float(), 0.125);
  EXPECT_LIEQ_ERROR(GgufValue(true).as_float(), "float");
}

TEST(GgufValue, ToString) {
  EXPECT_EQ(GgufValue(uint8_t{7}).to_string(), "7");
  EXPECT_EQ(GgufValue(true).to_string(), "true");
  EXPECT_EQ(GgufValue("a\"b\n").to_string(), "\"a\\\"b\\x0a\"");
  EXPECT_EQ(GgufValue(std::vector<int32_t>{1, 2, 3, 4}).to_string(2), "[1, 2, ... (4 total)]");
  EXPECT_EQ(GgufValue(std::vector<GgufValue>{GgufValue(std::vector<bool>{false})}).to_string(),
            "[[false]]");
}

// ---------------------------------------------------------------- round trips

TEST(GgufRoundTrip, MetadataOfEveryValueType) {
  testing::TempDir tmp;
  const fs::path path = tmp / "meta.gguf";
  const auto kv = all_value_kinds();
  GgufWriter w;
  for (const auto& [k, v] : kv) w.set(k, v);
  w.write(path);
  // Written atomically: only the destination is in the directory.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);

  GgufReader r(path);
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), 32u);
  EXPECT_TRUE(r.tensors().empty());
  ASSERT_EQ(r.metadata().size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(r.metadata()[i].first, kv[i].first);
    EXPECT_TRUE(r.metadata()[i].second == kv[i].second)
        << kv[i].first << ": " << r.metadata()[i].second.to_string() << " vs "
        << kv[i].second.to_string();
  }
  EXPECT_EQ(r.get("u8").as_u8(), 255);
  EXPECT_EQ(r.get("str.unicode").as_string(), "héllo wörld ✓ 日本語 🦙");
  EXPECT_EQ(r.get("str.nul").as_string(), std::string("a\0b", 3));
  EXPECT_EQ(r.get("str.empty").as_string(), "");
  EXPECT_EQ(r.get("u64").as_u64(), std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(std::signbit(r.get("arr.f32").as_f32_array()[1]));
  EXPECT_THAT(r.get("arr.str").as_string_array(),
              ElementsAre("a", "", "Ġthe", "日本", std::string(300, 'x')));
  const auto& nested = r.get("arr.nested").as_array_of_arrays();
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_THAT(nested[0].as_i32_array(), ElementsAre(1, 2));
  EXPECT_THAT(nested[1].as_string_array(), ElementsAre("x", "", "yz"));
  EXPECT_TRUE(nested[2].as_f32_array().empty());
  const auto& deep = r.get("arr.nested2").as_array_of_arrays()[0].as_array_of_arrays();
  EXPECT_THAT(deep[0].as_u8_array(), ElementsAre(7));
  EXPECT_EQ(deep[1].array_type(), GgufType::kArray);
  EXPECT_EQ(deep[1].array_size(), 0u);
  // Lookups and their errors name the file and key.
  EXPECT_EQ(r.find("nope"), nullptr);
  EXPECT_LIEQ_ERROR(r.get("nope"), path.string(), "missing metadata key 'nope'");
  EXPECT_LIEQ_ERROR(r.get("u32").as_i32(), path.string(), "key 'u32'", "expected int32");
}

TEST(GgufRoundTrip, SetReplacesInPlaceAndKeepsInsertionOrder) {
  testing::TempDir tmp;
  GgufWriter w;
  w.set("b", 1);
  w.set("a", "x");
  w.set("c", 2.5f);
  w.set("a", std::vector<int32_t>{9});
  w.write(tmp / "o.gguf");
  GgufReader r(tmp / "o.gguf");
  ASSERT_EQ(r.metadata().size(), 3u);
  EXPECT_EQ(r.metadata()[0].first, "b");
  EXPECT_EQ(r.metadata()[1].first, "a");
  EXPECT_EQ(r.metadata()[2].first, "c");
  EXPECT_THAT(r.get("a").as_i32_array(), ElementsAre(9));
}

struct TensorCase {
  std::string name;
  std::vector<int64_t> shape;
  GgmlType type;
  size_t nbytes;  // expected, computed by hand
};

std::vector<TensorCase> tensor_cases() {
  return {
      {"tok_embd.weight", {7, 3}, GgmlType::F32, 7 * 3 * 4},
      {"norm.weight", {5}, GgmlType::F16, 5 * 2},
      {"blk.0.attn_q.weight", {96, 5}, GgmlType::Q8_0, 3 * 34 * 5},
      {"blk.0.ffn_down.weight", {512, 3}, GgmlType::Q4_K, 2 * 144 * 3},
      {"x4d", {32, 1, 3, 2}, GgmlType::Q4_0, 18 * 6},
      {"one", {1}, GgmlType::F32, 4},
  };
}

// Writes the tensor cases (data from random_bytes(nbytes, index)) plus some
// metadata with the given writer setup.
void add_cases(GgufWriter& w, bool stream_some) {
  w.set("general.architecture", "llama");
  w.set("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "▁a"});
  const auto cases = tensor_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto data = random_bytes(cases[i].nbytes, uint32_t(i));
    if (stream_some && i % 2 == 0)
      w.declare_tensor(cases[i].name, cases[i].shape, cases[i].type);
    else
      w.add_tensor(cases[i].name, cases[i].shape, cases[i].type, data.data(), data.size());
  }
}

void check_cases(const GgufReader& r, uint32_t alignment) {
  const auto cases = tensor_cases();
  EXPECT_EQ(r.alignment(), alignment);
  EXPECT_EQ(r.data_offset() % alignment, 0u);
  ASSERT_EQ(r.tensors().size(), cases.size());
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const GgufTensorInfo& t = r.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, cases[i].name);
    EXPECT_EQ(t.shape, cases[i].shape);
    EXPECT_EQ(t.type, cases[i].type);
    EXPECT_EQ(t.nbytes, cases[i].nbytes);
    EXPECT_EQ(t.nbytes, ggml_row_size(t.type, t.shape[0]) * size_t(t.rows()));
    EXPECT_EQ(t.offset % alignment, 0u);
    EXPECT_EQ(t.offset, expected_offset);  // consecutive, each padded (as ggml lays them out)
    expected_offset += align_up(t.nbytes, alignment);
    ASSERT_NE(t.data, nullptr);
    const auto want = random_bytes(t.nbytes, uint32_t(i));
    EXPECT_EQ(std::memcmp(t.data, want.data(), t.nbytes), 0);
    // Padding after the data is zero.
    const uint64_t pad = align_up(t.nbytes, alignment) - t.nbytes;
    for (uint64_t k = 0; k < pad; ++k) ASSERT_EQ(t.data[t.nbytes + k], 0) << k;
    EXPECT_EQ(r.find_tensor(t.name), &t);
  }
  // The file ends with the last tensor's padding.
  EXPECT_EQ(r.file_size(), r.data_offset() + expected_offset);
  EXPECT_EQ(r.find_tensor("missing"), nullptr);
  EXPECT_LIEQ_ERROR(r.get_tensor("missing"), r.path().string(), "missing tensor 'missing'");
}

TEST(GgufRoundTrip, TensorsOfSeveralTypesWithOddShapes) {
  testing::TempDir tmp;
  const fs::path path = tmp / "t.gguf";
  GgufWriter w;
  add_cases(w, false);
  w.write(path);
  GgufReader r(path);
  check_cases(r, 32);
  EXPECT_EQ(r.get("general.architecture").as_string(), "llama");
  EXPECT_EQ(r.get_tensor("x4d").numel(), 32 * 3 * 2);
  EXPECT_EQ(r.get_tensor("x4d").rows(), 6);
  // The writer's infos carry the same offsets.
  ASSERT_EQ(w.tensors().size(), r.tensors().size());
  for (size_t i = 0; i < r.tensors().size(); ++i)
    EXPECT_EQ(w.tensors()[i].offset, r.tensors()[i].offset);
  // A moved reader keeps valid data pointers.
  GgufReader moved(std::move(r));
  check_cases(moved, 32);
}

TEST(GgufRoundTrip, CustomAlignmentIsRespected) {
  testing::TempDir tmp;
  for (uint32_t a : {1u, 8u, 64u, 256u}) {
    SCOPED_TRACE(a);
    const fs::path path = tmp / ("a" + std::to_string(a) + ".gguf");
    GgufWriter w;
    w.set("general.alignment", a);
    EXPECT_EQ(w.alignment(), a);
    add_cases(w, false);
    w.write(path);
    GgufReader r(path);
    check_cases(r, a);
  }
  GgufWriter w;
  EXPECT_LIEQ_ERROR(w.set("general.alignment", 48u), "general.alignment", "power of two");
  EXPECT_LIEQ_ERROR(w.set("general.alignment", 0u), "power of two");
  EXPECT_LIEQ_ERROR(w.set("general.alignment", 64), "general.alignment", "uint32");
}

TEST(GgufRoundTrip, ExactBytesOfASmallFile) {
  testing::TempDir tmp;
  const fs::path path = tmp / "small.gguf";
  const float v[3] = {1.0f, -2.0f, 0.5f};
  const uint16_t h[2] = {0x3c00, 0xc000};
  GgufWriter w;
  w.set("general.name", "tiny");
  w.set("n", uint32_t{7});
  w.set("ids", std::vector<int32_t>{-1, 2});
  w.add_tensor("a", {3}, GgmlType::F32, v, sizeof v);
  w.add_tensor("b", {2}, GgmlType::F16, h, sizeof h);
  w.write(path);

  Raw want = header(2, 3);
  want.str("general.name").u32(8).str("tiny");
  want.str("n").u32(4).u32(7);
  want.str("ids").u32(9).u32(5).u64(2).put<int32_t>(-1).put<int32_t>(2);
  want.tensor("a", {3}, 0, 0).tensor("b", {2}, 1, 32);
  want.pad_to(32);
  const size_t data_start = want.b.size();
  want.b.append(reinterpret_cast<const char*>(v), sizeof v);
  want.pad_to(32);
  want.b.append(reinterpret_cast<const char*>(h), sizeof h);
  want.pad_to(32);
  EXPECT_EQ(data_start % 32, 0u);
  EXPECT_EQ(testing::read_bytes(path), want.b);
}

TEST(GgufRoundTrip, ReadsVersion2AndFilesWithoutTensors) {
  testing::TempDir tmp;
  Raw v2 = header(1, 1, 2);
  v2.str("k").u32(5).put<int32_t>(-3).tensor("t", {2}, 0, 0).pad_to(32).zeros(8);
  testing::write_bytes(tmp / "v2.gguf", v2.b);
  GgufReader r(tmp / "v2.gguf");
  EXPECT_EQ(r.version(), 2u);
  EXPECT_EQ(r.get("k").as_i32(), -3);
  ASSERT_EQ(r.tensors().size(), 1u);
  EXPECT_EQ(r.tensors()[0].nbytes, 8u);

  // No metadata, no tensors: 24 bytes and nothing else.
  testing::write_bytes(tmp / "empty.gguf", header(0, 0).b);
  GgufReader e(tmp / "empty.gguf");
  EXPECT_TRUE(e.metadata().empty());
  EXPECT_TRUE(e.tensors().empty());
  GgufWriter w;
  w.write(tmp / "empty2.gguf");
  EXPECT_EQ(testing::read_bytes(tmp / "empty2.gguf"), header(0, 0).pad_to(32).b);
}

// ---------------------------------------------------------------- streaming

TEST(GgufStreaming, EqualsInMemoryWriterByteForByte) {
  testing::TempDir tmp;
  GgufWriter mem;
  add_cases(mem, false);
  mem.write(tmp / "mem.gguf");

  // All tensors declared, then streamed.
  GgufWriter st;
  st.set("general.architecture", "llama");
  st.set("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "▁a"});
  const auto cases = tensor_cases();
  for (const auto& c : cases) st.declare_tensor(c.name, c.shape, c.type);
  st.write_header(tmp / "st.gguf");
  EXPECT_FALSE(fs::exists(tmp / "st.gguf"));  // nothing at the destination before commit
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(st.next_tensor(), cases[i].name);
    const auto data = random_bytes(cases[i].nbytes, uint32_t(i));
    st.write_tensor_data(cases[i].name, data.data(), data.size());
  }
  EXPECT_EQ(st.next_tensor(), "");
  st.commit();

  // Mixed: tensors with data are written by themselves when their turn comes.
  GgufWriter mixed;
  add_cases(mixed, true);
  mixed.write_header(tmp / "mixed.gguf");
  for (size_t i = 0; i < cases.size(); i += 2) {
    const auto data = random_bytes(cases[i].nbytes, uint32_t(i));
    mixed.write_tensor_data(cases[i].name, data.data(), data.size());
  }
  mixed.commit();

  const std::string a = testing::read_bytes(tmp / "mem.gguf");
  EXPECT_EQ(testing::read_bytes(tmp / "st.gguf"), a);
  EXPECT_EQ(testing::read_bytes(tmp / "mixed.gguf"), a);
  check_cases(GgufReader(tmp / "st.gguf"), 32);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 3);
}

TEST(GgufStreaming, MisuseThrowsAndLeavesNothingBehind) {
  testing::TempDir tmp;
  const fs::path path = tmp / "s.gguf";
  const auto data = random_bytes(96 * 5 / 32 * 34, 1);
  {
    GgufWriter w;
    w.declare_tensor("a", {96, 5}, GgmlType::Q8_0);
    w.declare_tensor("b", {4}, GgmlType::F32);
    EXPECT_LIEQ_ERROR(w.write(path), path.string(), "tensor 'a'", "without data");
    EXPECT_LIEQ_ERROR(w.write_tensor_data("a", data.data(), data.size()), "before write_header");
    w.write_header(path);
    EXPECT_LIEQ_ERROR(w.set("k", 1), "after write_header");
    EXPECT_LIEQ_ERROR(w.declare_tensor("c", {4}, GgmlType::F32), "after write_header");
    EXPECT_LIEQ_ERROR(w.write_tensor_data("b", data.data(), 16), path.string(), "expected tensor 'a'",
                      "declaration order");
    EXPECT_LIEQ_ERROR(w.write_tensor_data("a", data.data(), data.size() - 1), path.string(),
                      "tensor 'a'", "expected 510");
    w.write_tensor_data("a", data.data(), data.size());
    EXPECT_LIEQ_ERROR(w.commit(), path.string(), "tensor 'b'", "never written");
  }
  // Destroyed without commit: no destination and no temp file.
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter w;
  const auto data = random_bytes(4096, 2);
  EXPECT_LIEQ_ERROR(w.add_tensor("a", {7, 3}, GgmlType::F32, data.data(), 80), "tensor 'a'",
                    "has 80 bytes", "expected 84");
  EXPECT_LIEQ_ERROR(w.add_tensor("q", {100}, GgmlType::Q4_K, data.data(), 144), "tensor 'q'",
                    "not a multiple", "256");
  EXPECT_LIEQ_ERROR(w.declare_tensor("z", {4, 0}, GgmlType::F32), "dimension 1 is 0");
  EXPECT_LIEQ_ERROR(w.declare_tensor("s", {}, GgmlType::F32), "0 dimensions");
  EXPECT_LIEQ_ERROR(w.declare_tensor("five", {1, 1, 1, 1, 1}, GgmlType::F32), "5 dimensions");
  EXPECT_LIEQ_ERROR(w.declare_tensor("big", {int64_t{1} << 40, int64_t{1} << 40}, GgmlType::F32),
                    "overflow");
  EXPECT_LIEQ_ERROR(w.declare_tensor(std::string(64, 'n'), {4}, GgmlType::F32), "64 bytes",
                    "llama.cpp");
  w.declare_tensor(std::string(63, 'n'), {4}, GgmlType::F32);
  w.add_tensor("ok", {4}, GgmlType::F32, data.data(), 16);
  EXPECT_LIEQ_ERROR(w.declare_tensor("ok", {4}, GgmlType::F32), "duplicate tensor name 'ok'");
  EXPECT_LIEQ_ERROR(w.set("", 1), "empty metadata key");
  EXPECT_EQ(w.tensors().size(), 2u);
}

// ---------------------------------------------------------------- corrupt files

// A valid file built by hand: one u32 KV and one F32 [8] tensor.
Raw valid_prefix_kv() {
  Raw r = header(1, 1);
  return r.str("general.alignment").u32(4).u32(32);
}

TEST(GgufCorrupt, BadMagicAndVersions) {
  testing::TempDir tmp;
  Raw bad = header(0, 0);
  bad.b[0] = 'X';
  expect_bad(tmp, bad.b, {"not a GGUF file", "bad magic"});
  expect_bad(tmp, header(0, 0, 1).b, {"unsupported GGUF version 1"});
  expect_bad(tmp, header(0, 0, 4).b, {"unsupported GGUF version 4"});
  expect_bad(tmp, header(0, 0, 0x03000000).b, {"version", "big-endian"});
  expect_bad(tmp, "", {"truncated", "magic"});
  expect_bad(tmp, "GGUF\x03", {"truncated", "version"});
}

TEST(GgufCorrupt, StringLengthOverrunsTheFile) {
  testing::TempDir tmp;
  Raw r = header(0, 1);
  r.u64(1000).b += "short";
  expect_bad(tmp, r.b, {"truncated", "metadata key 0", "length 1000"});
  Raw v = header(0, 1);
  v.str("k").u32(8).u64(std::numeric_limits<uint64_t>::max()).b += "x";
  expect_bad(tmp, v.b, {"truncated", "key 'k'", "length 18446744073709551615"});
  Raw t = header(1, 0);
  t.u64(uint64_t{1} << 62).b += std::string(40, 'a');
  expect_bad(tmp, t.b, {"truncated", "name of tensor 0"});
}

TEST(GgufCorrupt, ArrayCountOverflow) {
  testing::TempDir tmp;
  for (uint64_t n : {uint64_t{1} << 62, std::numeric_limits<uint64_t>::max(), uint64_t{3}}) {
    SCOPED_TRACE(n);
    Raw r = header(0, 1);
    r.str("arr").u32(9).u32(4).u64(n).u32(1).u32(2);  // 2 of n uint32 present
    expect_bad(tmp, r.b, {"truncated", "key 'arr'", "array of " + std::to_string(n) + " uint32"});
  }
  // Strings: each needs 8 bytes at least.
  Raw s = header(0, 1);
  s.str("arr").u32(9).u32(8).u64(5).zeros(39);
  expect_bad(tmp, s.b, {"truncated", "array of 5 string"});
  // Counts of KV pairs and tensors.
  expect_bad(tmp, header(0, uint64_t{1} << 60).b, {"truncated", "metadata entries"});
  expect_bad(tmp, header(std::numeric_limits<uint64_t>::max(), 0).b, {"truncated", "tensor infos"});
}

TEST(GgufCorrupt, UnknownValueTypes) {
  testing::TempDir tmp;
  Raw r = header(0, 1);
  r.str("k").u32(13).u32(0);
  expect_bad(tmp, r.b, {"key 'k'", "unknown value type 13"});
  Raw a = header(0, 1);
  a.str("k").u32(9).u32(0xffffffffu).u64(0);
  expect_bad(tmp, a.b, {"key 'k'", "array element type", "unknown value type 4294967295"});
}

TEST(GgufCorrupt, TooDeeplyNestedArrays) {
  testing::TempDir tmp;
  Raw r = header(0, 1);
  r.str("deep");
  r.u32(9);
  for (int i = 0; i < 100; ++i) r.u32(9).u64(1);
  r.u32(0).u64(0);
  expect_bad(tmp, r.b, {"key 'deep'", "nested"});
}

TEST(GgufCorrupt, DuplicateKeysAndBadAlignment) {
  testing::TempDir tmp;
  Raw d = header(0, 2);
  d.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  expect_bad(tmp, d.b, {"duplicate metadata key 'k'"});
  Raw a = header(0, 1);
  a.str("general.alignment").u32(4).u32(48);
  expect_bad(tmp, a.b, {"general.alignment", "48", "not a power of two"});
  Raw z = header(0, 1);
  z.str("general.alignment").u32(4).u32(0);
  expect_bad(tmp, z.b, {"not a power of two"});
  Raw t = header(0, 1);
  t.str("general.alignment").u32(10).u64(32);
  expect_bad(tmp, t.b, {"general.alignment", "uint64", "must be uint32"});
}

TEST(GgufCorrupt, BadTensorInfos) {
  testing::TempDir tmp;
  auto one = [](const std::vector<int64_t>& ne, uint32_t type, uint64_t offset, size_t data) {
    Raw r = valid_prefix_kv();
    r.tensor("w", ne, type, offset).pad_to(32).zeros(data);
    return r.b;
  };
  // The valid baseline parses.
  testing::write_bytes(tmp / "ok.gguf", one({8}, 0, 0, 32));
  EXPECT_EQ(GgufReader(tmp / "ok.gguf").tensors().at(0).nbytes, 32u);

  expect_bad(tmp, one({8}, 4, 0, 32), {"tensor 'w'", "unknown or unsupported ggml type id 4"});
  expect_bad(tmp, one({8}, 999, 0, 32), {"tensor 'w'", "ggml type id 999"});
  expect_bad(tmp, one({int64_t{1} << 32, int64_t{1} << 32}, 0, 0, 32), {"tensor 'w'", "overflow"});
  expect_bad(tmp, one({int64_t{1} << 62}, 0, 0, 32), {"tensor 'w'", "overflow"});
  expect_bad(tmp, one({8, 0}, 0, 0, 32), {"tensor 'w'", "dimension 1 is 0"});
  expect_bad(tmp, one({-8}, 0, 0, 32), {"tensor 'w'", "dimension 0 is -8"});
  expect_bad(tmp, one({33, 2}, 8, 0, 128), {"tensor 'w'", "not a multiple", "Q8_0 block size 32"});
  expect_bad(tmp, one({8}, 0, 8, 64), {"tensor 'w'", "offset 8", "not aligned to 32"});
  expect_bad(tmp, one({8}, 0, 32, 32), {"tensor 'w'", "beyond the end of the file"});
  expect_bad(tmp, one({8}, 0, std::numeric_limits<uint64_t>::max() - 31, 32),
             {"tensor 'w'", "beyond the end of the file"});
  expect_bad(tmp, one({8}, 0, 0, 31), {"truncated", "beyond the end of the file"});

  Raw five = valid_prefix_kv();
  five.str("w").u32(5);
  for (int i = 0; i < 5; ++i) five.i64(1);
  five.u32(0).u64(0).pad_to(32).zeros(32);
  expect_bad(tmp, five.b, {"tensor 'w'", "5 dimensions"});
  Raw zero = valid_prefix_kv();
  zero.str("w").u32(0).u32(0).u64(0).pad_to(32).zeros(32);
  expect_bad(tmp, zero.b, {"tensor 'w'", "0 dimensions"});
}

TEST(GgufCorrupt, DuplicateAndOverlappingTensors) {
  testing::TempDir tmp;
  Raw d = header(2, 0);
  d.tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad_to(32).zeros(64);
  expect_bad(tmp, d.b, {"duplicate tensor name 'w'"});
  Raw o = header(2, 0);
  o.tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad_to(32).zeros(96);
  expect_bad(tmp, o.b, {"'a'", "'b'", "overlap"});
  // Listed out of offset order but disjoint: fine.
  Raw ok = header(2, 0);
  ok.tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 0).pad_to(32).zeros(64);
  testing::write_bytes(tmp / "ok.gguf", ok.b);
  GgufReader r(tmp / "ok.gguf");
  EXPECT_EQ(r.get_tensor("a").data, r.get_tensor("b").data + 32);
}

// Every cut of a valid file that drops tensor data or anything before it throws.
TEST(GgufCorrupt, TruncatedAtEveryByte) {
  testing::TempDir tmp;
  const fs::path full = tmp / "full.gguf";
  GgufWriter w;
  w.set("general.architecture", "llama");
  w.set("a.u8", uint8_t{1});
  w.set("a.f64", 0.5);
  w.set("tokens", std::vector<std::string>{"x", "", "yz"});
  w.set("nested", std::vector<GgufValue>{GgufValue(std::vector<int16_t>{1, 2})});
  w.set("b", true);
  const auto d1 = random_bytes(12, 1), d2 = random_bytes(34, 2);
  w.add_tensor("t1", {3}, GgmlType::F32, d1.data(), d1.size());
  w.add_tensor("t2", {32}, GgmlType::Q8_0, d2.data(), d2.size());
  w.write(full);
  const std::string bytes = testing::read_bytes(full);
  GgufReader ref(full);
  const size_t end = size_t(ref.data_offset() + ref.get_tensor("t2").offset + 34);
  ASSERT_LT(end, bytes.size());

  const fs::path cut = tmp / "cut.gguf";
  for (size_t n = 0; n < bytes.size(); ++n) {
    write_fresh(cut, bytes.substr(0, n));
    if (n < end) {
      const std::string msg = testing::error_message([&] { GgufReader r(cut); });
      EXPECT_THAT(msg, HasSubstr(cut.string())) << "cut at " << n;
      EXPECT_THAT(msg, HasSubstr("truncated")) << "cut at " << n;
    } else {
      // Only the last tensor's trailing padding is missing: still readable.
      GgufReader r(cut);
      EXPECT_EQ(std::memcmp(r.get_tensor("t2").data, d2.data(), 34), 0);
    }
  }
}

// Seeded random byte flips of a valid file: each parses or throws lieq::Error.
TEST(GgufCorrupt, RandomByteFlipsNeverCrash) {
  testing::TempDir tmp;
  const fs::path full = tmp / "full.gguf";
  GgufWriter w;
  for (const auto& [k, v] : all_value_kinds()) w.set(k, v);
  const auto cases = tensor_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto data = random_bytes(cases[i].nbytes, uint32_t(i));
    w.add_tensor(cases[i].name, cases[i].shape, cases[i].type, data.data(), data.size());
  }
  w.write(full);
  const std::string bytes = testing::read_bytes(full);
  const size_t header_end = size_t(GgufReader(full).data_offset());

  std::mt19937 rng(20250301);
  const fs::path path = tmp / "mut.gguf";
  int parsed = 0, rejected = 0;
  volatile uint64_t sink = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::string m = bytes;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      // Mostly in the header, where structure lives.
      const size_t span = rng() % 8 == 0 ? m.size() : header_end;
      const size_t at = rng() % span;
      switch (rng() % 3) {
        case 0: m[at] = static_cast<char>(rng()); break;                        // random byte
        case 1: m[at] = static_cast<char>(m[at] ^ (1 << (rng() % 8))); break;  // one bit
        default: m[at] = static_cast<char>(rng() % 2 ? 0xff : 0x00); break;     // extremes
      }
    }
    if (rng() % 10 == 0) m.resize(rng() % m.size());  // sometimes truncated too
    write_fresh(path, m);
    try {
      GgufReader r(path);
      ++parsed;
      // Everything it returns is usable: data in range, values printable.
      uint64_t sum = 0;
      for (const auto& t : r.tensors())
        for (size_t k = 0; k < t.nbytes; ++k) sum += t.data[k];
      for (const auto& [k, v] : r.metadata()) sum += v.to_string().size() + k.size();
      sink = sink + sum;
    } catch (const Error& e) {
      ++rejected;
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
    }
  }
  // Both outcomes occur (the mutations are neither all harmless nor all fatal).
  EXPECT_GT(parsed, 20);
  EXPECT_GT(rejected, 20);
}

TEST(GgufCorrupt, MissingFileAndDirectory) {
  testing::TempDir tmp;
  EXPECT_LIEQ_ERROR(GgufReader(tmp / "absent.gguf"), (tmp / "absent.gguf").string());
  EXPECT_LIEQ_ERROR(GgufReader(tmp.path()), tmp.path().string());
}

}  // namespace
}  // namespace lieq
