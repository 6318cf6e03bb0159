#!/usr/bin/env bash
# Forward, gradient and HVP beside PyTorch (double backward and torch.func forward-over-reverse), same ONNX-exported
# weights and data, float32, 2 threads, one run. Usage: [HVP_MODELS=mlp,cnn,resnet18,bert] scripts/benchmarks/hvp.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy torch torchvision transformers onnx)"
(cd Benchmarks && swift build -c release --product CurvatureBenchmarks >&2)
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
"$python" Benchmarks/hvp_benchmark.py "$(cd Benchmarks && swift build -c release --show-bin-path)/CurvatureBenchmarks" "$@"
