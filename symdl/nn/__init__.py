"""Neural-network layers on symdl's generated kernels (no SymPy import).

>>> import symdl.nn as nn
>>> model = nn.Sequential(nn.Linear(64, 128), nn.Activation("gelu"), nn.Linear(128, 10))
>>> history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=20)

Layers: ``Linear``, ``Activation(name, **params)`` (every activation of
``symdl.names("activation")``), ``Softmax``/``LogSoftmax``, ``Dropout``,
``Sequential``; torch's names too (``ReLU()``, ``GELU()``, ``PReLU(64)``, ...).
``wgan_gp(critic, real, fake)`` is the WGAN-GP critic loss with its double
backward; ``input_gradient(critic, x)`` the critic's gradient wrt its input.
Initializers in ``symdl.nn.init``; ``gradcheck`` compares a
backward with finite differences; ``load(path)`` reads a saved model.
"""
from __future__ import annotations

from . import init
from .aliases import (CELU, ELU, GELU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, Identity,
                      LeakyReLU, LogSigmoid, Mish, PReLU, ReLU, ReLU6, RReLU, Sigmoid, SiLU, Softplus,
                      Softshrink, Softsign, Tanh, Tanhshrink, Threshold)
from .gradcheck import GradcheckError, GradcheckResult, gradcheck
from .init import manual_seed
from .layers import Activation, Dropout, Linear, LogSoftmax, Module, Softmax
from .conv import Conv1d, Conv2d
from .embedding import Embedding
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .reshape import Flatten, Unflatten
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d,
                            InstanceNorm2d, LayerNorm, RMSNorm)
from .penalty import input_gradient, wgan_gp
from .preprocessing import Standardize
from .recurrent import (GRU, LSTM, RNN, GRUCell, LastStep, LSTMCell, PeepholeLSTM, PeepholeLSTMCell, RNNCell,
                        detach)
from .sequential import Sequential, load

__all__ = ["Module", "Linear", "Activation", "Softmax", "LogSoftmax", "Dropout", "Sequential",
           "load", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
           "InstanceNorm1d", "InstanceNorm2d", "RMSNorm", "Standardize", "wgan_gp",
           "RNNCell", "GRUCell", "LSTMCell", "PeepholeLSTMCell", "RNN", "GRU", "LSTM", "PeepholeLSTM",
           "LastStep", "detach", "input_gradient", "gradcheck", "GradcheckError", "GradcheckResult",
           "init", "manual_seed",
           "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Unflatten",
           "Embedding",
           # torch.nn's activation names (functions returning Activation layers)
           "Identity", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU",
           "SiLU", "Mish", "Softplus", "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish",
           "Softshrink", "Hardshrink", "Tanhshrink", "Softsign", "LogSigmoid", "Threshold"]
