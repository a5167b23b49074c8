"""EfficientNet as a torch module, built from the stage table of any ScalingConfig.

The same `stages(config)` drives this builder and the closed-form profile, so the two can never
disagree about the architecture.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from .blocks import Conv2dSame, FusedMBConv, MBConv, conv_norm_activation
from .profile import check_buildable
from .scaling import ScalingConfig, stages



class EfficientNet(nn.Module):
    """stem -> 7 MBConv stages (V2: 6 or 7 Fused-MBConv and MBConv stages) -> head (1x1 conv)
    -> global pooling -> dropout -> classifier."""

    def __init__(self, config: ScalingConfig, tf_padding: bool = False) -> None:
        super().__init__()
        self.config = config
        rows = stages(config)
        norm_layer = partial(nn.BatchNorm2d, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum)
        # EfficientNet-B uses SiLU (the paper's "swish"); Lite uses ReLU6, which quantises well.
        activation_layer = partial(nn.ReLU6, inplace=True) if config.is_lite else partial(nn.SiLU, inplace=True)
        conv_layer = Conv2dSame if tf_padding else nn.Conv2d
        convolution = dict(norm_layer=norm_layer, activation_layer=activation_layer, conv_layer=conv_layer)

        stem, head = rows[0], rows[-1]
        self.stem = conv_norm_activation(3, stem.out_channels, kernel_size=3, stride=stem.stride, **convolution)

        # Stochastic depth grows linearly with the block's position in the whole network.
        total_blocks = sum(row.layers for row in rows[1:-1])
        block_index = 0
        stage_modules = []
        for row in rows[1:-1]:
            blocks = []
            for layer in range(row.layers):
                block = dict(
                    in_channels=row.in_channels if layer == 0 else row.out_channels,
                    out_channels=row.out_channels,
                    kernel_size=row.kernel_size,
                    stride=row.stride if layer == 0 else 1,
                    expand_ratio=row.expand_ratio,
                    drop_path_rate=config.stochastic_depth * block_index / total_blocks,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                    conv_layer=conv_layer,
                )
                if row.kind == "fused_mbconv":
                    blocks.append(FusedMBConv(**block))
                else:
                    blocks.append(MBConv(squeeze_ratio=row.squeeze_ratio, **block))
                block_index += 1
            stage_modules.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stage_modules)

        self.head = conv_norm_activation(head.in_channels, head.out_channels, kernel_size=1, **convolution)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout, inplace=True)
        self.classifier = nn.Linear(head.out_channels, config.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # The official initialisation (as torchvision): He-normal convolutions, uniform classifier.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / module.out_features**0.5
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map before pooling: (batch, head channels, resolution/32, resolution/32)."""
        return self.head(self.stages(self.stem(x)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits from the feature map."""
        return self.classifier(self.dropout(torch.flatten(self.pool(features), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    @property
    def layer_names(self) -> tuple[str, ...]:
        """'stem', 'stage2' .. the last stage, 'head': LAYER_NAMES for the B family, fewer for V2-S."""
        return ("stem",) + tuple(f"stage{i}" for i in range(2, len(self.stages) + 2)) + ("head",)

    def layer(self, name: str) -> nn.Module:
        """A named point in the network for hooks: 'stem', 'stage2'..'stage8', 'head' (Table 1 numbers)."""
        key = name.strip().lower()
        last = len(self.stages) + 1
        if key in ("stem", "stage1"):
            return self.stem
        if key in ("head", f"stage{last + 1}"):
            return self.head
        if key.startswith("stage") and key[5:].isdigit() and 2 <= int(key[5:]) <= last:
            return self.stages[int(key[5:]) - 2]
        raise ValueError(f"unknown layer {name!r}; choose 'stem', 'stage2' ... 'stage{last}' or 'head'")


LAYER_NAMES: tuple[str, ...] = ("stem",) + tuple(f"stage{i}" for i in range(2, 9)) + ("head",)


def build(config: ScalingConfig, tf_padding: bool | None = None) -> EfficientNet:
    """Build the network for `config` with the official initialisation, in eval mode.

    TensorFlow 'same' padding is used by default for the Lite family, whose weights come from
    TensorFlow. Trained weights are loaded by `effnet.build(config, pretrained=True)` or
    `state_dict=...` (effnet.weights.build), which builds through this function: this module
    builds, effnet.weights loads.
    """
    if not isinstance(config, ScalingConfig):
        raise TypeError(f"build() takes a ScalingConfig, got {type(config).__name__}")
    check_buildable(config)
    if tf_padding is None:
        tf_padding = config.is_lite
    return EfficientNet(config, tf_padding=tf_padding).eval()
