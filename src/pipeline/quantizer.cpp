#include "pipeline/quantizer.h"

#include <utility>

#include "quant/rtn.h"
#include "util/error.h"

namespace lieq {

Quantizer Quantizer::from(const QuantizeOptions& opt, bool importance) {
  Quantizer q;
  q.method = opt.method;
  q.gptq = opt.gptq;
  q.rtn = opt.rtn;
  q.awq = opt.awq;
  q.importance = importance;
  return q;
}

void Quantizer::validate(const std::vector<StorageFormat>& formats, bool calibrated,
                         const std::string& who) const {
  check(method == QuantMethod::kRtn || calibrated, who, ": ",
        method == QuantMethod::kAwq ? "AWQ" : "GPTQ", " needs calibration data");
  for (const StorageFormat& f : formats)
    check(!(f.is_ggml() && gptq.act_order), who,
          ": --act-order is not supported for ggml block types");
}

namespace {

Gptq& calibrated(Gptq* gptq, QuantMethod m) {
  check(gptq != nullptr, "quantize: ", m == QuantMethod::kAwq ? "AWQ" : "GPTQ",
        " needs calibration data");
  return *gptq;
}

}  // namespace

StoredTensor Quantizer::quantize(const StorageFormat& format, Tensor& w, Gptq* hessian,
                                 TensorReport& tr) const {
  const int64_t rows = w.rows(), cols = w.cols();
  StoredTensor out;
  if (format.is_grid()) {
    const QuantSpec& spec = format.spec();
    out.format = format;
    if (method == QuantMethod::kGptq) {
      Gptq& g = calibrated(hessian, method);
      g.factor(gptq);  // in place, once for the projections sharing the input
      GptqResult r = g.quantize_in_place(w.ptr(), rows, spec, gptq);
      tr.gptq_loss = r.loss;
      out.grid = std::move(r.q);
    } else {
      out.grid = method == QuantMethod::kAwq
                     ? awq_quantize_clipped(w.ptr(), rows, cols, spec,
                                            calibrated(hessian, method).hessian().data(), awq)
                     : quantize_rtn(w.ptr(), rows, cols, spec, rtn);
      out.grid.dequantize_into(w.ptr());
    }
  } else {
    const GgmlType t = format.ggml_row_type(cols);
    out.format = StorageFormat::ggml(t);
    GgmlQuantized q;
    if (method == QuantMethod::kGptq) {
      Gptq& g = calibrated(hessian, method);
      g.factor(gptq);
      q = g.quantize_ggml_in_place(w.ptr(), rows, t, gptq);
      tr.gptq_loss = q.loss;
    } else {
      std::vector<float> imp;
      if (hessian && importance) imp = hessian->importance();
      q = quantize_ggml_rtn(w.ptr(), rows, cols, t, imp.empty() ? nullptr : imp.data());
      w.data = std::move(q.dequant);
    }
    out.blocks = std::move(q.data);
  }
  tr.set_storage(out.format);
  return out;
}

FakeQuantizer Quantizer::fake_quantizer(const StorageFormat& format) const {
  if (format.is_grid()) {
    const QuantSpec spec = format.spec();
    return [spec](const float* w, int64_t rows, int64_t cols, const float*) {
      return quantize_rtn(w, rows, cols, spec).dequantize();
    };
  }
  const bool weigh = importance;
  return [format, weigh](const float* w, int64_t rows, int64_t cols, const float* imp) {
    return quantize_ggml_rtn(w, rows, cols, format.ggml_row_type(cols), weigh ? imp : nullptr)
        .dequant;
  };
}

}  // namespace lieq
