"""A 2D normalizing flow on feature maps: stacked affine coupling steps with per-position log-determinants.

Each step (FrEIA's 'all-in-one' block as FastFlow uses it) splits the channels in two, lets a small
conv subnet of the first half predict a soft-clamped log-scale and a shift for the second half, then
applies a learned global per-channel affine (ActNorm-like) and a fixed channel permutation. Every
part is exactly invertible, and its log-Jacobian-determinant is a sum over channels at each position,
so the flow returns it as a (B, h, w) map: positions outside a ROI can be left out of the likelihood.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_subnet(cin: int, cout: int, kernel_size: int, hidden_ratio: float) -> nn.Sequential:
    """Conv(k) -> ReLU -> Conv(k), 'same' padding: the coupling's (log-scale, shift) predictor."""
    hidden = max(1, int(cin * hidden_ratio))
    pad = kernel_size // 2
    return nn.Sequential(
        nn.Conv2d(cin, hidden, kernel_size, padding=pad),
        nn.ReLU(),
        nn.Conv2d(hidden, cout, kernel_size, padding=pad),
    )


class CouplingStep(nn.Module):
    """One invertible step: affine coupling, global affine scale/shift, channel permutation."""

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        hidden_ratio: float,
        clamp: float,
        permutation: torch.Tensor,
    ) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"a coupling step needs at least 2 channels; found {channels}")
        self.split = (channels - channels // 2, channels // 2)
        self.clamp = float(clamp)
        self.subnet = conv_subnet(self.split[0], 2 * self.split[1], kernel_size, hidden_ratio)
        # Global scale = 0.1 * softplus_{beta=0.5}(g), g initialized so the scale starts at 1.
        g0 = 2.0 * math.log(math.exp(5.0) - 1.0)
        self.global_scale = nn.Parameter(torch.full((1, channels, 1, 1), g0))
        self.global_offset = nn.Parameter(torch.zeros(1, channels, 1, 1))
        perm = torch.as_tensor(permutation, dtype=torch.long)
        self.register_buffer("perm", perm)
        self.register_buffer("perm_inv", torch.argsort(perm))

    def _scale(self) -> torch.Tensor:
        return 0.1 * F.softplus(self.global_scale, beta=0.5)

    def _coefficients(self, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft-clamped log-scale and shift for the second half, from the first half."""
        a = 0.1 * self.subnet(x1)  # scaled down for a near-identity start
        c2 = self.split[1]
        return self.clamp * torch.tanh(a[:, :c2]), a[:, c2:]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, h, w) -> (y (B, C, h, w), log|det J| per position (B, h, w))."""
        x1, x2 = torch.split(x, self.split, dim=1)
        log_s, t = self._coefficients(x1)
        y = torch.cat([x1, x2 * torch.exp(log_s) + t], dim=1)
        scale = self._scale()
        y = (y * scale + self.global_offset)[:, self.perm]
        return y, log_s.sum(1) + torch.log(scale).sum()

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """The exact inverse of ``forward`` (its output -> its input)."""
        y = (y[:, self.perm_inv] - self.global_offset) / self._scale()
        y1, y2 = torch.split(y, self.split, dim=1)
        log_s, t = self._coefficients(y1)
        return torch.cat([y1, (y2 - t) * torch.exp(-log_s)], dim=1)


class Flow2d(nn.Module):
    """FastFlow's flow for one feature scale: ``steps`` coupling steps, subnets alternating 3x3 and 1x1.

    ``conv3x3_only`` uses 3x3 everywhere; permutations are drawn from ``seed`` (stored as buffers).
    """

    def __init__(
        self,
        channels: int,
        steps: int = 8,
        hidden_ratio: float = 1.0,
        conv3x3_only: bool = False,
        clamp: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        self.steps = nn.ModuleList(
            [
                CouplingStep(
                    channels,
                    1 if i % 2 == 1 and not conv3x3_only else 3,
                    hidden_ratio,
                    clamp,
                    torch.randperm(channels, generator=gen),
                )
                for i in range(int(steps))
            ]
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, h, w) features -> (z (B, C, h, w), log|det J| per position (B, h, w))."""
        log_det = torch.zeros(x.shape[0], x.shape[2], x.shape[3], dtype=x.dtype, device=x.device)
        for step in self.steps:
            x, ld = step(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for step in reversed(self.steps):
            z = step.inverse(z)
        return z


def negative_log_likelihood(z: torch.Tensor, log_det: torch.Tensor) -> torch.Tensor:
    """(B, h, w): -log p(x) per position under a standard normal prior, up to a constant."""
    return 0.5 * z.pow(2).sum(1) - log_det
