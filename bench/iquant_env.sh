# Shared by bench/iquant_*.sh (sourced, after `set -euo pipefail`): the
# defaults they read from the environment, and llama-perplexity helpers.
#   LIEQ_SHARED (../shared), LLAMA_BIN_DIR (llama.cpp 2026 build/bin),
#   WORK (/tmp/iquant_table), CTX (256), CHUNKS (llama-perplexity chunks, 0 = all),
#   THREADS (nproc).
shared="${LIEQ_SHARED:-../shared}"
llama="${LLAMA_BIN_DIR:-/work/ext/llama.cpp-2026/build/bin}"
work="${WORK:-/tmp/iquant_table}"
ctx="${CTX:-256}"
chunks="${CHUNKS:-0}"
threads="${THREADS:-$(nproc)}"
chunk_arg=()
[ "$chunks" -gt 0 ] && chunk_arg=(--chunks "$chunks")
# "VALUE SE" of llama-perplexity's line `KEY: VALUE ± SE` in LOG (KEY a sed
# pattern, e.g. 'Mean *KLD'); nothing when absent.
stat_of() { sed -n "s/^$2 *: *\([0-9.-]*\) ± *\([0-9.]*\).*/\1 \2/p" "$1" | head -n 1; }
