#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>

#include "util/atomic_file.h"
#include "util/error.h"

namespace lieq {

static_assert(std::endian::native == std::endian::little,
              "GGUF reading and writing assume a little-endian host");

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kWriteVersion = 3;
// Arrays of arrays deeper than this are refused (each level recurses).
constexpr int kMaxArrayDepth = 32;

bool valid_type_id(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::kFloat64); }

// Smallest encoding of one array element of this type (for count sanity checks).
size_t min_element_bytes(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kString:  // u64 length
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kArray:  // u32 type + u64 count
      return 12;
  }
  return 1;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

bool is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string quote(std::string_view s, size_t max_chars) {
  std::string r = "\"";
  size_t n = 0;
  for (char ch : s) {
    if (n++ == max_chars) {
      r += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      r += '\\';
      r += ch;
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    } else {
      r += ch;
    }
  }
  return r + "\"";
}

// ------------------------------------------------------------------ reading

class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& path)
      : data_(data), size_(size), path_(path) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& path() const { return path_; }

  void need(size_t n, std::string_view what) const {
    if (n > remaining())
      fail(path_, ": truncated: ", what, " at byte ", pos_, " needs ", n, " bytes, only ",
           remaining(), " remain (file size ", size_, ")");
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining())
      fail(path_, ": truncated or corrupt: ", what, " has length ", n, " at byte ", pos_ - 8,
           " but only ", remaining(), " bytes remain (file size ", size_, ")");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  GgufType read_type(std::string_view what) {
    const size_t at = pos_;
    const uint32_t id = read<uint32_t>(what);
    if (!valid_type_id(id))
      fail(path_, ": ", what, " at byte ", at, ": unknown value type ", id,
           " (GGUF value types are 0 to 12)");
    return static_cast<GgufType>(id);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

template <typename T>
std::vector<T> read_elements(Cursor& c, uint64_t n, std::string_view what) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = c.read<T>(what);
  return v;
}

GgufValue read_value(Cursor& c, GgufType type, const std::string& what, int depth);

GgufValue read_array(Cursor& c, const std::string& what, int depth) {
  if (depth >= kMaxArrayDepth)
    fail(c.path(), ": ", what, ": arrays nested more than ", kMaxArrayDepth, " deep");
  const GgufType elem = c.read_type(what + " array element type");
  const size_t count_at = c.pos();
  const uint64_t n = c.read<uint64_t>(what + " array length");
  const size_t min_bytes = min_element_bytes(elem);
  if (n > c.remaining() / min_bytes)
    fail(c.path(), ": truncated or corrupt: ", what, " is an array of ", n, " ",
         gguf_type_name(elem), " elements (length at byte ", count_at, "), which needs at least ",
         n > std::numeric_limits<uint64_t>::max() / min_bytes ? std::string("more than 2^64")
                                                              : std::to_string(n * min_bytes),
         " bytes, but only ", c.remaining(), " remain");
  switch (elem) {
    case GgufType::kUint8: return read_elements<uint8_t>(c, n, what);
    case GgufType::kInt8: return read_elements<int8_t>(c, n, what);
    case GgufType::kUint16: return read_elements<uint16_t>(c, n, what);
    case GgufType::kInt16: return read_elements<int16_t>(c, n, what);
    case GgufType::kUint32: return read_elements<uint32_t>(c, n, what);
    case GgufType::kInt32: return read_elements<int32_t>(c, n, what);
    case GgufType::kFloat32: return read_elements<float>(c, n, what);
    case GgufType::kUint64: return read_elements<uint64_t>(c, n, what);
    case GgufType::kInt64: return read_elements<int64_t>(c, n, what);
    case GgufType::kFloat64: return read_elements<double>(c, n, what);
    case GgufType::kBool: {
      std::vector<bool> v(static_cast<size_t>(n));
      for (size_t i = 0; i < v.size(); ++i) v[i] = c.read<uint8_t>(what) != 0;
      return v;
    }
    case GgufType::kString: {
      std::vector<std::string> v(static_cast<size_t>(n));
      for (auto& s : v) s = c.read_string(what + " string element");
      return v;
    }
    case GgufType::kArray: {
      std::vector<GgufValue> v;
      v.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) v.push_back(read_array(c, what, depth + 1));
      return v;
    }
  }
  fail(c.path(), ": ", what, ": unknown value type");  // unreachable: read_type validated
}

