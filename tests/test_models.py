"""The model zoo: every model builds for the spec, saves/loads with `import host.layers` only, and its
export clone (batch 1, unrolled) computes the same function."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from edge_runtime.errors import ModelError  # noqa: E402
from edge_runtime.spec import DEFAULT_SPEC, FeatureSpec  # noqa: E402
from train.models import MODELS, build_model, default_sizes, export_clone  # noqa: E402

SMALL = {"compact": {"width": 16, "blocks": 2}, "bilstm-attention": {"lstm1": 8, "lstm2": 8, "attention": 8,
                                                                      "dense": 8},
         "conv-transformer": {"width": 16, "stages": 1, "conv_blocks": 1, "kernel": 5, "heads": 2}}


SPEC = FeatureSpec(frames=16)  # a short T keeps the unrolled LSTM quick to build; sizes use the default T


def sample(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, SPEC.frames, SPEC.num_features)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_maps_T_by_F_to_a_softmax_over_the_classes(name):
    model = build_model(name, SPEC, 4, **SMALL[name])
    assert tuple(model.input.shape) == (None, SPEC.frames, SPEC.num_features)
    out = model.predict(sample(), verbose=0)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    forbidden = {"Masking", "Lambda", "TFSMLayer"}
    assert not forbidden & {type(layer).__name__ for layer in model.layers}


def test_default_sizes_compact_is_tens_of_k_and_bilstm_is_the_seeds_size():
    compact = build_model("compact", DEFAULT_SPEC, 5).count_params()
    seed = build_model("bilstm-attention", DEFAULT_SPEC, 5).count_params()
    assert 10_000 <= compact <= 60_000
    assert 400_000 <= seed <= 480_000  # the seed's 438K (it had 114 features, we have 116)
    assert default_sizes("compact")["width"] == 64


def test_saved_models_load_with_only_train_layers_imported(tmp_path):
    """What export and the benchmarks do: a fresh process, `import host.layers`, load_model, same outputs."""
    x = sample(2)
    np.save(tmp_path / "x.npy", x)
    for name in sorted(MODELS):
        model = build_model(name, SPEC, 3, **SMALL[name])
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", model.predict(x, verbose=0))
    code = (
        "import sys, pathlib, numpy as np, keras, host.layers\n"
        f"d = pathlib.Path(r'{tmp_path}'); x = np.load(d / 'x.npy')\n"
        f"for name in {sorted(MODELS)!r}:\n"
        "    m = keras.models.load_model(d / f'{name}.keras')\n"
        "    np.testing.assert_allclose(m.predict(x, verbose=0), np.load(d / f'{name}.npy'), rtol=1e-5, atol=1e-6)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_clone_has_batch_one_and_the_same_outputs(name):
    model = build_model(name, SPEC, 3, **SMALL[name])
    clone = export_clone(model, name, SPEC, 3, **SMALL[name])
    assert tuple(clone.input.shape) == (1, SPEC.frames, SPEC.num_features)
    if name == "bilstm-attention":
        assert all(layer.forward_layer.unroll for layer in clone.layers if type(layer).__name__ == "Bidirectional")
    x = sample(1)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_sign_train_offers_exactly_the_models_of_the_zoo():
    from train.cli.train import MODEL_NAMES

    assert tuple(MODELS) == MODEL_NAMES


def test_unknown_model_or_size_is_one_clear_error():
    with pytest.raises(ModelError, match="unknown model 'transformer'"):
        build_model("transformer", SPEC, 3)
    with pytest.raises(ModelError, match="has no size lstm1 \\(it has: width, blocks, kernel, dropout\\)"):
        build_model("compact", SPEC, 3, lstm1=4)
    with pytest.raises(ModelError, match="width='abc' is not an integer"):
        build_model("compact", SPEC, 3, width="abc")
    with pytest.raises(ModelError, match="at least 2 classes"):
        build_model("compact", SPEC, 1)


def test_a_cosine_head_ends_in_a_unit_embedding_and_prototype_probabilities():
    from host.layers import CosineSoftmax
    from host.openset import head_prototypes, outputs
    from train.models import Head

    X = np.random.default_rng(0).normal(size=(4, SPEC.frames, SPEC.num_features)).astype(np.float32)
    for background in (None, 0.5):
        model = build_model("compact", SPEC, 3, head=Head("cosine", 8, background=background), **SMALL["compact"])
        assert isinstance(model.get_layer("probabilities"), CosineSoftmax)
        probs, logits, emb = outputs(model, X)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
        protos, scale = head_prototypes(model)
        np.testing.assert_allclose(logits, scale * emb @ protos.T, atol=1e-4)
        sums = probs.sum(axis=1)
        if background is None:
            np.testing.assert_allclose(sums, 1.0, atol=1e-5)
        else:  # the virtual "none of these" class keeps its share
            expected = np.exp(logits).sum(axis=1) / (np.exp(logits).sum(axis=1) + np.exp(scale * background))
            np.testing.assert_allclose(sums, expected, rtol=1e-4)
    with pytest.raises(ModelError, match="unknown head"):
        Head("triangle")
    assert Head.from_dict(None) == Head() and Head.from_dict(Head("cosine", 16, background=0.4).to_dict()).background == 0.4
