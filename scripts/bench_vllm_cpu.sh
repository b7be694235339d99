#!/usr/bin/env bash
# Run the rollout benchmark (bench/rollouts.py, LLM part) against vLLM on CPU instead of the
# embedded llama.cpp server, so the two backends can be compared on the same machine.
#
#   scripts/bench_vllm_cpu.sh                   # set up vLLM if needed, serve, benchmark, stop
#   scripts/bench_vllm_cpu.sh --write-results   # ... and record the table in bench/RESULTS.md
#   (any other arguments are passed on to bench/rollouts.py, e.g. --concurrency 1 4 8 16)
#
# What it does:
# 1. scripts/vllm_cpu_setup.sh installs vllm-cpu in its own virtualenv (.venv-vllm; it pins its
#    own torch and transformers) and writes the HF-format SmolLM2-135M-Instruct folder;
# 2. starts vLLM's OpenAI-compatible server on VLLM_PORT (8000) in the background and waits until
#    GET /v1/models answers (first start compiles kernels: allow a few minutes);
# 3. runs the LLM part of bench/rollouts.py with --base-url pointing at it, the served model name
#    smollm2-135m and RSO_STRUCTURED_METHOD=json_schema (vLLM decodes under the schema); vLLM
#    honours `n`, so the Rewarder's samples come from one request;
# 4. stops the server it started (also on error or Ctrl-C).
#
# Settings (environment): VLLM_PORT (8000), VLLM_STARTUP_TIMEOUT_S (900), VLLM_LOG
# (.cache/logs/vllm_bench.log), plus those of scripts/vllm_cpu_setup.sh (VLLM_VENV, VLLM_MODEL_DIR,
# VLLM_CPU_KVCACHE_SPACE, VLLM_CPU_OMP_THREADS_BIND, TORCH_INDEX).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${VLLM_PORT:-8000}
TIMEOUT_S=${VLLM_STARTUP_TIMEOUT_S:-900}
LOG=${VLLM_LOG:-.cache/logs/vllm_bench.log}
BASE_URL="http://127.0.0.1:$PORT/v1"
mkdir -p "$(dirname "$LOG")"

# 1. Install and convert (idempotent: skips what is already there).
scripts/vllm_cpu_setup.sh

# 2. Serve in the background; remember the process group so that every child stops with it.
VLLM_PORT=$PORT setsid scripts/vllm_cpu_setup.sh --serve >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap stop_server EXIT INT TERM

echo "waiting for vLLM on $BASE_URL (log: $LOG)"
deadline=$((SECONDS + TIMEOUT_S))
until curl -sf "$BASE_URL/models" >/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "vLLM exited before it was ready; last lines of $LOG:" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    if ((SECONDS > deadline)); then
        echo "vLLM was not ready after ${TIMEOUT_S}s; see $LOG" >&2
        exit 1
    fi
    sleep 5
done

# 3. The same benchmark as against the embedded server, LLM part only.
RSO_STRUCTURED_METHOD=json_schema HF_HUB_OFFLINE=1 .venv/bin/python bench/rollouts.py \
    --skip-fast --base-url "$BASE_URL" --model smollm2-135m \
    --label "vLLM CPU (vllm-cpu), SmolLM2-135M-Instruct float32" \
    --section "Rollouts (vLLM CPU)" "$@"
