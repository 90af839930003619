// safetensors reading and writing: round trips through SafetensorsWriter,
// hand-built corrupt files (each must throw lieq::Error naming the file and the
// problem) and sharded model directories (model.safetensors.index.json).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "expect_error.h"
#include "format/dtype.h"
#include "io/safetensors.h"
#include "kernels/convert.h"
#include "model/tensor_f32.h"
#include "test_support.h"
#include "util/half.h"
#include "util/json_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A raw safetensors file: 8-byte little-endian header length, header, data.
std::string raw_file(const std::string& header, const std::string& data = "") {
  const uint64_t n = header.size();
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s + header + data;
}

std::vector<uint16_t> to_f16(const std::vector<float>& v) {
  std::vector<uint16_t> r;
  for (float f : v) r.push_back(f32_to_f16(f));
  return r;
}
std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> r;
  for (float f : v) r.push_back(f32_to_bf16(f));
  return r;
}

// ---------------------------------------------------------------- round trips

TEST(SafetensorsRoundTrip, F32F16BF16ShapesAndMetadata) {
  testing::TempDir tmp;
  const fs::path path = tmp / "t.safetensors";
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 1e-3f, 65504.0f, -0.0f};  // [2, 3]
  const std::vector<float> b = {0.1f, 0.2f, -0.3f, 7.0f};                      // [4]
  const std::vector<float> c = {1.0f / 3, 100.0f, -1e30f, 5e-20f, 2.0f, 9.5f, 0.0f, -1.0f};
  const std::vector<uint16_t> b16 = to_f16(b), c16 = to_bf16(c);
  const float scalar = 42.0f;
  SafetensorsWriter w;
  w.add_f32("a", {2, 3}, a.data());
  w.add("b.half", DType::kF16, {4}, b16.data(), b16.size() * 2);
  w.add("c.bf16", DType::kBF16, {2, 2, 2}, c16.data(), c16.size() * 2);
  w.add_f32("scalar", {}, &scalar);
  w.add("empty", DType::kF32, {0, 5}, nullptr, 0);
  w.set_metadata("format", "pt");
  w.set_metadata("note", "héllo \"quoted\"");
  w.write(path);

  // Written atomically: only the destination is left in the directory.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);

  SafetensorsFile f(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "héllo \"quoted\"");

  const TensorView* ta = f.find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, DType::kF32);
  EXPECT_THAT(ta->shape, ElementsAre(2, 3));
  EXPECT_EQ(ta->numel(), 6);
  EXPECT_EQ(ta->nbytes, 24u);
  EXPECT_EQ(ta->shape_str(), "[2, 3]");
  EXPECT_EQ(ta->file, path);
  EXPECT_EQ(ta->name, "a");
  EXPECT_EQ(tensor_to_f32(*ta), a);  // bit-exact, -0 included
  EXPECT_TRUE(std::signbit(tensor_to_f32(*ta)[5]));

  const TensorView* tb = f.find("b.half");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->dtype, DType::kF16);
  EXPECT_THAT(tb->shape, ElementsAre(4));
  const std::vector<float> got_b = tensor_to_f32(*tb);
  ASSERT_EQ(got_b.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(got_b[i], f16_to_f32(b16[i]));
    EXPECT_NEAR(got_b[i], b[i], std::fabs(b[i]) * 1e-3);  // F16 has 11 significant bits
  }

  const TensorView* tc = f.find("c.bf16");
  ASSERT_NE(tc, nullptr);
  EXPECT_EQ(tc->dtype, DType::kBF16);
  EXPECT_THAT(tc->shape, ElementsAre(2, 2, 2));
  const std::vector<float> got_c = tensor_to_f32(*tc);
  ASSERT_EQ(got_c.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(got_c[i], bf16_to_f32(c16[i]));
    EXPECT_NEAR(got_c[i], c[i], std::fabs(c[i]) * 4e-3);  // BF16 has 8 significant bits
  }

  const TensorView* ts = f.find("scalar");
  ASSERT_NE(ts, nullptr);
  EXPECT_TRUE(ts->shape.empty());
  EXPECT_EQ(ts->numel(), 1);
  EXPECT_EQ(tensor_to_f32(*ts), std::vector<float>{42.0f});

  const TensorView* te = f.find("empty");
  ASSERT_NE(te, nullptr);
  EXPECT_EQ(te->numel(), 0);
  EXPECT_EQ(te->nbytes, 0u);
  EXPECT_TRUE(tensor_to_f32(*te).empty());

  EXPECT_EQ(f.find("nope"), nullptr);
}

