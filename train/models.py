"""The model zoo: ``MODELS`` maps a name to a builder; ``build_model`` checks sizes and builds one.

Every model is a functional Keras model, input ``[batch, T, F]`` float32 named
``features`` and a softmax output named ``probabilities``. All layers have
builtin TFLite equivalents (no Masking, ragged tensors or py_function): a
missing hand is already encoded by the feature spec's presence flags, so no
masking is needed. Keras 3 LSTMs become builtin TFLite ops only when the
batch is static and the loop is unrolled, so builders take ``batch_size`` and
``unroll``: train with the defaults, and for export rebuild with
``batch_size=1, unroll=True`` and copy the weights (``export_clone``).
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass
from typing import Any, Callable

import keras
from keras import layers

from edge_runtime.errors import ModelError
from edge_runtime.model_file import EMBEDDING as EMBEDDING_LAYER
from edge_runtime.spec import FeatureSpec
from host.layers import AttentionPooling, ChannelAttention, CosineSoftmax, LateDropout

Builder = Callable[..., keras.Model]
# Small datasets give a handful of batches per epoch; Keras' default 0.99 lets the moving statistics lag
# the weights by dozens of epochs, so validation loss would trail training for no real reason.
BN_MOMENTUM = 0.9


def _input(spec: FeatureSpec, batch_size: int | None) -> keras.KerasTensor:
    return keras.Input(shape=(spec.frames, spec.num_features), batch_size=batch_size, name="features",
                       dtype="float32")


def build_compact(spec: FeatureSpec, num_classes: int, *, batch_size: int | None = None, unroll: bool = False,
                  width: int = 64, blocks: int = 3, kernel: int = 5, dropout: float = 0.3) -> keras.Model:
    """Temporal depthwise-separable conv blocks with residuals, pooling between them, global average.

    Small datasets (tens of recordings per class) and small devices: ~23K
    parameters at the defaults, convolutions only, so int8 TFLite is exact
    builtin ops and a forward pass is a few hundred microseconds.
    ``unroll`` has no meaning here (no recurrence) and is accepted for a common signature.
    """
    del unroll
    inp = _input(spec, batch_size)
    x = layers.Conv1D(width, 1, name="stem")(inp)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i in range(blocks):
        y = layers.DepthwiseConv1D(kernel, padding="same", name=f"block{i}_dw")(x)
        y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_dw_bn")(y)
        y = layers.ReLU(name=f"block{i}_dw_relu")(y)
        y = layers.Conv1D(width, 1, name=f"block{i}_pw")(y)
        y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_pw_bn")(y)
        x = layers.Add(name=f"block{i}_add")([x, y])
        x = layers.ReLU(name=f"block{i}_relu")(x)
        if i < blocks - 1:
            x = layers.MaxPooling1D(2, name=f"block{i}_pool")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inp, out, name="compact")


def build_bilstm_attention(spec: FeatureSpec, num_classes: int, *, batch_size: int | None = None,
                           unroll: bool = False, lstm1: int = 128, lstm2: int = 64, attention: int = 128,
                           dense: int = 64, dropout: float = 0.3) -> keras.Model:
    """The seed project's architecture: two bidirectional LSTMs, additive attention pooling, dense head.

    At the defaults it has the seed's size (~440K parameters with F=116).
    """
    inp = _input(spec, batch_size)
    x = layers.Bidirectional(layers.LSTM(lstm1, return_sequences=True, unroll=unroll), name="bilstm1")(inp)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Bidirectional(layers.LSTM(lstm2, return_sequences=True, unroll=unroll), name="bilstm2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    x = AttentionPooling(attention, name="attention")(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout3")(x)
    out = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inp, out, name="bilstm_attention")


def _conv_block(x: keras.KerasTensor, name: str, width: int, expand: int, kernel: int,
                dropout: float) -> keras.KerasTensor:
    """Expand (pointwise, swish) -> depthwise conv over time -> BatchNorm -> channel attention -> project, + input.

    'same' padding, not causal: a sign is classified once it has ended, so every frame may look both ways.
    The dropout drops a whole block output per recording (noise over batch only): stochastic depth.
    """
    y = layers.Conv1D(width * expand, 1, activation="swish", name=f"{name}_expand")(x)
    y = layers.DepthwiseConv1D(kernel, padding="same", name=f"{name}_dw")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(y)
    y = ChannelAttention(5, name=f"{name}_eca")(y)
    y = layers.Conv1D(width, 1, name=f"{name}_project")(y)
    y = layers.Dropout(dropout, noise_shape=(None, 1, 1), name=f"{name}_drop")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def _transformer_block(x: keras.KerasTensor, name: str, width: int, heads: int, expand: int,
                       dropout: float) -> keras.KerasTensor:
    """Pre-norm self-attention over the frames, then a swish MLP, each with a residual.

    The norms are BatchNormalization, as in the ISLR winner's blocks, not the usual LayerNormalization:
    at inference BatchNorm is a constant scale and shift that the converter folds into its neighbours,
    while LayerNorm computes statistics per frame at run time (MEAN, SQUARED_DIFFERENCE, RSQRT, and a NEG
    that int8 TFLite keeps in float between QUANTIZE / DEQUANTIZE pairs, outside XNNPACK). Measured on
    the default model (21 classes, T=64, 1 thread, this project's x86 host, the fastest of 400 runs each
    as the host was shared): int8 0.95 ms per sign with LayerNorm, 0.54 ms with BatchNorm; float32 about
    the same (0.61 vs 0.59 ms). With BatchNorm the int8 graph is integer from its input to its output.
    """
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_norm1")(x)
    y = layers.MultiHeadAttention(heads, width // heads, name=f"{name}_mha")(y, y)
    y = layers.Dropout(dropout, noise_shape=(None, 1, 1), name=f"{name}_drop1")(y)
    x = layers.Add(name=f"{name}_add1")([x, y])
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_norm2")(x)
    y = layers.Conv1D(width * expand, 1, activation="swish", name=f"{name}_mlp1")(y)
    y = layers.Conv1D(width, 1, name=f"{name}_mlp2")(y)
    y = layers.Dropout(dropout, noise_shape=(None, 1, 1), name=f"{name}_drop2")(y)
    return layers.Add(name=f"{name}_add2")([x, y])


def build_conv_transformer(spec: FeatureSpec, num_classes: int, *, batch_size: int | None = None,
                           unroll: bool = False, width: int = 128, stages: int = 2, conv_blocks: int = 3,
                           kernel: int = 17, expand: int = 2, heads: int = 4, dropout: float = 0.2,
                           late_dropout: float = 0.5, late_epoch: int = 10) -> keras.Model:
    """Depthwise conv blocks with channel attention, a small Transformer, late dropout: for vocabularies of tens.

    The shape of the model that won Google's ISLR competition (250 signs, one
    ~1.85M-parameter model), scaled to this project's T=64 x F=116 input and
    a Raspberry Pi: a pointwise stem, then ``stages`` times (``conv_blocks``
    depthwise conv blocks + one Transformer block), a pointwise top layer,
    average over time, late dropout, softmax. 749K parameters at the
    defaults with 21 classes; under 1 ms per sign as int8 TFLite at 1 thread
    on the team's x86 host (``sign-bench --family-only`` measures it).

    - Conv blocks (``_conv_block``) see local motion: expand x``expand``, a
      ``kernel``-frame depthwise convolution, BatchNorm, channel attention
      (``host.layers.ChannelAttention``), project back, residual. Stochastic
      depth (``dropout``) drops a whole block per recording in training.
    - Transformer blocks (``_transformer_block``) relate distant frames
      (the start and the end of a sign); no positional encoding, the
      convolutions before them already say where a frame is.
    - Late dropout (``host.layers.LateDropout``): ``late_dropout`` on the
      pooled features from epoch ``late_epoch`` (1-based) on, switched by
      ``host.layers.LateDropoutSwitch`` which ``train.fit`` adds to every fit.
    - Pointwise layers are ``Conv1D(kernel 1)``, not ``Dense``: on [B, T, C]
      Keras' Dense goes through a tensordot whose reshapes read the input's
      shape at run time (SHAPE, GATHER, REDUCE_PROD, PACK in the TFLite
      graph); a 1x1 convolution is a static CONV_2D and int8 runs faster.
    - Attention is Keras' own ``MultiHeadAttention``: with the static batch-1
      rebuild (``export.rebuild``) it converts to builtin FULLY_CONNECTED,
      BATCH_MATMUL, SOFTMAX, TRANSPOSE and RESHAPE, and int8 keeps all of it
      integer, so it is not rewritten by hand. The Transformer's norms are
      BatchNorm, not LayerNorm (why, with the measurement: ``_transformer_block``).

    The sizes (width 128 where the winner had 192, 2 stages of 3 conv blocks,
    late dropout 0.5 from epoch 10) are chosen for the time budget (int8 <= 2
    ms per sign at 1 thread) and a 21-sign vocabulary, not tuned on accuracy.
    ``unroll`` has no meaning here (no recurrence) and is accepted for a common signature.
    """
    del unroll
    if width % heads:
        raise ModelError(f"model 'conv-transformer': width {width} is not a multiple of heads {heads}")
    inp = _input(spec, batch_size)
    x = layers.Conv1D(width, 1, use_bias=False, name="stem")(inp)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    for s in range(stages):
        for b in range(conv_blocks):
            x = _conv_block(x, f"s{s}_conv{b}", width, expand, kernel, dropout)
        x = _transformer_block(x, f"s{s}_attn", width, heads, expand, dropout)
    x = layers.Conv1D(width * 2, 1, activation="swish", name="top")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = LateDropout(late_dropout, late_epoch, name="late_dropout")(x)
    out = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inp, out, name="conv_transformer")


HEADS = ("dense", "cosine")


@dataclass(frozen=True)
class Head:
    """The classifier's last layers: ``dense`` (a softmax Dense on the pooled features, what every model had) or
    ``cosine`` (pooled -> Dense(``embedding``) -> unit length, the layer named ``embedding`` -> a cosine softmax
    with a fixed ``scale``: ``host.layers.CosineSoftmax``).

    The cosine head gives the device what the dense one cannot: an embedding in
    which the class weights are prototypes, so a sign far from every prototype
    is unknown and a new word is one more prototype (``edge_runtime.openset``).
    """

    kind: str = "dense"
    embedding: int = 64
    scale: float = 16.0
    background: float | None = None  # the cosine head's virtual "none of these" class (host.layers.CosineSoftmax)

    def __post_init__(self) -> None:
        if self.kind not in HEADS:
            raise ModelError(f"unknown head {self.kind!r} (known: {', '.join(HEADS)})")
        if int(self.embedding) < 2:
            raise ModelError(f"the embedding needs at least 2 dimensions, got {self.embedding}")
        if not float(self.scale) > 0:
            raise ModelError(f"the cosine head's scale must be positive, got {self.scale}")
        if self.background is not None and not -1.0 < float(self.background) < 1.0:
            raise ModelError(f"the cosine head's background must be in (-1, 1), got {self.background}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Head":
        """A card's ``head`` block; a card from before heads existed (None) is the dense head."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ModelError(f"a head must be an object, got {data!r}")
        background = data.get("background")
        return cls(kind=str(data.get("kind", "dense")), embedding=int(data.get("embedding", 64)),
                   scale=float(data.get("scale", 16.0)), background=None if background is None else float(background))