GgufValue read_value(Cursor& c, GgufType type, const std::string& what, int depth) {
  switch (type) {
    case GgufType::kUint8: return c.read<uint8_t>(what);
    case GgufType::kInt8: return c.read<int8_t>(what);
    case GgufType::kUint16: return c.read<uint16_t>(what);
    case GgufType::kInt16: return c.read<int16_t>(what);
    case GgufType::kUint32: return c.read<uint32_t>(what);
    case GgufType::kInt32: return c.read<int32_t>(what);
    case GgufType::kFloat32: return c.read<float>(what);
    case GgufType::kBool: return c.read<uint8_t>(what) != 0;
    case GgufType::kString: return c.read_string(what);
    case GgufType::kUint64: return c.read<uint64_t>(what);
    case GgufType::kInt64: return c.read<int64_t>(what);
    case GgufType::kFloat64: return c.read<double>(what);
    case GgufType::kArray: return read_array(c, what, depth);
  }
  fail(c.path(), ": ", what, ": unknown value type");
}

// ------------------------------------------------------------------ writing

template <typename T>
void put(std::string& buf, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  buf.append(b, sizeof(T));
}

void put_string(std::string& buf, std::string_view s) {
  put<uint64_t>(buf, s.size());
  buf.append(s);
}

template <typename T>
void put_elements(std::string& buf, const std::vector<T>& v) {
  for (const T& x : v) put<T>(buf, x);
}

void put_value(std::string& buf, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::kUint8: return put(buf, v.as_u8());
    case GgufType::kInt8: return put(buf, v.as_i8());
    case GgufType::kUint16: return put(buf, v.as_u16());
    case GgufType::kInt16: return put(buf, v.as_i16());
    case GgufType::kUint32: return put(buf, v.as_u32());
    case GgufType::kInt32: return put(buf, v.as_i32());
    case GgufType::kFloat32: return put(buf, v.as_f32());
    case GgufType::kBool: return put<uint8_t>(buf, v.as_bool() ? 1 : 0);
    case GgufType::kString: return put_string(buf, v.as_string());
    case GgufType::kUint64: return put(buf, v.as_u64());
    case GgufType::kInt64: return put(buf, v.as_i64());
    case GgufType::kFloat64: return put(buf, v.as_f64());
    case GgufType::kArray: break;
  }
  put<uint32_t>(buf, static_cast<uint32_t>(v.array_type()));
  put<uint64_t>(buf, v.array_size());
  switch (v.array_type()) {
    case GgufType::kUint8: return put_elements(buf, v.as_u8_array());
    case GgufType::kInt8: return put_elements(buf, v.as_i8_array());
    case GgufType::kUint16: return put_elements(buf, v.as_u16_array());
    case GgufType::kInt16: return put_elements(buf, v.as_i16_array());
    case GgufType::kUint32: return put_elements(buf, v.as_u32_array());
    case GgufType::kInt32: return put_elements(buf, v.as_i32_array());
    case GgufType::kFloat32: return put_elements(buf, v.as_f32_array());
    case GgufType::kUint64: return put_elements(buf, v.as_u64_array());
    case GgufType::kInt64: return put_elements(buf, v.as_i64_array());
    case GgufType::kFloat64: return put_elements(buf, v.as_f64_array());
    case GgufType::kBool:
      for (bool b : v.as_bool_array()) put<uint8_t>(buf, b ? 1 : 0);
      return;
    case GgufType::kString:
      for (const std::string& s : v.as_string_array()) put_string(buf, s);
      return;
    case GgufType::kArray:
      for (const GgufValue& inner : v.as_array_of_arrays()) put_value(buf, inner);
      return;
  }
}

}  // namespace

// ------------------------------------------------------------------ GgufValue

std::string gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return cat("type ", static_cast<uint32_t>(type));
}

GgufValue::GgufValue(std::vector<GgufValue> arrays)
    : type_(GgufType::kArray), elem_(GgufType::kArray), v_(std::vector<GgufValue>()) {
  for (size_t i = 0; i < arrays.size(); ++i)
    check(arrays[i].is_array(), "GGUF array of arrays: element ", i, " is a ",
          arrays[i].type_name(), ", not an array");
  v_ = std::move(arrays);
}

GgufType GgufValue::array_type() const {
  if (!is_array()) mismatch("array");
  return elem_;
}