TEST(SafetensorsRoundTrip, HeaderIsPaddedSoDataIsAligned) {
  testing::TempDir tmp;
  const fs::path path = tmp / "t.safetensors";
  for (const std::string name : {"x", "xy", "xyz", "long_tensor_name_1234567"}) {
    const float v[3] = {1, 2, 3};
    SafetensorsWriter w;
    w.add_f32(name, {3}, v);
    w.write(path);
    const std::string bytes = testing::read_bytes(path);
    ASSERT_GE(bytes.size(), 8u);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ((8 + n) % 8, 0u) << name;
    EXPECT_EQ(bytes.size(), 8 + n + 12) << name;
    // The header parses as JSON on its own (padding is whitespace).
    EXPECT_TRUE(json::parse(bytes.substr(8, n)).is_object());
    SafetensorsFile f(path);
    EXPECT_EQ(tensor_to_f32(*f.find(name)), (std::vector<float>{1, 2, 3}));
  }
}

TEST(SafetensorsRoundTrip, NonFloatTensorIsReadableButNotConvertible) {
  testing::TempDir tmp;
  const fs::path path = tmp / "ids.safetensors";
  const std::vector<int64_t> ids = {1, -2, 3};
  SafetensorsWriter w;
  w.add("ids", DType::kI64, {3}, ids.data(), ids.size() * 8);
  w.write(path);
  SafetensorsFile f(path);
  const TensorView* t = f.find("ids");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::kI64);
  std::vector<int64_t> back(3);
  std::memcpy(back.data(), t->data, 24);
  EXPECT_EQ(back, ids);
  EXPECT_LIEQ_ERROR(tensor_to_f32(*t), path.string(), "ids", "I64");
}

TEST(SafetensorsRoundTrip, F64IsConvertedToF32) {
  testing::TempDir tmp;
  const fs::path path = tmp / "d.safetensors";
  const std::vector<double> d = {1.0, 1.0 / 3.0, -1e10, 1e-40};
  SafetensorsWriter w;
  w.add("d", DType::kF64, {2, 2}, d.data(), d.size() * 8);
  w.write(path);
  SafetensorsFile f(path);
  const std::vector<float> got = tensor_to_f32(*f.find("d"));
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(got[i], float(d[i]));
}

TEST(SafetensorsWriter, RejectsByteCountNotMatchingShape) {
  const float v[4] = {};
  SafetensorsWriter w;
  EXPECT_LIEQ_ERROR(w.add("t", DType::kF32, {2, 3}, v, 16), "\"t\"", "does not match");
}

TEST(SafetensorsWriter, RejectsDuplicateAndReservedNames) {
  testing::TempDir tmp;
  const fs::path path = tmp / "dup.safetensors";
  const float v[2] = {1, 2};
  SafetensorsWriter w;
  w.add_f32("t", {2}, v);
  w.add_f32("t", {1}, v);
  EXPECT_LIEQ_ERROR(w.write(path), path.string(), "\"t\"", "twice");
  EXPECT_FALSE(fs::exists(path));
  SafetensorsWriter w2;
  w2.add_f32("__metadata__", {2}, v);
  EXPECT_LIEQ_ERROR(w2.write(path), path.string(), "reserved");
}

TEST(SafetensorsWriter, MissingDirectoryNamesThePath) {
  testing::TempDir tmp;
  const fs::path path = tmp / "no_such_dir" / "x.safetensors";
  SafetensorsWriter w;
  const float v = 1;
  w.add_f32("v", {1}, &v);
  EXPECT_LIEQ_ERROR(w.write(path), path.string(), "cannot create");
}

// ------------------------------------------------------------- corrupt files

