// GGUF files (the container llama.cpp loads): reading (memory-mapped, every
// field validated) and writing (in memory or streamed tensor by tensor).
//
// Layout (version 3; version 2 is identical on little-endian hosts), all
// integers little-endian:
//   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x  { string key | u32 value type | value }
//   n_tensors x { string name | u32 n_dims | n_dims x i64 ne | u32 ggml type | u64 offset }
//   zero padding to the alignment | data section
// A string is a u64 byte count and that many bytes (UTF-8, no terminator). An
// array value is a u32 element type, a u64 count and the elements (arrays may
// nest). bool is one byte. The alignment is the uint32 "general.alignment"
// (a power of two, default 32); tensor offsets are relative to the start of
// the data section and multiples of the alignment. Shapes are in ggml order:
// ne[0] is the row length (the fastest-varying dimension), at most 4 dims.
//
// The writer pads every tensor's data (the last one too) to the alignment with
// zero bytes and lays the tensors out in declaration order, as ggml's own
// writer does, so llama.cpp reads its files. ggml's reader rejects nested
// arrays and tensor names of 64 bytes or more; the writer refuses the latter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "format/ggml_formats.h"
#include "util/mapped_file.h"

namespace lieq {

// gguf_type ids, as stored in files.
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "uint32", "string", "array", ...; "type <id>" for an id outside the enum.
std::string gguf_type_name(GgufType type);

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr const char* kGgufAlignmentKey = "general.alignment";
// ggml's GGML_MAX_NAME: llama.cpp rejects tensor names of this many bytes or more.
inline constexpr size_t kGgufMaxTensorName = 64;
inline constexpr int kGgufMaxDims = 4;

// One metadata value: a scalar of any GGUF type, a string, or an array of
// one element type (arrays of arrays allowed; the inner arrays may differ in
// element type and length). Constructors are typed: GgufValue(uint32_t{7}),
// GgufValue(7) is an int32, GgufValue(7u) a uint32, GgufValue("x") a string,
// GgufValue(std::vector<float>{...}) an array of float32.
//
// Accessors throw lieq::Error on a type mismatch; the message starts with the
// value's context (set by GgufReader to "<file>: key '<key>'", by GgufWriter
// to "key '<key>'").
class GgufValue {
 public:
  GgufValue(uint8_t v) : type_(GgufType::kUint8), v_(v) {}
  GgufValue(int8_t v) : type_(GgufType::kInt8), v_(v) {}
  GgufValue(uint16_t v) : type_(GgufType::kUint16), v_(v) {}
  GgufValue(int16_t v) : type_(GgufType::kInt16), v_(v) {}
  GgufValue(uint32_t v) : type_(GgufType::kUint32), v_(v) {}
  GgufValue(int32_t v) : type_(GgufType::kInt32), v_(v) {}
  GgufValue(float v) : type_(GgufType::kFloat32), v_(v) {}
  GgufValue(bool v) : type_(GgufType::kBool), v_(v) {}
  GgufValue(std::string v) : type_(GgufType::kString), v_(std::move(v)) {}
  GgufValue(const char* v) : GgufValue(std::string(v)) {}
  GgufValue(std::string_view v) : GgufValue(std::string(v)) {}
  GgufValue(uint64_t v) : type_(GgufType::kUint64), v_(v) {}
  GgufValue(int64_t v) : type_(GgufType::kInt64), v_(v) {}
  GgufValue(double v) : type_(GgufType::kFloat64), v_(v) {}

  GgufValue(std::vector<uint8_t> v) : GgufValue(GgufType::kUint8, std::move(v)) {}
  GgufValue(std::vector<int8_t> v) : GgufValue(GgufType::kInt8, std::move(v)) {}
  GgufValue(std::vector<uint16_t> v) : GgufValue(GgufType::kUint16, std::move(v)) {}
  GgufValue(std::vector<int16_t> v) : GgufValue(GgufType::kInt16, std::move(v)) {}
  GgufValue(std::vector<uint32_t> v) : GgufValue(GgufType::kUint32, std::move(v)) {}
  GgufValue(std::vector<int32_t> v) : GgufValue(GgufType::kInt32, std::move(v)) {}
  GgufValue(std::vector<float> v) : GgufValue(GgufType::kFloat32, std::move(v)) {}
  GgufValue(std::vector<bool> v) : GgufValue(GgufType::kBool, std::move(v)) {}
  GgufValue(std::vector<std::string> v) : GgufValue(GgufType::kString, std::move(v)) {}
  GgufValue(std::vector<uint64_t> v) : GgufValue(GgufType::kUint64, std::move(v)) {}
  GgufValue(std::vector<int64_t> v) : GgufValue(GgufType::kInt64, std::move(v)) {}
  GgufValue(std::vector<double> v) : GgufValue(GgufType::kFloat64, std::move(v)) {}
  // An array of arrays; throws Error when an element is not an array.
  GgufValue(std::vector<GgufValue> arrays);

  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::kArray; }
  // The element type of an array (throws for a scalar).
  GgufType array_type() const;
  // Elements of an array (throws for a scalar).
  size_t array_size() const;
  // "uint32", "string", "array of float32", "array of array".
  std::string type_name() const;

