"""The model families users bring, at random init in small configs, their data and PyTorch's references: shared by
Benchmarks/real_models_crosscheck.py and scripts/fixtures/make_real_model_fixtures.py.
"""
import numpy as np
import torch
import torchvision
from torch_lanczos import lanczos_top
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig, DistilBertForSequenceClassification,
                          RobertaConfig, RobertaForSequenceClassification, GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM, ViTConfig, ViTForImageClassification)

SAMPLES, TOKENS, VOCAB = 8, 8, 100


class Text(torch.nn.Module):
    """A Hugging Face model as a function of (input_ids, attention_mask) returning its logits."""
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]


class Pixels(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x, return_dict=False)[0]


# Eager attention: PyTorch has no double backward through its fused attention kernel.
small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, attn_implementation="eager")
FAMILIES = {
    # name: (constructor, input kind, loss)
    "resnet18": (lambda: torchvision.models.resnet18(num_classes=10), "image", "cross-entropy"),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(num_classes=10), "image", "cross-entropy"),
    "wide_resnet50_2": (lambda: torchvision.models.wide_resnet50_2(num_classes=10), "image", "cross-entropy"),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(num_classes=10), "image", "cross-entropy"),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(num_classes=10), "image", "cross-entropy"),
    "convnext_tiny": (lambda: torchvision.models.convnext_tiny(num_classes=10), "image", "cross-entropy"),
    "vit": (lambda: torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                                        mlp_dim=64, num_classes=10), "image", "cross-entropy"),
    "hf-vit": (lambda: Pixels(ViTForImageClassification(ViTConfig(image_size=32, patch_size=8, num_labels=10, **small))), "image", "cross-entropy"),
    "bert": (lambda: Text(BertForSequenceClassification(BertConfig(vocab_size=VOCAB, max_position_embeddings=32, num_labels=3, **small))),
             "text", "cross-entropy"),
    "distilbert": (lambda: Text(DistilBertForSequenceClassification(DistilBertConfig(vocab_size=VOCAB, max_position_embeddings=32, dim=32,
                                                                                      n_layers=2, n_heads=2, hidden_dim=64, num_labels=3, attn_implementation="eager"))),
                   "text", "cross-entropy"),
    "roberta": (lambda: Text(RobertaForSequenceClassification(RobertaConfig(vocab_size=VOCAB, max_position_embeddings=40, num_labels=3, **small))),
                "text", "cross-entropy"),
    "gpt2": (lambda: Text(GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=VOCAB, n_positions=32, attn_implementation="eager"))), "text", "causal-lm"),
    "llama": (lambda: Text(LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, max_position_embeddings=32, num_key_value_heads=1, **small))),
              "text", "causal-lm"),
}


class HardSigmoid(torch.nn.Module):
    """relu6(x + 3) / 6, as torch.nn.Hardsigmoid, through clamp, which has a double backward (hardsigmoid has none)."""
    def forward(self, x):
        return torch.clamp(x + 3, 0, 6) / 6


class HardSwish(HardSigmoid):
    def forward(self, x):
        return x * super().forward(x)


def twice_differentiable(module):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Hardswish):
            setattr(module, name, HardSwish())
        elif isinstance(child, torch.nn.Hardsigmoid):
            setattr(module, name, HardSigmoid())
        else:
            twice_differentiable(child)
    return module


def data(kind, loss, generator, samples=SAMPLES, tokens=TOKENS, vocab=VOCAB):
    if kind == "image":
        x = torch.randn(samples, 3, 32, 32, generator=generator)
        return (x,), {"input": x.numpy(), "y": torch.randint(0, 10, (samples,), generator=generator).numpy()}
    ids = torch.randint(0, vocab, (samples, tokens), generator=generator)
    mask = torch.ones(samples, tokens, dtype=torch.long)
    for i in range(0, samples, 2):
        mask[i, tokens - 1 - i // 2 % 4:] = 0  # right padding of 1..4 tokens on every other sample
    arrays = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    if loss == "causal-lm":
        arrays["labels"] = np.where(mask.numpy() == 1, ids.numpy(), -100)
    else:
        arrays["y"] = torch.randint(0, 3, (samples,), generator=generator).numpy()
    return (ids, mask), arrays


def torch_loss(model, inputs, arrays, loss):
    logits = model(*inputs)
    if loss == "causal-lm":
        labels = torch.as_tensor(arrays["labels"])
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    return torch.nn.functional.cross_entropy(logits, torch.as_tensor(arrays["y"]))


def export(model, inputs, kind, path, dynamo):
    """Exports with dynamo=False (batch axis dynamic, BatchNorm kept, no constant folding) or dynamo=True with
    optimize=False (the optimiser folds computations on parameters into constants)."""
    names = ["input"] if kind == "image" else ["input_ids", "attention_mask"]
    if dynamo:
        torch.onnx.export(model, inputs, path, input_names=names, output_names=["logits"], dynamo=True, optimize=False)
    else:
        axes = {n: {0: "batch"} for n in names + ["logits"]}
        torch.onnx.export(model, inputs, path, input_names=names, output_names=["logits"], dynamic_axes=axes, opset_version=17,
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False, dynamo=False)


def references(name, eigenvalue=True):
    """The family's model (seed 0), its inputs and data arrays (seed 1), its loss in float32 and (unless not
    `eigenvalue`) its top Hessian eigenvalue by a float64 Lanczos, with the loss it takes."""
    make, kind, loss = FAMILIES[name]
    torch.manual_seed(0)
    model = make().eval()
    inputs, arrays = data(kind, loss, torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = float(torch_loss(model, inputs, arrays, loss))
    n_parameters = sum(p.numel() for p in model.parameters())
    if not eigenvalue:
        return model, inputs, arrays, kind, loss, reference, None, n_parameters
    double = make().eval(); double.load_state_dict(model.state_dict()); double = twice_differentiable(double).double()
    double_inputs = tuple(x.double() if x.is_floating_point() else x for x in inputs)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):  # the fused kernels have no double backward
        params = [p for p in double.parameters() if p.requires_grad]
        (top,), _, n_parameters = lanczos_top(torch_loss(double, double_inputs, arrays, loss), params, count=1, tolerance=None,
                                              limit=60, dtype=torch.float64)
    return model, inputs, arrays, kind, loss, reference, top, n_parameters
