"""Whole runs at the sizes users have: for each family, `curvature spectrum --top-k 3 --precision float` beside a
plain Lanczos in PyTorch (float32, double backward, full reorthogonalisation, stopping at the same relative residual
1e-5 of the largest Ritz value) on the same weights and data, one process each, with parameters, samples, products,
wall time and peak resident memory (wait4's ru_maxrss). Models are at random init (seed 0), data from seed 1.

Usage: python Benchmarks/real_model_runs.py CURVATURE [FAMILY...]   (families: see RUNS)
"""
import json, os, sys, tempfile, warnings
import numpy as np
import torch, torchvision
from transformers import (BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM)
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from processes import measured  # noqa: E402
from real_model_families import Text, data, export, twice_differentiable, torch_loss  # noqa: E402

EAGER = dict(attn_implementation="eager")
RUNS = {
    # name: (constructor, input kind, loss, samples, tokens, vocabulary)
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(num_classes=10), "image", "cross-entropy", 128, None, None),
    "vit": (lambda: torchvision.models.VisionTransformer(image_size=32, patch_size=4, num_layers=6, num_heads=6, hidden_dim=192,
                                                        mlp_dim=768, num_classes=10), "image", "cross-entropy", 64, None, None),
    "bert": (lambda: Text(BertForSequenceClassification(BertConfig(vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                                                   intermediate_size=1024, max_position_embeddings=128, num_labels=3, **EAGER))),
             "text", "cross-entropy", 32, 128, 8192),
    "gpt2": (lambda: Text(GPT2LMHeadModel(GPT2Config(n_embd=256, n_layer=4, n_head=4, vocab_size=8192, n_positions=128, **EAGER))),
             "text", "causal-lm", 16, 128, 8192),
    "llama": (lambda: Text(LlamaForCausalLM(LlamaConfig(vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                                        num_key_value_heads=2, intermediate_size=688, max_position_embeddings=128, **EAGER))),
              "text", "causal-lm", 16, 128, 8192),
}

TORCH_SIDE = r'''
import json, sys, time, numpy as np, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(2)
from real_model_runs import RUNS, twice_differentiable, torch_loss
from torch_lanczos import lanczos_top
name, work = sys.argv[2], sys.argv[3]
make, kind, loss = RUNS[name][:3]
model = make().eval()
model.load_state_dict(torch.load(f"{work}/{name}.pt"))
model = twice_differentiable(model)
arrays = dict(np.load(f"{work}/{name}.npz"))
inputs = (torch.tensor(arrays["input"]),) if kind == "image" else (torch.tensor(arrays["input_ids"]), torch.tensor(arrays["attention_mask"]))
start = time.perf_counter()
with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
    top, products, n = lanczos_top(torch_loss(model, inputs, arrays, loss), list(model.parameters()))
print(json.dumps({"top": top, "products": products, "n": n, "seconds": time.perf_counter() - start}))
'''


if __name__ == "__main__":
    curvature = sys.argv[1]
    work = tempfile.mkdtemp(prefix="curvature-runs-")
    print(f"# torch {torch.__version__}; float32, 2 threads, top-3 Hessian eigenvalues, relative residual 1e-5; "
          f"TorchScript exports (dynamo=False)")
    print(f"{'family':20s} {'side':10s} {'parameters':>10s} {'samples':>12s} {'products':>8s} {'time':>9s} {'peak':>9s}  top-3")
    for name in sys.argv[2:] or list(RUNS):
        make, kind, loss, samples, tokens, vocab = RUNS[name]
        torch.manual_seed(0)
        model = make().eval()
        torch.save(model.state_dict(), f"{work}/{name}.pt")
        arguments = dict(samples=samples) if kind == "image" else dict(samples=samples, tokens=tokens, vocab=vocab)
        inputs, arrays = data(kind, loss, torch.Generator().manual_seed(1), **arguments)
        np.savez(f"{work}/{name}.npz", **arrays)
        path = f"{work}/{name}.onnx"
        export(model, tuple(x[:2] for x in inputs), kind, path, dynamo=False)
        size = f"{samples}" + (f"x{tokens} tok" if tokens else " img")
        out, seconds, memory = measured([curvature, "spectrum", path, "--data", f"{work}/{name}.npz", "--loss", loss, "--top-k", "3",
                                        "--precision", "float", "--batch-size", str(samples), "--format", "json"])
        ours = json.loads(out)
        print(f"{name:20s} {'curvature':10s} {ours['n_parameters']:10d} {size:>12s} {ours['matvecs']:8d} {seconds:7.1f} s "
              f"{memory:5.2f} GiB  {', '.join(f'{v:.5g}' for v in ours['top_eigenvalues'])}", flush=True)
        out, seconds, memory = measured([sys.executable, "-c", TORCH_SIDE, os.path.dirname(os.path.abspath(__file__)), name, work])
        theirs = json.loads(out)
        print(f"{name:20s} {'torch':10s} {theirs['n']:10d} {size:>12s} {theirs['products']:8d} {seconds:7.1f} s "
              f"{memory:5.2f} GiB  {', '.join(f'{v:.5g}' for v in theirs['top'])}", flush=True)