size_t GgufValue::array_size() const {
  if (!is_array()) mismatch("array");
  return std::visit(
      [](const auto& x) -> size_t {
        if constexpr (requires { x.size(); } &&
                      !std::is_same_v<std::decay_t<decltype(x)>, std::string>)
          return x.size();
        else
          return 0;
      },
      v_);
}

std::string GgufValue::type_name() const {
  return is_array() ? "array of " + gguf_type_name(elem_) : gguf_type_name(type_);
}

void GgufValue::mismatch(const std::string& wanted) const {
  fail(context_.empty() ? std::string("GGUF value") : context_, ": expected ", wanted, ", got ",
       type_name());
}

const std::string& GgufValue::as_string() const {
  if (type_ != GgufType::kString) mismatch("string");
  return std::get<std::string>(v_);
}

int64_t GgufValue::as_int() const {
  switch (type_) {
    case GgufType::kUint8: return as_u8();
    case GgufType::kInt8: return as_i8();
    case GgufType::kUint16: return as_u16();
    case GgufType::kInt16: return as_i16();
    case GgufType::kUint32: return as_u32();
    case GgufType::kInt32: return as_i32();
    case GgufType::kInt64: return as_i64();
    case GgufType::kUint64: {
      const uint64_t v = as_u64();
      check(v <= uint64_t(std::numeric_limits<int64_t>::max()),
            context_.empty() ? std::string("GGUF value") : context_, ": ", v,
            " does not fit an int64");
      return static_cast<int64_t>(v);
    }
    default: mismatch("an integer");
  }
}

uint64_t GgufValue::as_uint() const {
  if (type_ == GgufType::kUint64) return as_u64();
  const int64_t v = as_int();
  check(v >= 0, context_.empty() ? std::string("GGUF value") : context_, ": expected a value >= 0, got ", v);
  return static_cast<uint64_t>(v);
}

double GgufValue::as_float() const {
  if (type_ == GgufType::kFloat32) return as_f32();
  if (type_ == GgufType::kFloat64) return as_f64();
  mismatch("float32 or float64");
}

std::string GgufValue::to_string(size_t max_elements) const {
  std::ostringstream os;
  os.precision(9);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          os << quote(x, 120);
        } else if constexpr (std::is_same_v<T, bool>) {
          os << (x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
          os << int(x);
        } else if constexpr (std::is_arithmetic_v<T>) {
          os << x;
        } else {
          os << '[';
          size_t i = 0;
          for (const auto& e : x) {
            if (i == max_elements) {
              os << ", ... (" << x.size() << " total)";
              break;
            }
            if (i++) os << ", ";
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, std::string>)
              os << quote(e, 40);
            else if constexpr (std::is_same_v<T, std::vector<bool>>)
              os << (e ? "true" : "false");
            else if constexpr (std::is_same_v<E, uint8_t> || std::is_same_v<E, int8_t>)
              os << int(e);
            else if constexpr (std::is_same_v<E, GgufValue>)
              os << e.to_string(max_elements);
            else
              os << e;
          }
          os << ']';
        }
      },
      v_);
  return os.str();
}

bool operator==(const GgufValue& a, const GgufValue& b) {
  return a.type_ == b.type_ && a.elem_ == b.elem_ && a.v_ == b.v_;
}

// ------------------------------------------------------------------ shapes

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t gguf_tensor_nbytes(const std::vector<int64_t>& shape, GgmlType type, std::string_view what) {
  if (shape.empty() || shape.size() > size_t(kGgufMaxDims))
    fail(what, ": ", shape.size(), " dimensions, must be 1 to ", kGgufMaxDims);
  int64_t numel = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 1) fail(what, ": dimension ", i, " is ", shape[i], ", must be >= 1");
    if (__builtin_mul_overflow(numel, shape[i], &numel))
      fail(what, ": shape ", shape_str(shape), " overflows (too many elements)");
  }
  const GgmlTypeTraits& t = ggml_traits(type);
  if (shape[0] % t.block_size != 0)
    fail(what, ": row length ", shape[0], " is not a multiple of the ", t.name, " block size ",
         t.block_size);
  const uint64_t blocks = uint64_t(shape[0] / t.block_size);
  const uint64_t rows = uint64_t(numel / shape[0]);
  uint64_t row_bytes = 0, total = 0;
  if (__builtin_mul_overflow(blocks, uint64_t(t.type_size), &row_bytes) ||
      __builtin_mul_overflow(row_bytes, rows, &total) ||
      total > uint64_t(std::numeric_limits<int64_t>::max()))
    fail(what, ": shape ", shape_str(shape), " of ", t.name, " overflows (too many bytes)");
  return static_cast<size_t>(total);
}

