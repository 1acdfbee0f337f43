"""Ready-made models (used by ``symdl train --model cnn``)."""
from __future__ import annotations

import numpy as np

from symdl.errors import ShapeError

from .conv import Conv2d
from .layers import Activation, Dropout, Linear
from .pooling import MaxPool2d
from .reshape import Flatten
from .sequential import Sequential

__all__ = ["small_cnn"]


def small_cnn(image_shape, classes: int, *, channels=(16, 32), hidden: int = 128,
              activation: str = "gelu", dropout: float = 0.2, dtype=np.float32) -> Sequential:
    """conv3×3 → act → conv3×3 → act → maxpool 2 → flatten → [dropout] →
    linear → act → linear: a small CNN for (C, H, W) images (H, W >= 2),
    e.g. the 8×8 digits: ``small_cnn((1, 8, 8), 10)``."""
    C, H, W = (int(s) for s in image_shape)
    if H < 2 or W < 2:
        raise ShapeError(f"small_cnn needs images of at least 2×2 pixels, got {tuple(image_shape)}")
    c1, c2 = channels
    layers = [Conv2d(C, c1, 3, padding=1, dtype=dtype), Activation(activation, dtype=dtype),
              Conv2d(c1, c2, 3, padding=1, dtype=dtype), Activation(activation, dtype=dtype),
              MaxPool2d(2, dtype=dtype), Flatten(dtype=dtype)]
    if dropout:
        layers.append(Dropout(dropout, dtype=dtype))
    layers += [Linear(c2 * (H // 2) * (W // 2), hidden, dtype=dtype), Activation(activation, dtype=dtype),
               Linear(hidden, classes, dtype=dtype)]
    return Sequential(*layers)