// Each case: raw file bytes and the words its error must contain.
struct CorruptCase {
  std::string name;
  std::string bytes;
  std::vector<std::string> words;
};

std::vector<CorruptCase> corrupt_cases() {
  const std::string ok8(8, '\1');  // 8 bytes of data: two F32 values
  std::vector<CorruptCase> c;
  c.push_back({"Empty", "", {"truncated"}});
  c.push_back({"ShorterThan8Bytes", std::string("\x05\x00\x00", 3), {"truncated"}});
  {
    std::string s = raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", ok8);
    const uint64_t too_long = s.size();  // header length alone > file size - 8
    std::memcpy(s.data(), &too_long, 8);
    c.push_back({"HeaderLengthOverrunsFile", s, {"header length", "overruns"}});
  }
  {
    std::string s = raw_file("{}");
    const uint64_t huge = ~uint64_t(0);  // must not wrap around
    std::memcpy(s.data(), &huge, 8);
    c.push_back({"HeaderLengthHuge", s, {"overruns"}});
  }
  c.push_back({"MalformedHeaderJson", raw_file(R"({"a": {"dtype": "F32", )"), {"malformed", "JSON"}});
  c.push_back({"HeaderNotUtf8Json", raw_file(std::string("\xff\xfe\x00\x01", 4)), {"malformed"}});
  c.push_back({"HeaderIsArray", raw_file("[1, 2, 3]"), {"not a JSON object"}});
  c.push_back({"HeaderIsString", raw_file("\"hello\""), {"not a JSON object"}});
  c.push_back({"EntryNotObject", raw_file(R"({"a": [1, 2]})"), {"\"a\"", "not an object"}});
  c.push_back({"MetadataNotObject", raw_file(R"({"__metadata__": "x"})"), {"__metadata__"}});
  c.push_back({"MissingDtype", raw_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "missing dtype"}});
  c.push_back({"DtypeNotString", raw_file(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "dtype"}});
  c.push_back({"MissingShape", raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", ok8),
               {"\"a\"", "missing shape"}});
  c.push_back({"MissingDataOffsets", raw_file(R"({"a":{"dtype":"F32","shape":[2]}})", ok8),
               {"\"a\"", "data_offsets"}});
  c.push_back({"DataOffsetsWrongLength",
               raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", ok8),
               {"\"a\"", "data_offsets"}});
  c.push_back({"DataOffsetsNegative",
               raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", ok8),
               {"\"a\"", "data_offsets"}});
  c.push_back({"DataOffsetsNotIntegers",
               raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8.0]}})", ok8),
               {"\"a\"", "data_offsets"}});
  c.push_back({"UnknownDtype",
               raw_file(R"({"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "unsupported dtype", "F8_E4M3"}});
  c.push_back({"OffsetsOutOfRange",
               raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", ok8),
               {"\"a\"", "out of range"}});
  c.push_back({"OffsetsHugeOutOfRange",
               raw_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[18446744073709551608,18446744073709551615]}})",
                        ok8),
               {"\"a\""}});
  c.push_back({"BeginGreaterThanEnd",
               raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", ok8),
               {"\"a\"", "begin 8 > end 4"}});
  c.push_back({"SizeNotMatchingShape",
               raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "8 bytes", "[3]", "needs 12"}});
  c.push_back({"SizeNotMatchingDtype",
               raw_file(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "F16", "needs 4"}});
  c.push_back({"OverlappingTensors",
               raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        ok8),
               {"\"a\"", "\"b\"", "overlapping"}});
  c.push_back({"OverlappingContainedTensor",
               raw_file(R"({"big":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                        R"("small":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
                        R"("z":{"dtype":"U8","shape":[1],"data_offsets":[5,6]}})",
                        ok8),
               {"overlapping"}});
  c.push_back({"NonIntegerShape",
               raw_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "invalid shape"}});
  c.push_back({"StringShape",
               raw_file(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "invalid shape"}});
  c.push_back({"NegativeShape",
               raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok8),
               {"\"a\"", "invalid shape"}});
  c.push_back({"ShapeOverflow",
               raw_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
                        ok8),
               {"\"a\"", "shape"}});
  return c;
}

