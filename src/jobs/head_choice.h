// The output head's (or an untied token embedding's) type under a size
// target, chosen end to end (the measured allocator's `--output-type
// measured`): for each candidate type the plan for what that tensor leaves of
// the size is quantized (GPTQ on the measurement's calibration) into a
// temporary GGUF file, which is run on the calibration text; the candidate
// whose file is closest to the float model (least mean KL divergence per
// token) wins. What the file holds is what is judged: the tensor in its type
// (a tied head is also the input embedding), every layer as the plan
// quantizes it, llama.cpp's fallbacks included. Cost: one quantization and
// one KL pass per candidate.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "eval/calibration.h"
#include "format/ggml_formats.h"
#include "lieq/plan.h"

namespace lieq::jobs {

struct TypeChoice {
  GgmlType type = GgmlType::Q6_K;
  std::string note;  // one line: each candidate's mean KLD (or "does not fit"), the choice
};

// what: "head" or "embedding" (in notes and errors). plan_for(t): the plan
// with that tensor's type t (Error when none fits the size).
// calib: the calibration the trial files are quantized on; its text's first
// calib.n_samples windows of calib.seqlen tokens measure them. The trial
// files are written in scratch_dir and removed. Error when no candidate fits.
TypeChoice choose_type_end_to_end(const std::string& what, const std::string& model,
                                  const CalibSet& calib, const std::string& calib_text,
                                  const std::filesystem::path& scratch_dir,
                                  const std::vector<GgmlType>& candidates,
                                  const std::function<Plan(GgmlType)>& plan_for);

}  // namespace lieq::jobs