  uint8_t as_u8() const { return scalar<uint8_t>(GgufType::kUint8); }
  int8_t as_i8() const { return scalar<int8_t>(GgufType::kInt8); }
  uint16_t as_u16() const { return scalar<uint16_t>(GgufType::kUint16); }
  int16_t as_i16() const { return scalar<int16_t>(GgufType::kInt16); }
  uint32_t as_u32() const { return scalar<uint32_t>(GgufType::kUint32); }
  int32_t as_i32() const { return scalar<int32_t>(GgufType::kInt32); }
  float as_f32() const { return scalar<float>(GgufType::kFloat32); }
  bool as_bool() const { return scalar<bool>(GgufType::kBool); }
  const std::string& as_string() const;
  uint64_t as_u64() const { return scalar<uint64_t>(GgufType::kUint64); }
  int64_t as_i64() const { return scalar<int64_t>(GgufType::kInt64); }
  double as_f64() const { return scalar<double>(GgufType::kFloat64); }
  // Any integer type (llama.cpp writers differ in the width they use);
  // as_uint throws for a negative value.
  int64_t as_int() const;
  uint64_t as_uint() const;
  // float32 or float64.
  double as_float() const;

  const std::vector<uint8_t>& as_u8_array() const { return array<uint8_t>(GgufType::kUint8); }
  const std::vector<int8_t>& as_i8_array() const { return array<int8_t>(GgufType::kInt8); }
  const std::vector<uint16_t>& as_u16_array() const { return array<uint16_t>(GgufType::kUint16); }
  const std::vector<int16_t>& as_i16_array() const { return array<int16_t>(GgufType::kInt16); }
  const std::vector<uint32_t>& as_u32_array() const { return array<uint32_t>(GgufType::kUint32); }
  const std::vector<int32_t>& as_i32_array() const { return array<int32_t>(GgufType::kInt32); }
  const std::vector<float>& as_f32_array() const { return array<float>(GgufType::kFloat32); }
  const std::vector<bool>& as_bool_array() const { return array<bool>(GgufType::kBool); }
  const std::vector<std::string>& as_string_array() const {
    return array<std::string>(GgufType::kString);
  }
  const std::vector<uint64_t>& as_u64_array() const { return array<uint64_t>(GgufType::kUint64); }
  const std::vector<int64_t>& as_i64_array() const { return array<int64_t>(GgufType::kInt64); }
  const std::vector<double>& as_f64_array() const { return array<double>(GgufType::kFloat64); }
  const std::vector<GgufValue>& as_array_of_arrays() const {
    return array<GgufValue>(GgufType::kArray);
  }

  // Short human-readable rendering: 7, 1.5, "text", [1, 2, 3, ... (100 total)].
  std::string to_string(size_t max_elements = 8) const;

  // The prefix of error messages ("<file>: key 'x'"); not part of equality.
  const std::string& context() const { return context_; }
  void set_context(std::string context) { context_ = std::move(context); }

  // Same type and contents (floats compared with ==).
  friend bool operator==(const GgufValue& a, const GgufValue& b);

 private:
  using Storage =
      std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                   uint64_t, int64_t, double, std::vector<uint8_t>, std::vector<int8_t>,
                   std::vector<uint16_t>, std::vector<int16_t>, std::vector<uint32_t>,
                   std::vector<int32_t>, std::vector<float>, std::vector<bool>,
                   std::vector<std::string>, std::vector<uint64_t>, std::vector<int64_t>,
                   std::vector<double>, std::vector<GgufValue>>;

  template <typename T>
  GgufValue(GgufType elem, std::vector<T> v)
      : type_(GgufType::kArray), elem_(elem), v_(std::move(v)) {}

  [[noreturn]] void mismatch(const std::string& wanted) const;
  template <typename T>
  T scalar(GgufType t) const {
    if (type_ != t) mismatch(gguf_type_name(t));
    return std::get<T>(v_);
  }
  template <typename T>
  const std::vector<T>& array(GgufType elem) const {
    if (type_ != GgufType::kArray || elem_ != elem) mismatch("array of " + gguf_type_name(elem));
    return std::get<std::vector<T>>(v_);
  }