class CorruptSafetensors : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptSafetensors, ThrowsErrorNamingFileAndProblem) {
  testing::TempDir tmp;
  const fs::path path = tmp / "bad.safetensors";
  testing::write_bytes(path, GetParam().bytes);
  const std::string msg = testing::error_message([&] { SafetensorsFile f(path); });
  EXPECT_THAT(msg, HasSubstr(path.string()));
  for (const std::string& w : GetParam().words) EXPECT_THAT(msg, HasSubstr(w));
}

INSTANTIATE_TEST_SUITE_P(All, CorruptSafetensors, ::testing::ValuesIn(corrupt_cases()),
                         [](const ::testing::TestParamInfo<CorruptCase>& p) { return p.param.name; });

TEST(SafetensorsCorrupt, ZeroLengthTensorsMayShareOffsets) {
  // Empty tensors occupy no bytes, so they cannot overlap anything.
  testing::TempDir tmp;
  const fs::path path = tmp / "ok.safetensors";
  testing::write_bytes(
      path, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                     R"("f":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
                     std::string(8, '\0')));
  SafetensorsFile f(path);
  EXPECT_EQ(f.tensors().size(), 3u);
}

TEST(SafetensorsCorrupt, MissingFileNamesThePath) {
  testing::TempDir tmp;
  const fs::path path = tmp / "absent.safetensors";
  EXPECT_LIEQ_ERROR(SafetensorsFile f(path), path.string(), "cannot open");
}

TEST(SafetensorsCorrupt, DirectoryIsNotAFile) {
  testing::TempDir tmp;
  EXPECT_LIEQ_ERROR(SafetensorsFile f(tmp.path()), tmp.path().string(), "not a regular file");
}

TEST(SafetensorsCorrupt, UnalignedDataIsReadCorrectly) {
  // Header length 3 puts the data at offset 11 (not 4-aligned): still valid.
  testing::TempDir tmp;
  const fs::path path = tmp / "u.safetensors";
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string padded = header + std::string((8 - (8 + header.size()) % 8) % 8 + 3, ' ');
  const float v[2] = {1.5f, -2.0f};
  std::string data(reinterpret_cast<const char*>(v), 8);
  testing::write_bytes(path, raw_file(padded, data));
  SafetensorsFile f(path);
  EXPECT_EQ(tensor_to_f32(*f.find("a")), (std::vector<float>{1.5f, -2.0f}));
}

// ----------------------------------------------------------- sharded models

void write_shard(const fs::path& path, const std::vector<std::pair<std::string, float>>& tensors) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  for (const auto& [name, value] : tensors) {
    const float v[2] = {value, value + 1};
    w.add_f32(name, {2}, v);
  }
  w.write(path);
}

void write_index(const fs::path& dir, const json& weight_map) {
  json j = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
  testing::write_bytes(dir / "model.safetensors.index.json", j.dump(2));
}

TEST(TensorStore, SingleFile) {
  testing::TempDir tmp;
  write_shard(tmp / "model.safetensors", {{"a", 1}, {"b", 2}});
  TensorStore store(tmp.path());
  EXPECT_EQ(store.dir(), tmp.path());
  EXPECT_THAT(store.names(), ElementsAre("a", "b"));
  EXPECT_EQ(store.files().size(), 1u);
  EXPECT_EQ(store.metadata().at("format"), "pt");
  EXPECT_EQ(tensor_to_f32(store.get("b")), (std::vector<float>{2, 3}));
  EXPECT_EQ(store.find("c"), nullptr);
  EXPECT_LIEQ_ERROR(store.get("c"), tmp.path().string(), "missing tensor", "\"c\"");
}

