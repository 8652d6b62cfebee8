"""Per-pixel training losses of the segmentation models (DRAEM): SSIM and focal loss, with a valid-pixel mask.

Each returns a per-pixel map; :func:`masked_mean` averages it over the pixels that count (inside
the ROI), so pixels outside never pull on the weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of (B, H, W) ``values`` over the pixels where (B, H, W) ``valid`` is 1."""
    w = valid.to(values.dtype)
    return (values * w).sum() / w.sum().clamp_min(1.0)


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_map(
    a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5, value_range: float = 1.0
) -> torch.Tensor:
    """(B, H, W) structural similarity of two (B, C, H, W) images (Gaussian window, channel mean).

    Wang et al. 2004 with the usual constants (0.01 R)^2 and (0.03 R)^2; 1 where the images agree.
    """
    c = a.shape[1]
    w = _gaussian_window(int(window), float(sigma), c, a)
    pad = int(window) // 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, padding=pad, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * value_range) ** 2, (0.03 * value_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(1)


def focal_loss_map(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """(B, H, W) focal loss -(1 - p_t)^gamma log p_t of (B, K, H, W) class logits against (B, H, W) class ids.

    Lin et al. 2017: well-classified pixels (most of an image, the normal ones) weigh little, so
    the few simulated-defect pixels drive the segmentation.
    """
    log_p = F.log_softmax(logits, dim=1).gather(1, target.long()[:, None])[:, 0]
    return -((1.0 - log_p.exp()).clamp_min(0.0) ** float(gamma)) * log_p