// ------------------------------------------------------------------ GgufReader

GgufReader::GgufReader(const std::filesystem::path& path) : file_(path) {
  const std::string p = path.string();
  Cursor c(file_.data(), file_.size(), p);

  c.need(4, "magic");
  char magic[4];
  std::memcpy(magic, file_.data(), 4);
  if (std::memcmp(magic, kMagic, 4) != 0) {
    static const char* hex = "0123456789abcdef";
    std::string got;
    for (char ch : magic) {
      const auto b = static_cast<unsigned char>(ch);
      got += std::isprint(b) ? std::string(1, ch) : cat("\\x", hex[b >> 4], hex[b & 15]);
    }
    fail(p, ": not a GGUF file: bad magic \"", got, "\", expected \"GGUF\"");
  }
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    const bool swapped = version_ == 0x02000000u || version_ == 0x03000000u;
    fail(p, ": unsupported GGUF version ", version_, version_ == 1 ? " (the pre-2023 format)" : "",
         swapped ? " (a big-endian file)" : "", "; this reader supports versions 2 and 3");
  }
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");

  // Each entry needs at least: key length (8) + value type (4) + 1 byte.
  if (n_kv > c.remaining() / 13)
    fail(p, ": truncated or corrupt: ", n_kv, " metadata entries cannot fit in the remaining ",
         c.remaining(), " bytes");
  metadata_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string what = cat("metadata key ", i);
    std::string key = c.read_string(what);
    if (key_index_.count(key)) fail(p, ": duplicate metadata key '", key, "'");
    const std::string vwhat = cat("value of key '", key, "'");
    const GgufType type = c.read_type(vwhat + " type");
    GgufValue value = read_value(c, type, vwhat, 0);
    value.set_context(cat(p, ": key '", key, "'"));
    key_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = find(kGgufAlignmentKey)) {
    if (a->type() != GgufType::kUint32)
      fail(p, ": ", kGgufAlignmentKey, " has type ", a->type_name(), ", must be uint32");
    if (!is_pow2(a->as_u32()))
      fail(p, ": ", kGgufAlignmentKey, " is ", a->as_u32(), ", not a power of two");
    alignment_ = a->as_u32();
  }

  // Each tensor info needs at least: name length (8) + n_dims (4) + one dim
  // (8) + type (4) + offset (8).
  if (n_tensors > c.remaining() / 32)
    fail(p, ": truncated or corrupt: ", n_tensors, " tensor infos cannot fit in the remaining ",
         c.remaining(), " bytes");
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.read_string(cat("name of tensor ", i));
    if (tensor_index_.count(t.name)) fail(p, ": duplicate tensor name '", t.name, "'");
    const std::string what = cat("tensor '", t.name, "'");
    const uint32_t n_dims = c.read<uint32_t>(what + " dimension count");
    if (n_dims < 1 || n_dims > uint32_t(kGgufMaxDims))
      fail(p, ": ", what, " has ", n_dims, " dimensions, must be 1 to ", kGgufMaxDims);
    for (uint32_t d = 0; d < n_dims; ++d) t.shape.push_back(c.read<int64_t>(what + " shape"));
    const size_t type_at = c.pos();
    const uint32_t type_id = c.read<uint32_t>(what + " type");
    const GgmlTypeTraits* traits = find_ggml_traits(type_id);
    if (!traits)
      fail(p, ": ", what, " has unknown or unsupported ggml type id ", type_id, " (at byte ",
           type_at, ")");
    t.type = traits->type;
    t.nbytes = gguf_tensor_nbytes(t.shape, t.type, cat(p, ": ", what));
    t.offset = c.read<uint64_t>(what + " data offset");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = align_up(c.pos(), alignment_);
  const uint64_t size = file_.size();
  const uint64_t avail = size > data_offset_ ? size - data_offset_ : 0;
  for (GgufTensorInfo& t : tensors_) {
    if (t.offset % alignment_ != 0)
      fail(p, ": tensor '", t.name, "' data offset ", t.offset, " is not aligned to ", alignment_,
           " bytes (", kGgufAlignmentKey, ")");
    if (t.offset > avail || t.nbytes > avail - t.offset)
      fail(p, ": truncated or corrupt: tensor '", t.name, "' data (", t.nbytes,
           " bytes at data offset ", t.offset, ", file offset ", data_offset_,
           " + that) extends beyond the end of the file (", size, " bytes)");
    t.data = file_.data() + data_offset_ + t.offset;
  }
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& a = tensors_[order[k - 1]];
    const GgufTensorInfo& b = tensors_[order[k]];
    if (a.offset + a.nbytes > b.offset)
      fail(p, ": tensors '", a.name, "' (data offset ", a.offset, ", ", a.nbytes,
           " bytes) and '", b.name, "' (data offset ", b.offset, ") overlap");
  }
}