TEST(TensorStore, TwoShardsRoundTrip) {
  testing::TempDir tmp;
  write_shard(tmp / "model-00001-of-00002.safetensors", {{"a", 1}, {"b", 2}});
  write_shard(tmp / "model-00002-of-00002.safetensors", {{"c", 3}});
  write_index(tmp.path(), {{"a", "model-00001-of-00002.safetensors"},
                           {"b", "model-00001-of-00002.safetensors"},
                           {"c", "model-00002-of-00002.safetensors"}});
  TensorStore store(tmp.path());
  EXPECT_EQ(store.files().size(), 2u);
  EXPECT_THAT(store.names(), ElementsAre("a", "b", "c"));
  EXPECT_EQ(tensor_to_f32(store.get("a")), (std::vector<float>{1, 2}));
  EXPECT_EQ(tensor_to_f32(store.get("b")), (std::vector<float>{2, 3}));
  EXPECT_EQ(tensor_to_f32(store.get("c")), (std::vector<float>{3, 4}));
  EXPECT_EQ(store.get("c").file.filename(), "model-00002-of-00002.safetensors");
  EXPECT_EQ(store.get("a").file.filename(), "model-00001-of-00002.safetensors");
  EXPECT_EQ(store.metadata().at("format"), "pt");
}

TEST(TensorStore, IndexTakesPrecedenceOverSingleFileAndPicksTheListedShard) {
  // "a" is in both shards; the index says shard 2, so that copy is used.
  testing::TempDir tmp;
  write_shard(tmp / "s1.safetensors", {{"a", 10}, {"b", 20}});
  write_shard(tmp / "s2.safetensors", {{"a", 30}});
  write_shard(tmp / "model.safetensors", {{"stale", 0}});
  write_index(tmp.path(), {{"a", "s2.safetensors"}, {"b", "s1.safetensors"}});
  TensorStore store(tmp.path());
  EXPECT_THAT(store.names(), ElementsAre("a", "b"));
  EXPECT_EQ(tensor_to_f32(store.get("a")), (std::vector<float>{30, 31}));
  EXPECT_EQ(store.find("stale"), nullptr);
}

TEST(TensorStore, IndexNamingMissingShard) {
  testing::TempDir tmp;
  write_shard(tmp / "s1.safetensors", {{"a", 1}});
  write_index(tmp.path(), {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  const fs::path index = tmp / "model.safetensors.index.json";
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), index.string(), "s2.safetensors", "missing");
}

TEST(TensorStore, IndexMapsTensorToShardWithoutIt) {
  testing::TempDir tmp;
  write_shard(tmp / "s1.safetensors", {{"a", 1}});
  write_shard(tmp / "s2.safetensors", {{"b", 2}});
  write_index(tmp.path(), {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}, {"x", "s2.safetensors"}});
  const fs::path index = tmp / "model.safetensors.index.json";
  const std::string msg = testing::error_message([&] { TensorStore s(tmp.path()); });
  EXPECT_THAT(msg, HasSubstr(index.string()));
  EXPECT_THAT(msg, HasSubstr("is not in shard"));
  EXPECT_THAT(msg, ::testing::AnyOf(HasSubstr("\"b\""), HasSubstr("\"x\"")));
}

TEST(TensorStore, MalformedIndexJson) {
  testing::TempDir tmp;
  write_shard(tmp / "s1.safetensors", {{"a", 1}});
  const fs::path index = tmp / "model.safetensors.index.json";
  testing::write_bytes(index, R"({"weight_map": {"a": "s1.safetensors",})");
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), index.string(), "malformed JSON");
}

TEST(TensorStore, IndexWithoutWeightMap) {
  testing::TempDir tmp;
  const fs::path index = tmp / "model.safetensors.index.json";
  testing::write_bytes(index, R"({"metadata": {}})");
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), index.string(), "weight_map");
  testing::write_bytes(index, R"([1, 2])");
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), index.string(), "weight_map");
  testing::write_bytes(index, R"({"weight_map": {"a": 3}})");
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), index.string(), "weight_map");
}

TEST(TensorStore, IndexWithEmptyWeightMap) {
  testing::TempDir tmp;
  write_shard(tmp / "model.safetensors", {{"a", 1}});
  const fs::path index = tmp / "model.safetensors.index.json";
  testing::write_bytes(index, R"({"weight_map": {}})");
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), index.string(), "weight_map", "empty");
}

