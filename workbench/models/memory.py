"""Memory planner: how much RAM (and GPU memory) fitting a model will take, before running it.

``estimate_memory(model_name, params, n_images, image_size)`` adds up what the fit holds at its
peak: the process baseline, backbone weights, the activations of one batch, the patch buffer of
one chunk (PatchCore) or the per-position sums (PaDiM), and the learned state. Backbone sizes come
from building the network on torch's meta device (no memory, no weights needed).
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.models import registry

# RSS of a Python process with torch, numpy and OpenCV imported and one small forward done.
BASE_RSS_BYTES = 450 * 2**20
F32 = 4


def _backbone_profile(backbone: str, layers: tuple[str, ...], size: tuple[int, int]) -> dict[str, int]:
    """Weights bytes, largest single activation and stored layer-output elements for one image."""
    from workbench.models.backbones import FeatureExtractor

    with torch.device("meta"):
        fe = FeatureExtractor.__new__(FeatureExtractor)
        torch.nn.Module.__init__(fe)
        fe.backbone_name, fe.layers = backbone, tuple(layers)
        last = max(("layer1", "layer2", "layer3", "layer4").index(x) for x in fe.layers)
        if backbone.startswith("efficientnet"):
            fe._build_lite(backbone, last)
        else:
            fe._build_torchvision(backbone, last)
    params = sum(p.numel() for name, p in fe.net.named_parameters() if fe._needed(name))
    largest = 0

    def hook(_module, _inputs, output):
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.numel())

    handles = [m.register_forward_hook(hook) for m in fe.net.modules() if not list(m.children())]
    with torch.no_grad():
        outs = fe.forward(torch.empty(1, 3, *size, device="meta"))
    for h in handles:
        h.remove()
    return {
        "weights": params * F32,
        "largest_activation": largest,
        "outputs": sum(o.numel() for o in outs),
        "channels": sum(o.shape[1] for o in outs),
        "grid": tuple(outs[0].shape[-2:]),
    }


def estimate_memory(
    model_name: str, params: dict[str, Any], n_images: int, image_size: tuple[int, int]
) -> dict[str, int]:
    """{'peak_ram_bytes', 'peak_gpu_bytes'} to fit ``model_name`` with ``params`` on n (H, W) images.

    On CPU everything is RAM and ``peak_gpu_bytes`` is 0; with a CUDA device the backbone,
    activations and per-batch embeddings count as GPU memory instead.
    """
    model = registry.create(model_name, **params)
    p = model.get_params()
    size = tuple(p.get("image_size") or image_size)
    on_gpu = p.get("device", "cpu") != "cpu" and torch.cuda.is_available()
    if model_name == "patchcore":
        prof = _backbone_profile(p["backbone"], tuple(p["layers"]), size)
        dim = min(int(p["embed_dim"]), prof["channels"])
        cells = prof["grid"][0] * prof["grid"][1]
        batch = int(p["batch_size"])
        # Forward: a block keeps its input, its branch and its output alive at once.
        forward = batch * (4 * prof["largest_activation"] + prof["outputs"]) * F32
        # Embedding: pooled + upsampled layers, concatenation, reduced copy, numpy copy.
        embed = batch * cells * (2 * prof["channels"] + 2 * dim) * F32
        total = n_images * cells
        chunk = min(total, max(1, int(p["chunk_patches"]) // cells) * cells)
        # The chunk buffer, its random projection and the coreset's per-point arrays.
        chunk_bytes = chunk * (dim + min(dim, int(p["projection_dim"])) + 4) * F32
        bank = int(round(total * float(p["coreset_ratio"]))) * (dim + 3) * F32
        device_part = prof["weights"] + forward + embed
        host = BASE_RSS_BYTES + chunk_bytes + bank
        if on_gpu:
            return {"peak_ram_bytes": int(host + embed), "peak_gpu_bytes": int(device_part)}
        return {"peak_ram_bytes": int(host + device_part), "peak_gpu_bytes": 0}
    if model_name == "padim":
        prof = _backbone_profile(p["backbone"], tuple(p["layers"]), size)
        d = min(int(p["n_features"]), prof["channels"])
        cells = prof["grid"][0] * prof["grid"][1]
        batch = int(p["batch_size"])
        forward = batch * (4 * prof["largest_activation"] + prof["outputs"]) * F32
        embed = batch * cells * 3 * prof["channels"] * F32
        sums = cells * (d * d + d) * 8 * 3  # float64 sums, covariance, inverse
        device_part = prof["weights"] + forward + embed + sums
        if on_gpu:
            return {
                "peak_ram_bytes": int(BASE_RSS_BYTES + cells * d * d * F32),
                "peak_gpu_bytes": int(device_part),
            }
        return {"peak_ram_bytes": int(BASE_RSS_BYTES + device_part), "peak_gpu_bytes": 0}
    raise ValueError(f"estimate_memory: no memory model for {model_name!r}; known: patchcore, padim")
