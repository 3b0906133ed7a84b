"""Custom Keras layers of signedge models, registered so ``import host.layers`` is all a loader needs.

Every layer here is built from ops that TFLite has as builtins (dense, tanh,
softmax, multiply, sum), so models that use them export without Flex ops.
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