TEST(TensorStore, ShardNameMustBeAPlainFileName) {
  testing::TempDir tmp;
  write_index(tmp.path(), {{"a", "../elsewhere.safetensors"}});
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), "model.safetensors.index.json", "plain file name");
}

TEST(TensorStore, CorruptShardNamesTheShard) {
  testing::TempDir tmp;
  write_shard(tmp / "s1.safetensors", {{"a", 1}});
  testing::write_bytes(tmp / "s2.safetensors", "junk");
  write_index(tmp.path(), {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), (tmp / "s2.safetensors").string(), "truncated");
}

TEST(TensorStore, DirectoryWithoutWeights) {
  testing::TempDir tmp;
  EXPECT_LIEQ_ERROR(TensorStore s(tmp.path()), tmp.path().string(), "no model.safetensors");
  EXPECT_LIEQ_ERROR(TensorStore s(tmp / "absent"), "absent", "not a model directory");
}

// ------------------------------------------------------------------ dtypes

TEST(DType, NamesSizesAndParsing) {
  const std::vector<std::pair<DType, size_t>> all = {
      {DType::kF32, 4}, {DType::kF16, 2}, {DType::kBF16, 2}, {DType::kF64, 8},
      {DType::kI64, 8}, {DType::kI32, 4}, {DType::kI16, 2},  {DType::kI8, 1},
      {DType::kU8, 1},  {DType::kBool, 1}};
  for (const auto& [t, size] : all) {
    EXPECT_EQ(dtype_info(t).dtype, t);
    EXPECT_EQ(dtype_size(t), size) << dtype_name(t);
    DType parsed = DType::kBool;
    ASSERT_TRUE(parse_safetensors_dtype(dtype_name(t), &parsed)) << dtype_name(t);
    EXPECT_EQ(parsed, t);
  }
  EXPECT_STREQ(dtype_name(DType::kBF16), "BF16");
  EXPECT_TRUE(dtype_info(DType::kF16).is_float);
  EXPECT_FALSE(dtype_info(DType::kI32).is_float);
  DType d = DType::kF32;
  EXPECT_FALSE(parse_safetensors_dtype("f32", &d));
  EXPECT_FALSE(parse_safetensors_dtype("", &d));
  EXPECT_FALSE(parse_safetensors_dtype("F8_E5M2", &d));
  EXPECT_EQ(d, DType::kF32);
}

TEST(DType, ConvertToF32FromUnalignedSourceAcrossChunkBoundaries) {
  // 600 elements cross the 256-element chunks of the F16/BF16 converters.
  const size_t n = 600;
  std::vector<float> ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = float(i) * 0.25f - 50.0f;
  std::vector<uint8_t> buf(n * 8 + 1);
  std::vector<float> out(n);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64}) {
    uint8_t* p = buf.data() + 1;  // deliberately misaligned
    for (size_t i = 0; i < n; ++i) {
      if (t == DType::kF32) std::memcpy(p + 4 * i, &ref[i], 4);
      if (t == DType::kF16) {
        const uint16_t h = f32_to_f16(ref[i]);
        std::memcpy(p + 2 * i, &h, 2);
      }
      if (t == DType::kBF16) {
        const uint16_t h = f32_to_bf16(ref[i]);
        std::memcpy(p + 2 * i, &h, 2);
      }
      if (t == DType::kF64) {
        const double d = ref[i];
        std::memcpy(p + 8 * i, &d, 8);
      }
    }
    convert_to_f32(t, p, out.data(), n);
    // Multiples of 1/4 in [-50, 100) are exact in F32, F16 and F64; BF16 (8
    // significant bits) rounds some of them, so compare with its own rounding.
    for (size_t i = 0; i < n; ++i) {
      const float want = t == DType::kBF16 ? bf16_to_f32(f32_to_bf16(ref[i])) : ref[i];
      ASSERT_EQ(out[i], want) << dtype_name(t) << " i=" << i;
    }
  }
  EXPECT_LIEQ_ERROR(convert_to_f32(DType::kI32, buf.data(), out.data(), 1), "I32", "float32");
}

}  // namespace
}  // namespace lieq
