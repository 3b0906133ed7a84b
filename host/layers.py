"""Custom Keras layers of signedge models, registered so ``import host.layers`` is all a loader needs.

Every layer here is built from ops that TFLite has as builtins (dense, tanh,
softmax, multiply, sum, mean, a small convolution, sigmoid), so models that
use them export without Flex ops. ``LateDropout`` adds a random op only in
training; the exported graph never sees it.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

import host.losses  # noqa: F401  (registers the training losses too: a saved model loads compiled)


@keras.saving.register_keras_serializable(package="signedge")
class AttentionPooling(keras.layers.Layer):
    """Additive (Bahdanau-style) attention over time: [B, T, D] -> [B, D].

    The seed model's pooling: each time step gets a score v . tanh(W h_t + b),
    softmax over time, and the output is the score-weighted sum of the steps,
    so the classifier looks at the frames that carry the sign instead of the
    last LSTM state.
    """

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape: tuple) -> None:
        dim = int(input_shape[-1])
        self.w = self.add_weight(name="w", shape=(dim, self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.units, 1), initializer="glorot_uniform")
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        scores = ops.matmul(ops.tanh(ops.matmul(inputs, self.w) + self.b), self.v)  # [B, T, 1]
        weights = ops.softmax(scores, axis=1)
        return ops.sum(inputs * weights, axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="signedge")
class ChannelAttention(keras.layers.Layer):
    """Efficient channel attention (ECA, Wang et al. CVPR 2020): [B, T, C] -> [B, T, C], rescaled per channel.

    Each channel gets a gate sigmoid(conv_k(mean over time)), the 1-D
    convolution running across neighbouring channels: a squeeze-and-excitation
    with ``kernel`` weights instead of two dense layers, which is why the ISLR
    competition winners put it in every conv block (a block can weigh the
    channels that carry this sign's motion for almost no parameters). It
    converts to MEAN, CONV_2D (a [k, 1] kernel), LOGISTIC and MUL: builtins
    that int8 quantises like any convolution.
    """

    def __init__(self, kernel: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(kernel) < 1 or int(kernel) % 2 == 0:
            raise ValueError(f"ChannelAttention kernel must be odd and positive, got {kernel}")
        self.kernel = int(kernel)

    def build(self, input_shape: tuple) -> None:
        self.w = self.add_weight(name="w", shape=(self.kernel, 1, 1), initializer="glorot_uniform")
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        squeezed = ops.expand_dims(ops.mean(inputs, axis=1), -1)  # [B, C, 1]: channels as a sequence
        gate = ops.sigmoid(ops.conv(squeezed, self.w, padding="same"))  # [B, C, 1]
        return inputs * ops.transpose(gate, (0, 2, 1))  # [B, 1, C] broadcast over time

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel": self.kernel}


@keras.saving.register_keras_serializable(package="signedge")
class LateDropout(keras.layers.Layer):
    """Dropout that is off until a given epoch, then on (the ISLR competition winners' "late dropout").

    Why: a large dropout from the first step slows the early fit of a bigger
    model; switched on once the model has learned the easy part, it
    regularises the long tail of training (Liu et al. 2023, "Dropout reduces
    underfitting", arXiv 2303.01500, call this late dropout).

    How: the layer keeps a non-trainable scalar ``active`` (0 or 1) and
    applies dropout of ``rate * active`` in training. ``LateDropoutSwitch``,
    a callback that ``train.fit`` adds to every fit, sets ``active`` at the
    start of each epoch from ``start_epoch`` (1-based, as the epoch lines
    print it). A variable, not a Python flag, because Keras compiles the
    training step once: a variable is read at every step. At inference the
    layer is the identity, so the exported graph holds no random op.
    """

    def __init__(self, rate: float = 0.5, start_epoch: int = 1, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"LateDropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.start_epoch = int(start_epoch)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: tuple) -> None:
        self.active = self.add_weight(name="active", shape=(), initializer="ones", trainable=False)
        super().build(input_shape)

    def switch(self, epoch: int) -> None:
        """Turn dropout on from ``start_epoch`` (``epoch`` is 1-based) and off before it."""
        self.active.assign(1.0 if epoch >= self.start_epoch else 0.0)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        rate = self.rate * ops.cast(self.active, inputs.dtype)
        keep = ops.cast(keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= rate, inputs.dtype)
        return inputs * keep / (1.0 - rate)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "start_epoch": self.start_epoch, "seed": self.seed}


class LateDropoutSwitch(keras.callbacks.Callback):
    """Sets every ``LateDropout`` layer of the model at the start of each epoch (a no-op for other models)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for layer in late_dropouts(self.model):
            layer.switch(epoch + 1)


def late_dropouts(model: Any) -> list[LateDropout]:
    """Every ``LateDropout`` in ``model``, nested models included."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, LateDropout):
            found.append(layer)
        found += late_dropouts(layer)
    return found


@keras.saving.register_keras_serializable(package="signedge")
class CosineSoftmax(keras.layers.Layer):
    """``softmax(scale * cos(e, w_c))``: a classifier whose classes are directions (prototypes) in the embedding.

    The input ``e`` is already unit length (``UnitNormalization``); each class
    weight column is normalised here, so a class score is a cosine similarity
    and the weights ARE the class prototypes the device compares a sign with
    (``edge_runtime.openset``). With a fixed ``scale`` (NormFace, Wang et al.
    2017) a cross-entropy on these probabilities pulls every recording towards
    its class's direction; ``host.losses.CosineMarginCrossEntropy`` adds the
    CosFace margin.

    ``background``: a virtual "none of these" class whose cosine is always this
    value. Cross-entropy only asks a recording to be closer to its own class
    than to the others, so with a few classes (the ASL set has three) a known
    sign can sit at cosine 0.5 from its prototype and an unknown one just as
    close: the similarity then means nothing on its own. Against a background
    at cosine b, a recording must reach well above b to win, so a known sign
    ends up near its prototype and the device's threshold on the cosine is
    meaningful. The background's share is not part of the output (rows sum
    to less than 1; the device recomputes normalised probabilities anyway). Builtin TFLite ops only (the normalised weights are a
    constant once converted: FULLY_CONNECTED, MUL, SOFTMAX).
    """

    def __init__(self, classes: int, scale: float = 16.0, background: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = int(classes)
        self.scale = float(scale)
        self.background = None if background is None else float(background)

    def build(self, input_shape: tuple) -> None:
        self.kernel = self.add_weight(name="prototypes", shape=(int(input_shape[-1]), self.classes),
                                      initializer="glorot_uniform")

    def prototypes(self) -> Any:
        """The unit-length class directions [D, C]."""
        return self.kernel / ops.sqrt(ops.maximum(ops.sum(ops.square(self.kernel), axis=0, keepdims=True), 1e-12))

    def call(self, inputs: Any) -> Any:
        logits = self.scale * ops.matmul(inputs, self.prototypes())
        if self.background is None:
            return ops.softmax(logits, axis=-1)
        # A virtual class at a fixed cosine: its share is left out, so the rows sum to less than 1.
        rest = ops.full_like(logits[..., :1], self.scale * self.background)
        return ops.softmax(ops.concatenate([logits, rest], axis=-1), axis=-1)[..., :self.classes]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.classes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes, "scale": self.scale, "background": self.background}
