// lieq: layer-wise information effectiveness quantization of small language models.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "kernels/gemm.h"
#include "util/error.h"

int main(int argc, char** argv) {
  lieq::select_blas_kernels(argv);
  CLI::App app{"lieq: quantize small language models to 2-4 bits with layer-wise bit allocation"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lieq 0.1.0");
  lieq::cli::Action action;
  lieq::cli::add_inspect(app, action);
  lieq::cli::add_tokenize(app, action);
  lieq::cli::add_generate(app, action);
  lieq::cli::add_ppl(app, action);
  lieq::cli::add_eval(app, action);
  lieq::cli::add_kld(app, action);
  lieq::cli::add_diagnose(app, action);
  lieq::cli::add_plan(app, action);
  lieq::cli::add_quantize(app, action);
  lieq::cli::add_compare(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 0;
  } catch (const lieq::Error& e) {
    std::fprintf(stderr, "lieq: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "lieq: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lieq: error: %s\n", e.what());
    return 1;
  }
}