  GgufType type_;
  GgufType elem_ = GgufType::kUint8;  // arrays only
  Storage v_;
  std::string context_;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;             // relative to the start of the data section
  size_t nbytes = 0;               // ggml_row_size(type, shape[0]) x rows
  const uint8_t* data = nullptr;   // reader: into the mapping; writer: null

  int64_t numel() const;
  int64_t rows() const { return shape.empty() ? 0 : numel() / shape[0]; }
};

// Bytes of a tensor of this shape and type; throws Error (prefixed with
// `what`) when the shape has no dims or more than 4, a dim < 1, a row length
// that is not a multiple of the block size, or a size that overflows.
size_t gguf_tensor_nbytes(const std::vector<int64_t>& shape, GgmlType type, std::string_view what);

// A GGUF file, memory-mapped; tensor data pointers stay valid for the
// reader's lifetime (moves included). Every structural problem throws
// lieq::Error naming the file and the problem: bad magic, unsupported version,
// truncation anywhere, unknown value or ggml type, bad shapes, misaligned,
// out-of-range or overlapping tensor data, duplicate keys or tensor names, a
// general.alignment that is not a power-of-two uint32.
class GgufReader {
 public:
  explicit GgufReader(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  // File offset of the data section (aligned).
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return file_.size(); }

  // In file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;
  // Throws Error "<file>: missing metadata key '<key>'".
  const GgufValue& get(std::string_view key) const;

  // In file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Throws Error "<file>: missing tensor '<name>'".
  const GgufTensorInfo& get_tensor(std::string_view name) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF v3 file. Two ways to use it:
//  - in memory: set() metadata, add_tensor() with data, write(path);
//  - streamed: set() metadata, declare_tensor() every tensor, write_header(path),
//    then write_tensor_data() for each declared tensor in declaration order,
//    then commit().
// Both write to a temp file renamed into place on completion (nothing appears
// at the destination otherwise) and give byte-identical files for the same
// content. Tensors added with data may be mixed into a streamed write: they
// are written by themselves when their turn comes.
class GgufWriter {
 public:
  GgufWriter();
  ~GgufWriter();
  GgufWriter(GgufWriter&&) noexcept;
  GgufWriter& operator=(GgufWriter&&) noexcept;

  // Keeps insertion order; setting a key again replaces its value in place.
  // general.alignment must be a uint32 power of two. Not after write_header.
  void set(const std::string& key, GgufValue value);
  const GgufValue* find(std::string_view key) const;
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  uint32_t alignment() const;

  // Copies nbytes of data, which must equal gguf_tensor_nbytes(shape, type).
  void add_tensor(const std::string& name, std::vector<int64_t> shape, GgmlType type,
                  const void* data, size_t nbytes);
  void declare_tensor(const std::string& name, std::vector<int64_t> shape, GgmlType type);
  // Offsets are filled in by write_header().
  const std::vector<GgufTensorInfo>& tensors() const { return infos_; }

  // Bytes of the file the current metadata and declarations make (header,
  // alignment padding and tensor data), without writing anything.
  uint64_t file_size() const;

  // Streaming: opens the temp file and writes everything before the tensor
  // data (offsets computed from the current alignment).
  void write_header(const std::filesystem::path& path);
  // The next tensor in declaration order; name and nbytes must match.
  void write_tensor_data(std::string_view name, const void* data, size_t nbytes);
  // Name of the tensor write_tensor_data expects next ("" when none).
  std::string next_tensor() const;
  // Checks every tensor was written, then renames the temp file into place.
  void commit();

  // In-memory path: every tensor must have been given data with add_tensor().
  void write(const std::filesystem::path& path);

 private:
  std::string where() const;
  // Everything before the tensor data; offsets (nullable) gets each tensor's.
  std::string header_bytes(std::vector<uint64_t>* offsets) const;
  void add_info(const std::string& name, std::vector<int64_t> shape, GgmlType type);
  void flush_held();
  void write_padding(uint64_t n);

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> infos_;
  std::vector<std::vector<uint8_t>> held_;  // [i]: add_tensor data, empty when declared
  std::vector<bool> has_data_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::filesystem::path path_;
  std::unique_ptr<class AtomicFile> file_;
  uint64_t data_start_ = 0;  // file offset of the data section
  size_t next_ = 0;          // next tensor to write
  bool header_written_ = false, committed_ = false;
};

}  // namespace lieq
