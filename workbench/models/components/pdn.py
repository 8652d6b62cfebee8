"""EfficientAD's networks: the patch description network (PDN, small or medium) and the autoencoder.

Batzner et al. 2024. Both PDNs see 33 x 33 pixel patches (receptive field) and, with the paper's
padding, give a feature map of stride 4: (N, C, H/4, W/4) for an (N, 3, H, W) input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PDN_SIZES = ("small", "medium")


# Per size: (out channels, kernel, padding, 2x average pooling after) of each convolution but the last;
# every one is followed by a ReLU. The last convolution maps to the output channels.
_PDN_LAYERS = {
    "small": ((128, 4, 3, True), (256, 4, 3, True), (256, 3, 1, False)),
    "medium": (
        (256, 4, 3, True),
        (512, 4, 3, True),
        (512, 1, 0, False),
        (512, 3, 1, False),
        (None, 4, 0, False),
    ),
}
_PDN_LAST = {"small": 4, "medium": 1}  # kernel of the last convolution


def pdn(size: str = "small", out_channels: int = 384) -> nn.Sequential:
    """A PDN-S (4 convolutions) or PDN-M (6 convolutions): (N, 3, H, W) -> (N, out_channels, H/4, W/4)."""
    if size not in _PDN_LAYERS:
        raise ValueError(f"pdn size: expected one of {PDN_SIZES}; found {size!r}")
    layers: list[nn.Module] = []
    cin = 3
    for cout, kernel, padding, pool in _PDN_LAYERS[size]:
        cout = out_channels if cout is None else cout
        layers += [nn.Conv2d(cin, cout, kernel, padding=padding), nn.ReLU(inplace=True)]
        if pool:
            layers.append(nn.AvgPool2d(2, 2, padding=1))
        cin = cout
    layers.append(nn.Conv2d(cin, out_channels, _PDN_LAST[size]))
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """EfficientAD's autoencoder: 6 strided convolutions to a 1 x 1 code, decoded by upsampling + convs.

    forward((N, 3, H, W), out_size (h, w)) -> (N, out_channels, h, w); the decoder upsamples to
    fractions of the input size so any working size works (the paper's sizes at 256 x 256).
    """

    def __init__(self, out_channels: int = 384, dropout: float = 0.2) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.code = nn.Conv2d(64, 64, 8)
        self.decoder = nn.ModuleList([nn.Conv2d(64, 64, 4, padding=2) for _ in range(6)])
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(64, out_channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        h, w = x.shape[-2:]
        if min(h, w) < 64:  # five stride-2 convolutions need >= 64 pixels; tiny inputs are upsampled
            f = 64 / min(h, w)
            x = F.interpolate(x, size=(round(h * f), round(w * f)), mode="bilinear", align_corners=False)
            h, w = x.shape[-2:]
        z = self.encoder(x)
        # The paper's 8 x 8 code kernel needs a >= 8 x 8 map (256 input); smaller inputs pool instead.
        z = self.code(z) if min(z.shape[-2:]) >= 8 else F.adaptive_avg_pool2d(z, 1)
        # Upsampling steps of the paper at 256 x 256 (3, 8, 15, 32, 63, 127), scaled to this input.
        for conv, frac in zip(self.decoder, (3 / 256, 8 / 256, 15 / 256, 32 / 256, 63 / 256, 127 / 256)):
            z = F.interpolate(z, size=(max(1, round(h * frac)), max(1, round(w * frac))), mode="bilinear")
            z = self.dropout(F.relu(conv(z)))
        z = F.interpolate(z, size=tuple(out_size), mode="bilinear")
        return self.head(z)
