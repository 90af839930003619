#include "pipeline/report.h"

#include <nlohmann/json.hpp>

namespace lieq {

void TensorReport::set_storage(const StorageFormat& f) {
  format = f;
  type = f.name();
  bits = f.storage_bits(rows, cols);
  bpw = double(bits) / double(rows * cols);
}

namespace {

// The storage keys of a layer or tensor: "format", "type", and for integer
// grids "spec".
void put_format(nlohmann::json& j, const StorageFormat& f, const std::string& type) {
  j["format"] = f.to_json();
  j["type"] = type;
  if (f.is_grid()) {
    const QuantSpec& s = f.spec();
    j["spec"] = {{"bits", s.bits}, {"group_size", s.group_size}, {"symmetric", s.symmetric}};
  }
}

}  // namespace

std::string report_json(const QuantizeReport& r) {
  using json = nlohmann::json;
  json j;
  j["source"] = r.source;
  j["method"] = r.method;
  j["seconds"] = r.seconds;
  j["linear_bpw"] = r.linear_bpw();
  j["file_bpw"] = r.file_bpw();
  j["linear_params"] = r.linear_params;
  j["total_params"] = r.total_params;
  j["file_bytes"] = r.file_bytes;
  j["calibration"] = {{"samples", r.calib_samples},
                      {"seqlen", r.calib_seqlen},
                      {"text_tokens", r.calib_text_tokens},
                      {"warning", r.calib_warning}};
  j["fallbacks"] = r.fallbacks;
  j["layers"] = json::array();
  for (const auto& l : r.layers) {
    json e = {{"layer", l.layer},
              {"bpw", l.bpw()},
              {"output_rel_error", l.output_rel_error},
              {"seconds", l.seconds}};
    put_format(e, l.format, l.type);
    j["layers"].push_back(e);
  }
  j["tensors"] = json::array();
  for (const auto& t : r.tensors) {
    json e = {{"name", t.name},
              {"layer", t.layer},
              {"shape", {t.rows, t.cols}},
              {"bpw", t.bpw},
              {"output_rel_error", t.output_rel_error},
              {"gptq_loss", t.gptq_loss},
              {"awq_alpha", t.awq_alpha},
              {"seconds", t.seconds}};
    put_format(e, t.format, t.type);
    j["tensors"].push_back(e);
  }
  return j.dump(1) + "\n";
}

}  // namespace lieq