def _with_cosine_head(model: keras.Model, num_classes: int, head: Head) -> keras.Model:
    """``model`` with its softmax Dense replaced by the cosine head, on the same pooled features."""
    pooled = model.get_layer("probabilities").input
    x = layers.Dense(head.embedding, name="embedding_dense")(pooled)
    x = layers.UnitNormalization(name=EMBEDDING_LAYER)(x)
    out = CosineSoftmax(num_classes, head.scale, head.background, name="probabilities")(x)
    return keras.Model(model.inputs[0], out, name=model.name)


MODELS: dict[str, Builder] = {
    "compact": build_compact,
    "bilstm-attention": build_bilstm_attention,
    "conv-transformer": build_conv_transformer,
}
DEFAULT_MODEL = "compact"
_NOT_SIZES = ("spec", "num_classes", "batch_size", "unroll")


def default_sizes(name: str) -> dict[str, Any]:
    """The size arguments of a model and their defaults, e.g. {'width': 64, 'blocks': 3, ...}."""
    builder = _builder(name)
    params = inspect.signature(builder).parameters.values()
    return {p.name: p.default for p in params if p.name not in _NOT_SIZES}


def _builder(name: str) -> Builder:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name]


def resolve_sizes(name: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``sizes``, each cast to its default's type; unknown names are an error."""
    defaults = default_sizes(name)
    unknown = sorted(set(sizes) - set(defaults))
    if unknown:
        raise ModelError(f"model {name!r} has no size {', '.join(unknown)} (it has: {', '.join(defaults)})")
    out = dict(defaults)
    for key, value in sizes.items():
        try:
            out[key] = type(defaults[key])(value)
        except (TypeError, ValueError) as err:
            kind = "an integer" if isinstance(defaults[key], int) else "a number"
            raise ModelError(f"model {name!r}: size {key}={value!r} is not {kind}") from err
        if isinstance(out[key], int) and out[key] < 1:
            raise ModelError(f"model {name!r}: size {key} must be at least 1, got {out[key]}")
        if key.endswith("dropout") and not 0.0 <= out[key] < 1.0:
            raise ModelError(f"model {name!r}: {key} must be in [0, 1), got {out[key]}")
    return out


def build_model(name: str, spec: FeatureSpec, num_classes: int, *, batch_size: int | None = None,
                unroll: bool = False, head: Head | None = None, **sizes: Any) -> keras.Model:
    """Build model ``name`` for ``spec`` and ``num_classes`` outputs; ``sizes`` override its defaults.

    ``head``: the last layers (None: the dense softmax every builder ends in).
    """
    if num_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {num_classes}")
    model = _builder(name)(spec, num_classes, batch_size=batch_size, unroll=unroll, **resolve_sizes(name, sizes))
    if head is not None and head.kind == "cosine":
        model = _with_cosine_head(model, num_classes, head)
    return model


def export_clone(model: keras.Model, name: str, spec: FeatureSpec, num_classes: int, head: Head | None = None,
                 **sizes: Any) -> keras.Model:
    """The same model rebuilt for TFLite (static batch 1, unrolled LSTMs) carrying ``model``'s weights.

    ``name`` and ``sizes`` come from the run's model card (``ModelCard.model_name``
    and ``ModelCard.model_sizes``).
    """
    clone = build_model(name, spec, num_classes, batch_size=1, unroll=True, head=head, **sizes)
    clone.set_weights(model.get_weights())
    return clone