const GgufValue* GgufReader::find(std::string_view key) const {
  const auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufReader::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail(path().string(), ": missing metadata key '", key, "'");
  return *v;
}

const GgufTensorInfo* GgufReader::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufReader::get_tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) fail(path().string(), ": missing tensor '", name, "'");
  return *t;
}

// ------------------------------------------------------------------ GgufWriter

GgufWriter::GgufWriter() = default;
GgufWriter::~GgufWriter() = default;
GgufWriter::GgufWriter(GgufWriter&&) noexcept = default;
GgufWriter& GgufWriter::operator=(GgufWriter&&) noexcept = default;

std::string GgufWriter::where() const {
  return path_.empty() ? std::string("GGUF writer") : path_.string();
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  check(!header_written_, where(), ": set('", key, "') after write_header");
  check(!key.empty(), where(), ": empty metadata key");
  if (key == kGgufAlignmentKey) {
    check(value.type() == GgufType::kUint32, where(), ": ", kGgufAlignmentKey, " must be uint32, got ",
          value.type_name());
    check(is_pow2(value.as_u32()), where(), ": ", kGgufAlignmentKey, " must be a power of two, got ",
          value.as_u32());
  }
  value.set_context(cat(where(), ": key '", key, "'"));
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

const GgufValue* GgufWriter::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

uint32_t GgufWriter::alignment() const {
  const GgufValue* a = find(kGgufAlignmentKey);
  return a ? a->as_u32() : kGgufDefaultAlignment;
}

void GgufWriter::add_info(const std::string& name, std::vector<int64_t> shape, GgmlType type) {
  check(!header_written_, where(), ": tensor '", name, "' added after write_header");
  check(!name.empty(), where(), ": empty tensor name");
  check(name.size() < kGgufMaxTensorName, where(), ": tensor name '", name, "' is ", name.size(),
        " bytes; llama.cpp allows at most ", kGgufMaxTensorName - 1);
  check(!tensor_index_.count(name), where(), ": duplicate tensor name '", name, "'");
  GgufTensorInfo t;
  t.nbytes = gguf_tensor_nbytes(shape, type, cat(where(), ": tensor '", name, "'"));
  t.name = name;
  t.shape = std::move(shape);
  t.type = type;
  tensor_index_.emplace(name, infos_.size());
  infos_.push_back(std::move(t));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> shape, GgmlType type,
                            const void* data, size_t nbytes) {
  const size_t expected = gguf_tensor_nbytes(shape, type, cat(where(), ": tensor '", name, "'"));
  check(nbytes == expected, where(), ": tensor '", name, "' ", shape_str(shape), " ",
        ggml_type_name(type), " has ", nbytes, " bytes of data, expected ", expected);
  check(data != nullptr, where(), ": tensor '", name, "': null data");
  add_info(name, std::move(shape), type);
  const auto* b = static_cast<const uint8_t*>(data);
  held_.emplace_back(b, b + nbytes);
  has_data_.push_back(true);
}

void GgufWriter::declare_tensor(const std::string& name, std::vector<int64_t> shape, GgmlType type) {
  add_info(name, std::move(shape), type);
  held_.emplace_back();
  has_data_.push_back(false);
}

uint64_t GgufWriter::file_size() const {
  uint64_t data = 0;
  for (const GgufTensorInfo& t : infos_) data += align_up(t.nbytes, alignment());
  return header_bytes(nullptr).size() + data;
}

std::string GgufWriter::header_bytes(std::vector<uint64_t>* offsets) const {
  const uint64_t align = alignment();
  std::string buf;
  buf.append(kMagic, 4);
  put<uint32_t>(buf, kWriteVersion);
  put<uint64_t>(buf, infos_.size());
  put<uint64_t>(buf, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    put_string(buf, key);
    put<uint32_t>(buf, static_cast<uint32_t>(value.type()));
    put_value(buf, value);
  }
  uint64_t offset = 0;
  for (const GgufTensorInfo& t : infos_) {
    if (offsets) offsets->push_back(offset);
    put_string(buf, t.name);
    put<uint32_t>(buf, static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) put<int64_t>(buf, d);
    put<uint32_t>(buf, static_cast<uint32_t>(t.type));
    put<uint64_t>(buf, offset);
    offset += align_up(t.nbytes, align);
  }
  buf.resize(static_cast<size_t>(align_up(buf.size(), align)), '\0');
  return buf;
}

void GgufWriter::write_header(const std::filesystem::path& path) {
  check(!header_written_, where(), ": write_header called twice");
  std::vector<uint64_t> offsets;
  const std::string buf = header_bytes(&offsets);
  for (size_t i = 0; i < infos_.size(); ++i) infos_[i].offset = offsets[i];

  path_ = path;
  file_ = std::make_unique<AtomicFile>(path);
  header_written_ = true;
  data_start_ = buf.size();
  next_ = 0;
  file_->write(buf.data(), buf.size());
  flush_held();
}

void GgufWriter::write_padding(uint64_t n) {
  static const char zeros[256] = {};
  while (n > 0) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof(zeros)));
    file_->write(zeros, k);
    n -= k;
  }
}

