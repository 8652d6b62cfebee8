"""MemSeg's networks and memory: feature fusion with coordinate and spatial attention, the decoder, the closest-memory differences and the loss.

Yang et al. 2023; the estimator that trains them is :mod:`workbench.models.memseg`. Shapes: features
are lists over encoder layers of (B, C, h, w) float32; the memory holds (M, C, h, w) per level.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from workbench.models.components.losses import focal_loss_map, masked_mean

MEMORY_LEVELS = ("layer1", "layer2", "layer3")
SHALLOW_CHANNELS = 32


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _squash(d: torch.Tensor) -> torch.Tensor:
    """Non-negative differences -> [0, 1): the spatial attention weights stay bounded."""
    return d / (1.0 + d)


class CoordinateAttention(nn.Module):
    """Hou et al. 2021: per-channel weights pooled along rows and along columns; returns x * a_h * a_w."""

    def __init__(self, channels: int, reduction: int = 32) -> None:
        super().__init__()
        mid = max(8, channels // reduction)
        self.squeeze = nn.Sequential(nn.Conv2d(channels, mid, 1), nn.BatchNorm2d(mid), nn.Hardswish())
        self.to_h = nn.Conv2d(mid, channels, 1)
        self.to_w = nn.Conv2d(mid, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pooled = torch.cat([x.mean(3, keepdim=True), x.mean(2, keepdim=True).transpose(2, 3)], 2)
        y_h, y_w = torch.split(self.squeeze(pooled), [h, w], 2)
        return x * self.to_h(y_h).sigmoid() * self.to_w(y_w.transpose(2, 3)).sigmoid()


class FusionBlock(nn.Module):
    """One level of MemSeg's feature fusion: (3 x 3 conv) x (coordinate attention), reduced to ``cout`` channels."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cin, 3, 1, 1)
        self.attention = CoordinateAttention(cin)
        self.reduce = nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.conv(x) * self.attention(x))


class UpConv(nn.Module):
    """Bilinear resize to a given grid, then 3 x 3 conv, BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _conv_bn_relu(cin, cout)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(resize(x, size))


class MemSegHead(nn.Module):
    """Everything MemSeg trains: feature fusion with spatial attention, a shallow image branch and the decoder.

    forward(image (B, 3, H, W) normalized, features [layer1..layer4], differences [layer1..layer3])
    -> (B, 2, H/2, W/2) normal/anomalous logits. ``channels``: the encoder's four layer widths.
    """

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        c1, c2, c3, c4 = (int(c) for c in channels)
        s = SHALLOW_CHANNELS
        self.fuse = nn.ModuleList([FusionBlock(2 * c, c) for c in (c1, c2, c3)])
        self.top_down = nn.ModuleList([UpConv(c2, c1), UpConv(c3, c2)])
        self.shallow = nn.Sequential(_conv_bn_relu(3, s, 2), _conv_bn_relu(s, s))
        self.up = nn.ModuleList([UpConv(c4, c3), UpConv(2 * c3, c2), UpConv(2 * c2, c1), UpConv(2 * c1, s)])
        self.out = nn.Sequential(_conv_bn_relu(2 * s, s), nn.Conv2d(s, 2, 1))

    def forward(
        self, image: torch.Tensor, feats: list[torch.Tensor], diffs: list[torch.Tensor]
    ) -> torch.Tensor:
        sizes = [tuple(f.shape[-2:]) for f in feats]
        fused = [blk(torch.cat([f, d], 1)) for blk, f, d in zip(self.fuse, feats, diffs)]
        fused[1] = fused[1] + self.top_down[1](fused[2], sizes[1])
        fused[0] = fused[0] + self.top_down[0](fused[1], sizes[0])
        # Spatial attention: where the memory differs, at every scale (coarse to fine products of
        # the channel-mean differences, each squashed to [0, 1) so the product stays bounded).
        att = _squash(diffs[2].mean(1, keepdim=True))
        skips = [fused[2] * att]
        for level in (1, 0):
            att = _squash(diffs[level].mean(1, keepdim=True)) * resize(att, sizes[level])
            skips.insert(0, fused[level] * att)
        z = feats[3]
        for up, skip, size in zip(self.up[:3], skips[::-1], sizes[2::-1]):
            z = torch.cat([up(z, size), skip], 1)
        shallow = self.shallow(image)
        z = torch.cat([self.up[3](z, tuple(shallow.shape[-2:])), shallow], 1)
        return self.out(z)


def nearest_memory(
    feats: list[torch.Tensor], memory: list[torch.Tensor], exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """(B,) index of the memory image closest to each input: mean squared feature distance summed over levels.

    ``exclude`` (B,) long: a memory slot each input may not pick (-1: none).
    """
    dist = 0.0
    for f, m in zip(feats, memory):
        a, b = f.flatten(1), m.flatten(1)
        d = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None] - 2.0 * a @ b.T
        dist = dist + d / a.shape[1]
    if exclude is not None and memory[0].shape[0] > 1:
        rows = torch.nonzero(exclude >= 0).flatten()
        dist = dist.clone()
        dist[rows, exclude[rows]] = torch.inf
    return dist.argmin(1)


class Memory(NamedTuple):
    """Standardized layer 1-3 features of the memory images ((M, C, h, w) each) and per-layer
    channel statistics ((2, C): mean, std) of all four encoder layers."""

    features: list[torch.Tensor]
    stats: list[torch.Tensor]


def channel_stats(feats: torch.Tensor, floor: float = 1e-4) -> torch.Tensor:
    """(2, C) mean and std per channel of (N, C, h, w) features; the variance is floored at ``floor``
    times its mean so dead channels are not blown up."""
    mean = feats.mean((0, 2, 3))
    var = feats.var((0, 2, 3), unbiased=False)
    return torch.stack([mean, (var + floor * var.mean()).clamp_min(1e-30).sqrt()])


def standardize(feats: list[torch.Tensor], stats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each (B, C, h, w) feature map in units of the memory's channel statistics: backbones differ by
    orders of magnitude, and the spatial attention multiplies differences of three levels."""
    return [(f - s[0][:, None, None]) / s[1][:, None, None] for f, s in zip(feats, stats)]


def memory_differences(
    feats: list[torch.Tensor], memory: list[torch.Tensor], exclude: torch.Tensor | None = None
) -> list[torch.Tensor]:
    """Per level (B, C, h, w): log(1 + squared difference) to the closest memory image's (standardized) features.

    The logarithm keeps a garish real defect (tens of standard deviations away) in the range the
    decoder saw on the synthetic ones, instead of far outside anything it was trained on.
    """
    idx = nearest_memory(feats, memory, exclude)
    return [(m[idx] - f).pow(2).log1p() for f, m in zip(feats, memory)]


def focal_l1_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    gamma: float,
    focal_weight: float,
    l1_weight: float,
) -> torch.Tensor:
    """MemSeg's loss on (B, 2, H, W) logits, (B, H, W) 0/1 targets, averaged over pixels with ``weight`` 1.

    Focal loss (no alpha) on the two-class softmax plus the L1 distance of the anomalous-class
    probability to the target.
    """
    focal = focal_loss_map(logits, target, gamma)
    l1 = (logits.softmax(1)[:, 1] - target).abs()
    return masked_mean(focal_weight * focal + l1_weight * l1, weight)
