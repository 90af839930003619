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
  for (const StorageFormat& f : formats) {
    check(!(f.is_ggml() && gptq.act_order), who,
          ": --act-order is not supported for ggml block types");
    check(!imatrix || f.is_ggml(), who, ": an imatrix weighs ggml types' rounding; ", f.name(),
          " is an integer grid");
  }
  check(!imatrix || method == QuantMethod::kRtn, who,
        ": an imatrix file is llama.cpp's RTN weighting (--method rtn); GPTQ and AWQ use the "
        "calibration's Hessian");
}

const float* Quantizer::imatrix_for(const std::string& gguf_name, int64_t cols) const {
  if (!imatrix) return nullptr;
  const std::vector<float>* v = imatrix->find(gguf_name);
  check(v != nullptr, "imatrix: no entry for ", gguf_name);
  check(int64_t(v->size()) == cols, "imatrix: ", gguf_name, " has ", v->size(),
        " values for a weight of ", cols, " columns");
  return v->data();
}

namespace {

Gptq& calibrated(Gptq* gptq, QuantMethod m) {
  check(gptq != nullptr, "quantize: ", m == QuantMethod::kAwq ? "AWQ" : "GPTQ",
        " needs calibration data");
  return *gptq;
}

}  // namespace

StoredTensor Quantizer::quantize(const StorageFormat& format, Tensor& w, Gptq* hessian,
                                 TensorReport& tr, const std::string& gguf_name) const {
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
      const float* file_imp = imatrix ? imatrix_for(gguf_name, cols) : nullptr;
      q = quantize_ggml_rtn(w.ptr(), rows, cols, t,
                            file_imp ? file_imp : imp.empty() ? nullptr : imp.data());
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
