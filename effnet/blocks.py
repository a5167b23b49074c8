"""The building blocks: MBConv (the inverted residual), Fused-MBConv and TensorFlow-style 'same' padding.

MBConv comes from MobileNetV2 (Sandler et al., 2018) with squeeze-and-excitation (Hu et al., 2018)
added, as the EfficientNet paper uses it (Section 4). torchvision's Conv2dNormActivation,
SqueezeExcitation and StochasticDepth do the work; this file only arranges them.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import SqueezeExcitation, StochasticDepth


def conv_norm_activation(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    norm_layer: Callable[..., nn.Module],
    activation_layer: Callable[..., nn.Module] | None,
    stride: int = 1,
    groups: int = 1,
    conv_layer: Callable[..., nn.Module] = nn.Conv2d,
) -> nn.Sequential:
    """Convolution (no bias: batch norm has one) -> batch norm -> activation, as children 0, 1, 2.

    The layout of torchvision's Conv2dNormActivation, with a choice of padding rule.
    """
    layers = [
        conv_layer(in_channels, out_channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2, groups=groups, bias=False),
        norm_layer(out_channels),
    ]
    if activation_layer is not None:
        layers.append(activation_layer())
    return nn.Sequential(*layers)


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow's 'SAME' padding.

    PyTorch pads k // 2 pixels on every side. TensorFlow pads only what the stride needs, and puts
    the odd pixel on the bottom and the right. With stride 1 the two agree; with stride 2 on an even
    input they differ by one pixel, which matters for weights trained in TensorFlow (the Lite family).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        pad_w = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return super().forward(x)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


class MBConv(nn.Module):
    """Mobile inverted bottleneck: expand -> depthwise -> squeeze-and-excitation -> project.

    'Inverted' because the residual joins the *narrow* ends and the block is wide in the middle,
    the opposite of ResNet's bottleneck. Parts that a configuration switches off are nn.Identity,
    so forward() always reads the same and every part can be hooked by name.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        expand_ratio: int,
        squeeze_ratio: float,
        drop_path_rate: float,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
    ) -> None:
        super().__init__()
        hidden_channels = in_channels * expand_ratio
        convolution = dict(norm_layer=norm_layer, conv_layer=conv_layer)

        # expand: a 1x1 convolution widens the block by `expand_ratio` (skipped when the ratio is 1)
        if expand_ratio != 1:
            self.expand = conv_norm_activation(
                in_channels, hidden_channels, kernel_size=1, activation_layer=activation_layer, **convolution
            )
        else:
            self.expand = nn.Identity()

        # depthwise: one k x k filter per channel (groups = channels) sees space at little cost;
        # a stride of 2 here halves the feature map
        self.depthwise = conv_norm_activation(
            hidden_channels,
            hidden_channels,
            kernel_size=kernel_size,
            stride=stride,
            groups=hidden_channels,
            activation_layer=activation_layer,
            **convolution,
        )

        # squeeze and excitation: pool each channel to one number, pass the vector through a small
        # bottleneck (a quarter of the block's input channels) and rescale every channel by a gate
        if squeeze_ratio > 0:
            squeeze_channels = max(1, int(in_channels * squeeze_ratio))
            self.squeeze_excite = SqueezeExcitation(hidden_channels, squeeze_channels, activation=nn.SiLU)
        else:
            self.squeeze_excite = nn.Identity()

        # project: a 1x1 convolution back to the narrow output, with no activation (a linear
        # bottleneck: a ReLU here would destroy information in so few channels)
        self.project = conv_norm_activation(
            hidden_channels, out_channels, kernel_size=1, activation_layer=None, **convolution
        )

        # residual: only when input and output have the same shape; during training the block's
        # branch is dropped at random for whole samples (stochastic depth, Huang et al., 2016)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.drop_path = StochasticDepth(drop_path_rate, "row") if self.use_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x)
        out = self.depthwise(out)
        out = self.squeeze_excite(out)
        out = self.project(out)
        if self.use_residual:
            out = self.drop_path(out) + x
        return out


class FusedMBConv(nn.Module):
    """Fused-MBConv (EfficientNetV2, Section 3.2): MBConv's 1x1 expansion and kxk depthwise as one kxk conv.

    One dense kxk convolution costs more multiply-adds than the pair it replaces, but it does far
    more arithmetic per byte it moves, which is what keeps an accelerator busy in the early, large
    stages. No squeeze-and-excitation. With an expansion of 1 the kxk convolution goes straight to
    the output channels (with its activation) and there is no projection.
    Children as in MBConv (`expand`, `depthwise`, `squeeze_excite`, `project`, `drop_path`), the
    absent ones nn.Identity, so code that walks a block's parts treats both kinds alike.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        expand_ratio: int,
        drop_path_rate: float,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
    ) -> None:
        super().__init__()
        hidden_channels = in_channels * expand_ratio
        convolution = dict(norm_layer=norm_layer, conv_layer=conv_layer)
        expands = expand_ratio != 1

        # fused expand: one k x k convolution (stride here) sees space and widens the block at once
        self.expand = conv_norm_activation(
            in_channels,
            hidden_channels if expands else out_channels,
            kernel_size=kernel_size,
            stride=stride,
            activation_layer=activation_layer,
            **convolution,
        )

        # MBConv's depthwise and squeeze-and-excitation are fused away: off, like any absent part
        self.depthwise = nn.Identity()
        self.squeeze_excite = nn.Identity()

        # project: a linear 1x1 convolution back to the narrow output, as in MBConv
        if expands:
            self.project = conv_norm_activation(
                hidden_channels, out_channels, kernel_size=1, activation_layer=None, **convolution
            )
        else:
            self.project = nn.Identity()

        self.use_residual = stride == 1 and in_channels == out_channels
        self.drop_path = StochasticDepth(drop_path_rate, "row") if self.use_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.expand(x))
        if self.use_residual:
            out = self.drop_path(out) + x
        return out
