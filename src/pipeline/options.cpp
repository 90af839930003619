#include "pipeline/options.h"

namespace lieq {

const char* method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::kRtn:
      return "rtn";
    case QuantMethod::kGptq:
      return "gptq";
    case QuantMethod::kAwq:
      return "awq";
  }
  return "?";
}

bool parse_method(const std::string& s, QuantMethod* out) {
  for (QuantMethod m : {QuantMethod::kRtn, QuantMethod::kGptq, QuantMethod::kAwq}) {
    if (s == method_name(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

}  // namespace lieq
