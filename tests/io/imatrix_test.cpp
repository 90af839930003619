// llama.cpp's imatrix files, both layouts: values as llama-quantize loads
// them (sums / counts, 1 for an unseen matrix; legacy values / ncall), the
// metadata, and every kind of bad file refused with the file named.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "expect_error.h"
#include "io/gguf.h"
#include "io/imatrix.h"
#include "test_support.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;

void gguf_imatrix(const fs::path& path, const std::vector<std::pair<std::string, std::vector<float>>>& t,
                  bool meta = true) {
  GgufWriter w;
  if (meta) {
    w.set("imatrix.datasets", std::vector<std::string>{"calib.txt"});
    w.set("imatrix.chunk_count", uint32_t{12});
    w.set("imatrix.chunk_size", uint32_t{256});
  }
  for (const auto& [name, v] : t)
    w.add_tensor(name, {int64_t(v.size())}, GgmlType::F32, v.data(), v.size() * sizeof(float));
  w.write(path);
}

std::string le32(int32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}
std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

TEST(Imatrix, GgufSumsOverCountsAsLlamaQuantizeLoadsThem) {
  testing::TempDir tmp;
  // Two experts' worth of one matrix: counts 4 and 0 (unseen: all 1).
  gguf_imatrix(tmp / "i.gguf", {{"blk.0.attn_q.weight.in_sum2", {4, 8, 2, 6}},
                                {"blk.0.attn_q.weight.counts", {4}},
                                {"blk.0.ffn_down.weight.in_sum2", {3, 3, 5, 5}},
                                {"blk.0.ffn_down.weight.counts", {3.2f, 0}}});
  const Imatrix m = read_imatrix(tmp / "i.gguf");
  EXPECT_FALSE(m.legacy);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"calib.txt"});
  EXPECT_EQ(m.chunk_count, 12);
  EXPECT_EQ(m.chunk_size, 256);
  ASSERT_NE(m.find("blk.0.attn_q.weight"), nullptr);
  EXPECT_EQ(*m.find("blk.0.attn_q.weight"), (std::vector<float>{1, 2, 0.5f, 1.5f}));
  // Counts are rounded (3.2 -> 3) before dividing.
  EXPECT_EQ(*m.find("blk.0.ffn_down.weight"), (std::vector<float>{1, 1, 1, 1}));
  EXPECT_EQ(m.find("blk.1.attn_q.weight"), nullptr);
}

TEST(Imatrix, LegacyValuesOverCallsWithOptionalDataset) {
  testing::TempDir tmp;
  const std::string entries = le32(2) + le32(13) + "output.weight" + le32(10) + le32(2) +
                              floats({10, 20}) + le32(19) + "blk.0.attn_k.weight" + le32(0) +
                              le32(1) + floats({7});
  testing::write_bytes(tmp / "a.dat", entries + le32(12) + le32(9) + "calib.txt");
  const Imatrix m = read_imatrix(tmp / "a.dat");
  EXPECT_TRUE(m.legacy);
  EXPECT_EQ(*m.find("output.weight"), (std::vector<float>{1, 2}));
  EXPECT_EQ(*m.find("blk.0.attn_k.weight"), (std::vector<float>{7}));  // ncall 0: as stored
  EXPECT_EQ(m.chunk_count, 12);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"calib.txt"});
  testing::write_bytes(tmp / "b.dat", entries);  // no trailer: fine
  EXPECT_EQ(read_imatrix(tmp / "b.dat").importance.size(), 2u);
}

TEST(Imatrix, BadFilesNameTheFileAndTheProblem) {
  testing::TempDir tmp;
  auto legacy_err = [&](const std::string& bytes, const char* what) {
    testing::write_bytes(tmp / "bad.dat", bytes);
    EXPECT_LIEQ_ERROR(read_imatrix(tmp / "bad.dat"), "bad.dat", what);
  };
  const std::string one = le32(1) + le32(5) + "w.abc" + le32(2) + le32(2) + floats({1, 2});
  legacy_err("", "truncated");
  legacy_err(le32(0), "0 entries");
  legacy_err(one.substr(0, one.size() - 3), "truncated");
  legacy_err(le32(1) + le32(-4), "name length -4");
  legacy_err(le32(1) + le32(5) + "w.abc" + le32(2) + le32(0), "value count 0");
  legacy_err(le32(1) + le32(5) + "w.abc" + le32(-1) + le32(1) + floats({1}), "call count -1");
  legacy_err(le32(1) + le32(5) + "w.abc" + le32(1) + le32(1) + floats({-1}), "not a finite non-negative");
  legacy_err(le32(2) + one.substr(4) + one.substr(4), "appears twice");
  legacy_err(one + le32(3) + le32(50) + "short", "truncated");
  auto gguf_err = [&](const std::vector<std::pair<std::string, std::vector<float>>>& t, const char* what) {
    gguf_imatrix(tmp / "bad.gguf", t);
    EXPECT_LIEQ_ERROR(read_imatrix(tmp / "bad.gguf"), "bad.gguf", what);
  };
  gguf_err({{"x.in_sum2", {1, 2}}}, "in_sum2 but no counts");
  gguf_err({{"x.counts", {1}}}, "counts but no in_sum2");
  gguf_err({{"x.in_sum2", {1, 2, 3}}, {"x.counts", {1, 1}}}, "3 sums for 2 counts");
  gguf_err({{"x.in_sum2", {1, 2}}, {"x.counts", {-2}}}, "count -2");
  gguf_err({{"token_embd.weight", {1, 2}}}, "without importance data");
  // A model file is not an imatrix; a truncated GGUF is the GGUF reader's error.
  testing::write_bytes(tmp / "t.gguf", "GGUF\x03");
  EXPECT_LIEQ_ERROR(read_imatrix(tmp / "t.gguf"), "t.gguf");
}

}  // namespace
}  // namespace lieq