std::string GgufWriter::next_tensor() const {
  return header_written_ && next_ < infos_.size() ? infos_[next_].name : std::string();
}

void GgufWriter::write_tensor_data(std::string_view name, const void* data, size_t nbytes) {
  check(header_written_, where(), ": write_tensor_data('", name, "') before write_header");
  check(!committed_, where(), ": write_tensor_data('", name, "') after commit");
  check(next_ < infos_.size(), where(), ": write_tensor_data('", name,
        "'): every declared tensor has already been written");
  const GgufTensorInfo& t = infos_[next_];
  check(name == t.name, where(), ": write_tensor_data('", name, "'): expected tensor '", t.name,
        "' next (tensors are written in declaration order)");
  check(nbytes == t.nbytes, where(), ": tensor '", t.name, "' ", shape_str(t.shape), " ",
        ggml_type_name(t.type), " has ", nbytes, " bytes of data, expected ", t.nbytes);
  check(data != nullptr, where(), ": tensor '", t.name, "': null data");
  check(file_->offset() == data_start_ + t.offset, where(), ": internal error: tensor '", t.name,
        "' at file offset ", file_->offset(), ", expected ", data_start_ + t.offset);
  file_->write(data, nbytes);
  write_padding(align_up(nbytes, alignment()) - nbytes);
  ++next_;
  flush_held();
}

void GgufWriter::flush_held() {
  while (next_ < infos_.size() && has_data_[next_]) {
    const GgufTensorInfo& t = infos_[next_];
    check(file_->offset() == data_start_ + t.offset, where(), ": internal error: tensor '", t.name,
          "' at file offset ", file_->offset(), ", expected ", data_start_ + t.offset);
    file_->write(held_[next_].data(), held_[next_].size());
    write_padding(align_up(t.nbytes, alignment()) - t.nbytes);
    ++next_;
  }
}

void GgufWriter::commit() {
  check(header_written_, where(), ": commit before write_header");
  check(!committed_, where(), ": commit called twice");
  flush_held();
  check(next_ == infos_.size(), where(), ": tensor '", next_tensor(),
        "' was declared but its data was never written (", infos_.size() - next_, " of ",
        infos_.size(), " tensors missing)");
  file_->commit();
  committed_ = true;
}

void GgufWriter::write(const std::filesystem::path& path) {
  check(!header_written_, where(), ": write after write_header");
  for (size_t i = 0; i < infos_.size(); ++i)
    check(has_data_[i], path.string(), ": tensor '", infos_[i].name,
          "' was declared without data; write it with write_header/write_tensor_data/commit");
  write_header(path);
  commit();
}

}  // namespace lieq
