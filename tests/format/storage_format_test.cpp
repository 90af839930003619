// StorageFormat: exact bits for both families (against QuantSpec and the ggml
// traits' block bytes, fallbacks included), names and JSON round trips, and
// the errors for the wrong kind and malformed input.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "format/ggml_policy.h"
#include "format/storage_format.h"

namespace lieq {
namespace {

TEST(StorageFormat, BitsAreTheFormatsRealBytes) {
  for (int bits : {2, 3, 4, 8})
    for (int gs : {0, 32, 128})
      for (bool sym : {false, true}) {
        const QuantSpec q{bits, gs, sym};
        const StorageFormat f = StorageFormat::grid(q);
        for (auto [r, c] : {std::pair<int64_t, int64_t>{3, 100}, {256, 512}, {7, 1}})
          EXPECT_EQ(f.storage_bits(r, c), q.storage_bits(r, c)) << q.name();
      }
  for (const GgmlTypeTraits& t : ggml_supported_types()) {
    const StorageFormat f = StorageFormat::ggml(t.type);
    // A whole number of blocks: type_size bytes per block_size weights.
    EXPECT_EQ(f.storage_bits(4, 512), 4 * (512 / t.block_size) * int64_t(t.type_size) * 8)
        << t.name;
    EXPECT_DOUBLE_EQ(f.bits_per_weight(4, 512), t.bits_per_weight()) << t.name;
    // Rows of 96 are no multiple of 256: the K-quants take llama.cpp's fallback.
    const GgmlType rt = ggml_row_type(t.type, 96);
    EXPECT_EQ(f.ggml_row_type(96), rt);
    EXPECT_EQ(f.storage_bits(2, 96), 2 * int64_t(ggml_row_size(rt, 96)) * 8) << t.name;
  }
  EXPECT_EQ(StorageFormat::ggml(GgmlType::Q4_K).storage_bits(1, 256), 144 * 8);
  EXPECT_EQ(StorageFormat::ggml(GgmlType::Q4_K).ggml_row_type(96), GgmlType::Q5_0);
}

TEST(StorageFormat, NamesParseBack) {
  for (const StorageFormat& f :
       {StorageFormat::grid({4, 128, false}), StorageFormat::grid({3, 0, true}),
        StorageFormat::grid({2, 64, true}), StorageFormat::ggml(GgmlType::Q4_K),
        StorageFormat::ggml(GgmlType::IQ4_XS), StorageFormat::ggml(GgmlType::BF16)}) {
    StorageFormat g;
    ASSERT_TRUE(parse_storage_format(f.name(), &g)) << f.name();
    EXPECT_EQ(g, f) << f.name();
    EXPECT_EQ(storage_format_from_json(f.to_json(), "t"), f) << f.name();
  }
  EXPECT_EQ(StorageFormat::grid({3, 0, true}).name(), "int3 per-channel sym");
  StorageFormat g;
  EXPECT_TRUE(parse_storage_format("q6_k", &g));
  EXPECT_EQ(g, StorageFormat::ggml(GgmlType::Q6_K));
  for (const char* bad : {"", "int4", "int4 g128", "int7 g128 asym", "int4 g100 asym",
                          "int4 g128 asym x", "Q9_K", "intx g128 asym", "int4 gx asym"})
    EXPECT_FALSE(parse_storage_format(bad, &g)) << bad;
  EXPECT_EQ(g, StorageFormat::ggml(GgmlType::Q6_K));  // untouched
}

TEST(StorageFormat, KindsAndErrors) {
  const StorageFormat grid = StorageFormat::grid({4, 128, false});
  const StorageFormat q4k = StorageFormat::ggml(GgmlType::Q4_K);
  EXPECT_TRUE(grid.is_grid());
  EXPECT_TRUE(q4k.is_ggml());
  EXPECT_EQ(grid.spec().group_size, 128);
  EXPECT_EQ(q4k.ggml_type(), GgmlType::Q4_K);
  EXPECT_LIEQ_ERROR(grid.ggml_type(), "int4 g128 asym is an integer grid");
  EXPECT_LIEQ_ERROR(q4k.spec(), "Q4_K is a ggml type");
  EXPECT_FALSE(grid == q4k);
  EXPECT_FALSE(grid == StorageFormat::grid({4, 128, true}));
  EXPECT_LIEQ_ERROR(StorageFormat::grid({7, 128, false}), "bits 7");
  EXPECT_LIEQ_ERROR(StorageFormat::ggml(GgmlType(99)), "99");
  using nlohmann::json;
  EXPECT_LIEQ_ERROR(storage_format_from_json(json{{"ggml", "Q9"}}, "f.json"), "f.json", "Q9");
  EXPECT_LIEQ_ERROR(storage_format_from_json(json{{"grid", {{"bits", 4}}}}, "f.json"), "f.json",
                    "malformed");
  EXPECT_LIEQ_ERROR(
      storage_format_from_json(
          json{{"grid", {{"bits", 5}, {"group_size", 7}, {"symmetric", true}}}}, "f.json"),
      "f.json", "group size 7");
  EXPECT_LIEQ_ERROR(storage_format_from_json(json(4), "f.json"), "f.json", "a storage format is");
  EXPECT_EQ(format_names(grid_formats({2, 4}, 128, false)), "int2 g128 asym, int4 g128 asym");
}

}  // namespace
}  // namespace lieq
