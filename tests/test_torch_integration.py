"""Torch members: skorch/timm nets in a duo, true logits, devices, FLOPs.

Everything here needs torch and skorch (skipped cleanly otherwise); timm-based
tests additionally skip without timm. Models are tiny and run on the CPU in
seconds; tests that need CUDA are marked ``gpu`` and skipped without it.
"""

import importlib.abc
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402
from torch import nn  # noqa: E402

from skduo._outputs._torch import (  # noqa: E402
    check_torch_members_device,
    is_torch_member,
    torch_member_device,
    torch_member_logits,
)
from skduo.torch import (  # noqa: E402
    DuoComputeReport,
    FlopCount,
    check_same_device,
    count_flops,
    duo_compute_report,
    make_timm_classifier,
    net_logits,
)

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)


# --------------------------------------------------------------------------
# data and tiny nets


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, which spin and thrash
    when the CPU is shared (measured: a 1 s test took 20 s on a loaded 2-core
    machine with 2 threads)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def to_images(X):
    """Flat digits (n, 64) in [0, 16] -> float32 images (n, 1, 8, 8) in [0, 1]."""
    return (np.asarray(X, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)


def to_images_16(X):
    """Flat digits -> float32 images upsampled to (n, 1, 16, 16)."""
    return to_images(X).repeat(2, axis=2).repeat(2, axis=3)


def to_float32_scaled(X):
    """Flat digits -> float32 features in [0, 1]."""
    return np.asarray(X, dtype=np.float32) / 16.0


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.4, random_state=0, stratify=y
    )
    return X_train, y_train.astype(np.int64), X_val, y_val.astype(np.int64)


def mlp(hidden=32, n_out=10, dropout=0.2):
    return nn.Sequential(
        nn.Linear(64, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, n_out),
    )


def make_mlp_net(hidden=32, **kwargs):
    params = dict(
        module=mlp,
        module__hidden=hidden,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=5,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    params.update(kwargs)
    return NeuralNetClassifier(**params)


@pytest.fixture(scope="module")
def mlp_pair(digits):
    """Two fitted skorch MLPs (large: 64 hidden, small: 8 hidden) on float32 X."""
    X_train, y_train, _, _ = digits
    torch.manual_seed(0)
    large = make_mlp_net(hidden=64).fit(to_float32_scaled(X_train), y_train)
    small = make_mlp_net(hidden=8).fit(to_float32_scaled(X_train), y_train)
    return large, small


@pytest.fixture(scope="module")
def timm_net(digits):
    """A timm ResNet-10t (1 input channel) fitted for one epoch on 8x8 digits."""
    pytest.importorskip("timm")
    X_train, y_train, _, _ = digits
    torch.manual_seed(0)
    net = make_timm_classifier(
        "resnet10t", num_classes=10, in_chans=1, max_epochs=1, batch_size=128
    )
    return net.fit(to_images(X_train), y_train)


def state_snapshot(net):
    """Copies of all tensors and training flags of a net's module."""
    state = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
    flags = [m.training for m in net.module_.modules()]
    return state, flags


def assert_same_state(net, snapshot):
    state, flags = snapshot
    new_state = net.module_.state_dict()
    assert state.keys() == new_state.keys()
    for key, value in state.items():
        assert torch.equal(value, new_state[key]), key
    assert [m.training for m in net.module_.modules()] == flags


# --------------------------------------------------------------------------
# optional import


def test_import_skduo_does_not_import_torch_and_extra_is_named():
    # run in a fresh interpreter in which torch/skorch/timm cannot be imported
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("torch", "skorch", "timm"):
                    raise ImportError("blocked " + name)

        sys.meta_path.insert(0, Block())
        import skduo, skduo._outputs._torch
        from sklearn.linear_model import LogisticRegression
        assert not skduo._outputs._torch.is_torch_member(LogisticRegression())
        loaded = [m for m in sys.modules if m.split(".")[0] in ("torch", "skorch")]
        assert not loaded, loaded
        try:
            import skduo.torch
        except ImportError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'skduo[torch]'" in result.stdout
    assert importlib.abc  # the blocker above relies on it being importable


def test_is_torch_member_recognises_wrapped_nets(mlp_pair):
    large, _ = mlp_pair
    unfitted = make_mlp_net()
    pipe = make_pipeline(FunctionTransformer(to_float32_scaled), large)
    assert is_torch_member(large)
    assert is_torch_member(unfitted)
    assert is_torch_member(pipe)
    assert is_torch_member(FrozenEstimator(large))
    assert is_torch_member(FrozenEstimator(pipe))
    assert is_torch_member(NeuralNetBinaryClassifier(nn.Linear(64, 1)))
    assert not is_torch_member(LogisticRegression())
    assert not is_torch_member(
        make_pipeline(FunctionTransformer(), LogisticRegression())
    )
    assert not is_torch_member(nn.Linear(2, 2))  # a bare module is not an estimator


# --------------------------------------------------------------------------
# logits


def test_logits_equal_net_forward_over_several_batches(mlp_pair, digits):
    large, _ = mlp_pair
    X = to_float32_scaled(digits[2])
    assert X.shape[0] > 2 * large.batch_size  # several batches, a ragged last one
    logits = torch_member_logits(large, X, name="large")
    expected = large.forward(X).numpy()
    assert logits.dtype == np.float64
    assert logits.shape == (X.shape[0], 10)
    np.testing.assert_array_equal(logits, expected.astype(np.float64))
    # true logits, not probabilities: rows do not sum to one
    assert not np.allclose(logits.sum(axis=1), 1.0)
    np.testing.assert_allclose(
        large.predict_proba(X), torch.softmax(torch.from_numpy(expected), 1), atol=1e-6
    )
    np.testing.assert_array_equal(net_logits(large, X), logits)


def test_logits_do_not_mutate_the_net(mlp_pair, digits):
    large, _ = mlp_pair
    X = to_float32_scaled(digits[2])
    large.module_.train()  # a user left the module in training mode
    large.module_[1].eval()  # ... except one submodule
    snapshot = state_snapshot(large)
    first = torch_member_logits(large, X)
    assert_same_state(large, snapshot)  # flags restored, BN stats untouched
    large.module_.eval()
    # dropout and batch norm were in eval mode while computing: deterministic
    np.testing.assert_array_equal(first, torch_member_logits(large, X))
    assert large.module_.training is False


def test_pipeline_member_transforms_then_runs_the_net(mlp_pair, digits):
    large, _ = mlp_pair
    X_raw = digits[2]
    pipe = make_pipeline(FunctionTransformer(to_float32_scaled), large)
    expected = large.forward(to_float32_scaled(X_raw)).numpy()
    np.testing.assert_array_equal(torch_member_logits(pipe, X_raw), expected)
    np.testing.assert_array_equal(
        torch_member_logits(FrozenEstimator(pipe), X_raw), expected
    )


def test_binary_net_gives_one_logit_per_sample(digits):
    X_train, y_train, X_val, _ = digits
    torch.manual_seed(0)
    net = NeuralNetBinaryClassifier(
        nn.Linear(64, 1), max_epochs=3, lr=0.1, train_split=None, verbose=0
    )
    net.fit(to_float32_scaled(X_train), (y_train > 4).astype(np.float32))
    X = to_float32_scaled(X_val)
    logits = torch_member_logits(net, X)
    assert logits.shape == (X.shape[0],)
    np.testing.assert_array_equal(logits, net.forward(X).numpy())
    # predict_proba is sigmoid(s): the two-class logits (0, s) reproduce it
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logits)), atol=1e-6)


def test_nllloss_probability_module_gives_log_probabilities(digits):
    # skorch's convention for NLLLoss: the module ends in softmax and skorch
    # takes log(p + eps) in get_loss; those log-probabilities are the logits
    X_train, y_train, X_val, _ = digits
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 10), nn.Softmax(dim=-1)),
        max_epochs=2,
        train_split=None,
        verbose=0,
    ).fit(to_float32_scaled(X_train), y_train)
    X = to_float32_scaled(X_val)
    with pytest.warns(UserWarning, match="small member is trained with NLLLoss"):
        logits = torch_member_logits(net, X, name="small")
    p = net.forward(X).numpy().astype(np.float64)
    np.testing.assert_array_equal(logits, np.log(p + np.finfo(np.float32).eps))


def test_unfitted_net_raises_not_fitted_naming_member():
    with pytest.raises(NotFittedError, match="The large member .* is not fitted"):
        torch_member_logits(make_mlp_net(), np.zeros((2, 64), np.float32), name="large")


def test_unfitted_pipeline_step_raises_not_fitted(mlp_pair):
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), mlp_pair[0])
    with pytest.raises(NotFittedError, match="preprocessing steps of the small"):
        torch_member_logits(pipe, np.zeros((2, 64), np.float32), name="small")


def test_input_the_net_cannot_take_names_member_and_shape(mlp_pair):
    X_images = np.zeros((5, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"small member .*shape \(5, 1, 8, 8\)"):
        torch_member_logits(mlp_pair[1], X_images, name="small")
    X_float64 = np.zeros((5, 64))
    with pytest.raises(ValueError, match="large member .*dtype torch.float64"):
        torch_member_logits(mlp_pair[0], X_float64, name="large")


class _Raises(nn.Module):
    def __init__(self, message):
        super().__init__()
        self.message = message
        self.lin = nn.Linear(64, 10)

    def forward(self, X):
        raise RuntimeError(self.message)


def test_only_input_errors_are_reworded():
    # a device fault (or any error that is not about the input) propagates as is
    X = np.zeros((4, 64), np.float32)
    message = "CUDA error: device-side assert triggered"
    net = NeuralNetClassifier(
        _Raises, module__message=message, classes=list(range(10))
    ).initialize()
    with pytest.raises(RuntimeError, match="device-side assert"):
        torch_member_logits(net, X, name="large")
    net.set_params(module__message="mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(ValueError, match="large member .*shape \\(4, 64\\)"):
        torch_member_logits(net, X, name="large")


class _FrozenBatchNorm(nn.Module):
    """train() keeps the batch norm in eval mode (a common fine-tuning idiom)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16))
        self.head = nn.Linear(16, 10)
        self.train_calls = 0

    def train(self, mode=True):
        self.train_calls += 1
        super().train(mode)
        self.body[1].eval()
        return self

    def forward(self, X):
        return self.head(self.body(X))


def test_modes_are_restored_through_the_modules_own_train():
    X = np.random.default_rng(0).normal(size=(32, 64)).astype(np.float32)
    net = NeuralNetClassifier(_FrozenBatchNorm, classes=list(range(10))).initialize()
    net.module_.train()
    calls = net.module_.train_calls
    torch_member_logits(net, X)
    flags = {name: m.training for name, m in net.module_.named_modules()}
    assert flags == {
        "": True,
        "body": True,
        "body.0": True,
        "body.1": False,
        "head": True,
    }
    assert net.module_.train_calls > calls  # restored by train(), not by assignment


def test_threaded_predictions_equal_serial_and_never_touch_the_nets(digits):
    # nets left in train mode (BatchNorm + Dropout), as after fit with
    # train_split=None: 4 threads predicting at once must all run in eval mode
    from concurrent.futures import ThreadPoolExecutor

    from skduo import DuoClassifier

    X_train, y_train, X_val, y_val = digits
    Xf, Xv = to_float32_scaled(X_train), to_float32_scaled(X_val)
    torch.manual_seed(0)
    large = make_mlp_net(hidden=64, max_epochs=2).fit(Xf, y_train)
    small = make_mlp_net(hidden=8, max_epochs=2).fit(Xf, y_train)
    large.module_.train()
    small.module_.train()
    duo = DuoClassifier(large, small).fit(Xv, y_val)
    before = [state_snapshot(large), state_snapshot(small)]
    serial = duo.predict_proba(Xv)
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda _: duo.predict_proba(Xv), range(16)))
    for part in parts:
        np.testing.assert_array_equal(part, serial)
    assert_same_state(large, before[0])
    assert_same_state(small, before[1])
    assert large.module_.training and small.module_.training


class _ThreeD(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, X):
        return self.scale * X.reshape(X.shape[0], 8, 8)


def test_bad_output_shape_and_class_count_raise():
    X = np.zeros((4, 64), np.float32)
    net = NeuralNetClassifier(_ThreeD, classes=list(range(10))).initialize()
    with pytest.raises(ValueError, match=r"large member's module .*shape \(4, 8, 8\)"):
        torch_member_logits(net, X, name="large")
    net = NeuralNetClassifier(nn.Linear(64, 10), classes=[0, 1, 2]).initialize()
    with pytest.raises(ValueError, match="logits for 10 classes but the net has 3"):
        torch_member_logits(net, X, name="small")


def test_empty_input_raises(mlp_pair):
    with pytest.raises(ValueError, match="0 samples"):
        torch_member_logits(mlp_pair[0], np.zeros((0, 64), np.float32))


def test_verbose_shows_progress(mlp_pair, digits, capsys):
    X = to_float32_scaled(digits[2])
    torch_member_logits(mlp_pair[0], X, name="large", verbose=False)
    assert "large logits" not in capsys.readouterr().err
    torch_member_logits(mlp_pair[0], X, name="large", verbose=True)
    err = capsys.readouterr().err
    n_batches = -(-X.shape[0] // mlp_pair[0].batch_size)
    assert "large logits" in err
    assert f"{n_batches}/{n_batches}" in err


# --------------------------------------------------------------------------
# devices


def test_device_of_cpu_nets(mlp_pair):
    large, small = mlp_pair
    assert torch_member_device(large) == "cpu"
    assert torch_member_device(FrozenEstimator(make_pipeline(large))) == "cpu"
    assert torch_member_device(LogisticRegression()) is None
    assert check_same_device(large, small) == "cpu"
    assert check_same_device(large, LogisticRegression()) == "cpu"
    assert check_same_device(LogisticRegression(), LogisticRegression()) is None


def test_members_on_different_devices_raise(mlp_pair):
    # the "meta" device stands in for a second device on CPU-only machines
    meta_net = make_mlp_net(device="meta").initialize()
    assert torch_member_device(meta_net) == "meta"
    with pytest.raises(ValueError, match="large member on 'cpu', the small member on"):
        check_torch_members_device({"large": mlp_pair[0], "small": meta_net})


# --------------------------------------------------------------------------
# FLOPs


def test_count_flops_linear_and_conv_by_hand():
    # Linear 64 -> 10 on 4 samples: 4 * 64 * 10 multiply-adds (bias not counted)
    cost = count_flops(nn.Linear(64, 10), torch.zeros(4, 64))
    assert (cost.macs, cost.flops, cost.n_samples) == (2560, 5120, 4)
    assert cost.macs_per_sample == 640.0
    # Conv 3 -> 8, 3x3, 'same' on 16x16: 16*16 outputs * 8 channels * 3*3*3
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(conv, np.zeros((2, 3, 16, 16), np.float32)).macs == (
        2 * 16 * 16 * 8 * 27
    )


def test_count_flops_torchvision_resnets_match_published_figures():
    torchvision = pytest.importorskip("torchvision")
    x = torch.zeros(1, 3, 224, 224)
    costs = {}
    for builder, weights in [
        (torchvision.models.resnet18, torchvision.models.ResNet18_Weights),
        (torchvision.models.resnet50, torchvision.models.ResNet50_Weights),
    ]:
        cost = costs[builder.__name__] = count_flops(builder(), x)
        # torchvision's weights meta "_ops" (GFLOPS as multiply-adds, 3 decimals):
        # resnet18 1.814, resnet50 4.089
        published = weights.DEFAULT.meta["_ops"]
        assert round(cost.macs / 1e9, 3) == published
        assert cost.flops == 2 * cost.macs
    # exact counts (FlopCounterMode, torch 2.14, measured)
    assert costs["resnet18"].macs == 1_814_073_344
    assert costs["resnet50"].macs == 4_089_184_256


def test_count_flops_counts_attention_in_a_timm_vit():
    timm = pytest.importorskip("timm")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    x = torch.zeros(1, 3, 224, 224)
    fused = count_flops(model, x)
    # by hand: D=192, 12 blocks, N=197 tokens, MLP 768, 3 heads
    #   block = N*D*3D (qkv) + N*D*D (proj) + 2*N*D*768 (mlp) + 2*N*N*D (attn)
    #   patch embedding 196*D*768, head D*1000
    N, D = 197, 192
    block = N * D * 3 * D + N * D * D + 2 * N * D * 768 + 2 * N * N * D
    by_hand = 12 * block + 196 * D * 768 + D * 1000
    assert by_hand == 1_253_683_200  # timm's table: 1.26 GMACs
    assert fused.macs == by_hand
    # without the attention formulas FlopCounterMode gives 2.150 GFLOPs
    assert fused.flops != 2_149_702_656
    # the unfused (math) path counts the same
    previous = [(m, m.fused_attn) for m in model.modules() if hasattr(m, "fused_attn")]
    assert previous
    try:
        for m, _ in previous:
            m.fused_attn = False
        assert count_flops(model, x).macs == by_hand
    finally:
        for m, flag in previous:
            m.fused_attn = flag


def test_count_flops_torchvision_vit_multihead_attention_fast_path():
    torchvision = pytest.importorskip("torchvision")
    cost = count_flops(torchvision.models.vit_b_16(), torch.zeros(1, 3, 224, 224))
    # torchvision's weights meta "_ops" for ViT_B_16: 17.564
    assert round(cost.macs / 1e9, 3) == 17.564


def test_count_flops_of_skorch_member_and_training_flags(mlp_pair):
    large, _ = mlp_pair
    large.module_.train()
    snapshot = state_snapshot(large)
    pipe = make_pipeline(FunctionTransformer(to_float32_scaled), large)
    cost = count_flops(FrozenEstimator(pipe), np.zeros((3, 64)))
    # Linear 64->64 and 64->10 per sample (BatchNorm/ReLU are not counted)
    assert cost.macs_per_sample == 64 * 64 + 64 * 10
    assert cost.n_samples == 3
    assert_same_state(large, snapshot)
    large.module_.eval()


def test_count_flops_rejects_other_models():
    with pytest.raises(TypeError, match="LogisticRegression"):
        count_flops(LogisticRegression(), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="at least one sample"):
        count_flops(nn.Linear(2, 2), torch.zeros(0, 2))


def test_flop_count_repr():
    assert repr(FlopCount(macs=4_089_184_256, flops=8_178_368_512, n_samples=1)) == (
        "FlopCount(macs=4.089 G, flops=8.178 G, n_samples=1)"
    )


# --------------------------------------------------------------------------
# compute report


def test_report_by_hand_numbers():
    # torchvision resnet50 / resnet18 multiply-adds: 4.089 G and 1.814 G
    report = duo_compute_report(large_cost=4.089e9, small_cost=1.814e9)
    assert report.flops_balance == pytest.approx(1.814 / 4.089)
    assert report.extra_compute_percent == pytest.approx(44.3629, abs=1e-4)
    assert report.total_cost == pytest.approx(5.903e9)
    assert "FLOPs balance    0.4436" in str(report)
    assert repr(report).startswith("DuoComputeReport(large=4.089 G MACs")
    with pytest.raises(ValueError, match="large_cost must be positive"):
        DuoComputeReport(large_cost=0, small_cost=1)
    with pytest.raises(ValueError, match="small_cost must be a non-negative"):
        DuoComputeReport(large_cost=1, small_cost=-1)
    with pytest.raises(ValueError, match="small member's cost"):
        duo_compute_report(large_cost=1.0)


class _Pair:
    """Stands in for a duo: the report reads ``large_``/``small_`` or the params."""

    def __init__(self, large, small):
        self.large, self.small = large, small


def test_report_counts_torch_members_and_takes_costs_by_hand(mlp_pair):
    large, small = mlp_pair
    pipe_large = make_pipeline(FunctionTransformer(to_float32_scaled), large)
    pipe_small = make_pipeline(FunctionTransformer(to_float32_scaled), small)
    report = duo_compute_report(_Pair(pipe_large, pipe_small), np.zeros((2, 64)))
    # Linear layers only: 64*64 + 64*10 = 4736 and 64*8 + 8*10 = 592
    assert (report.large_cost, report.small_cost) == (4736.0, 592.0)
    assert report.flops_balance == 592 / 4736
    # per-member inputs
    report = duo_compute_report(
        _Pair(large, small),
        {
            "large": np.zeros((1, 64), np.float32),
            "small": np.zeros((4, 64), np.float32),
        },
    )
    assert (report.large_cost, report.small_cost) == (4736.0, 592.0)
    # a non-torch member needs its cost by hand
    pair = _Pair(pipe_large, LogisticRegression())
    with pytest.raises(ValueError, match=r"small member \(LogisticRegression\) is not"):
        duo_compute_report(pair, np.zeros((1, 64)))
    report = duo_compute_report(pair, np.zeros((1, 64)), small_cost=640)
    assert report.small_cost == 640 and report.large_cost == 4736.0
    with pytest.raises(ValueError, match="example input X"):
        duo_compute_report(pair, small_cost=640)


# --------------------------------------------------------------------------
# timm helper


def test_make_timm_classifier_factory_and_probabilities(timm_net, digits):
    import timm

    net = timm_net
    X_val = digits[2]
    assert net.module is timm.create_model  # a factory, not an instance
    assert net.criterion is nn.CrossEntropyLoss
    assert net.get_params()["module__pretrained"] is False
    assert net.get_params()["module__model_name"] == "resnet10t"
    proba = net.predict_proba(to_images(X_val))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # the pickle holds the weights once (an instance module would add a second
    # copy), next to AdamW's two moment buffers per parameter
    n_bytes = sum(p.numel() * p.element_size() for p in net.module_.parameters())
    state = net.optimizer_.state.values()
    opt_bytes = sum(
        t.numel() * t.element_size()
        for s in state
        for t in s.values()
        if isinstance(t, torch.Tensor) and t.numel() > 1
    )
    assert opt_bytes == 2 * n_bytes
    size = len(pickle.dumps(net))
    assert n_bytes + opt_bytes < size < 1.1 * (n_bytes + opt_bytes)
    # wrong channels: the message names the member and the input shape
    X_rgb = np.zeros((3, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"large member .*shape \(3, 3, 8, 8\)"):
        torch_member_logits(net, X_rgb, name="large")


def test_make_timm_classifier_bad_name():
    pytest.importorskip("timm")
    with pytest.raises(ValueError, match="'resnet_18' is not a timm model.*resnet18"):
        make_timm_classifier("resnet_18", num_classes=10)


# --------------------------------------------------------------------------
# through DuoClassifier


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def float32_pipeline(net):
    return make_pipeline(FunctionTransformer(to_float32_scaled), net)


@pytest.fixture(scope="module")
def mlp_duo(mlp_pair, digits):
    from skduo import DuoClassifier

    large, small = mlp_pair
    _, _, X_val, y_val = digits
    duo = DuoClassifier(float32_pipeline(large), float32_pipeline(small))
    return duo.fit(X_val, y_val)


def test_duo_of_skorch_nets_uses_their_forward_logits(mlp_duo, mlp_pair, digits):
    large, small = mlp_pair
    _, _, X_val, y_val = digits
    w = mlp_duo.weights_
    assert isinstance(w, np.ndarray) and w.shape == (2,)
    assert np.all(np.isfinite(w)) and np.all(w >= 0) and w[0] > 0
    np.testing.assert_array_equal(mlp_duo.classes_, np.arange(10))
    X32 = to_float32_scaled(X_val)
    z_large = large.forward(X32).numpy().astype(np.float64)
    z_small = small.forward(X32).numpy().astype(np.float64)
    z = w[0] * z_large + w[1] * z_small
    np.testing.assert_allclose(mlp_duo.decision_function(X_val), z, rtol=1e-12)
    np.testing.assert_allclose(mlp_duo.predict_proba(X_val), softmax(z), atol=1e-12)
    # the duo's validation NLL is not above the large member's own NLL
    nll_large = -np.mean(np.log(softmax(z_large)[np.arange(len(y_val)), y_val]))
    assert mlp_duo.validation_nll_ <= nll_large + 1e-9


def test_duo_of_skorch_nets_pickles(mlp_duo, digits):
    X_val = digits[2]
    loaded = pickle.loads(pickle.dumps(mlp_duo))
    np.testing.assert_array_equal(loaded.weights_, mlp_duo.weights_)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_val), mlp_duo.predict_proba(X_val)
    )
    # the duo's own fitted state holds NumPy, not tensors
    for key, value in vars(mlp_duo).items():
        if key.endswith("_") and key not in ("large_", "small_"):
            assert not isinstance(value, torch.Tensor), key


def test_duo_never_mutates_torch_members(mlp_pair, digits):
    from sklearn.model_selection import cross_val_score

    from skduo import DuoClassifier

    large, small = mlp_pair
    _, _, X_val, y_val = digits
    large.module_.train()  # left in training mode by its user
    before = [state_snapshot(large), state_snapshot(small)]
    params = [large.get_params(), small.get_params()]
    duo = DuoClassifier(
        FrozenEstimator(float32_pipeline(large)), float32_pipeline(small)
    )
    duo.fit(X_val, y_val)
    duo.predict_proba(X_val)
    scores = cross_val_score(duo, X_val, y_val, cv=3, scoring="neg_log_loss")
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert np.all(scores > -1.0)  # the MLPs reach ~0.1-0.3 NLL on digits
    assert_same_state(large, before[0])
    assert_same_state(small, before[1])
    assert large.module_.training is True
    assert large.get_params().keys() == params[0].keys()
    assert len(large.history) == 5 and len(small.history) == 5
    large.module_.eval()


def test_duo_members_with_different_inputs(timm_net, mlp_pair, digits):
    # large: a timm ResNet on 1x8x8 images; small: an MLP on flat features.
    # Each Pipeline prepares the duo's X (flat digits) for its own net.
    from skduo import DuoClassifier

    _, _, X_val, y_val = digits
    large = make_pipeline(FunctionTransformer(to_images), timm_net)
    small = float32_pipeline(mlp_pair[1])
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    w = duo.weights_
    assert np.all(w >= 0) and w.sum() > 0
    z = w[0] * timm_net.forward(to_images(X_val)).numpy().astype(np.float64)
    z += w[1] * mlp_pair[1].forward(to_float32_scaled(X_val)).numpy()
    np.testing.assert_allclose(duo.predict_proba(X_val), softmax(z), atol=1e-10)
    # FLOPs report from the fitted duo, each member counted on its own input
    report = duo_compute_report(duo, X_val[:2])
    assert report.small_cost == 64 * 8 + 8 * 10
    cnn_cost = count_flops(timm_net.module_, to_images(X_val[:1])).macs
    assert report.large_cost == cnn_cost
    assert report.flops_balance == pytest.approx(592 / cnn_cost)
    # feeding the CNN's images straight to the MLP member names the member
    bad = DuoClassifier(large, mlp_pair[1])
    with pytest.raises(ValueError, match=r"small member .*could not process"):
        bad.fit(X_val, y_val)


def test_duo_verbose_shows_member_progress(mlp_pair, digits, capsys):
    from skduo import DuoClassifier

    _, _, X_val, y_val = digits
    large, small = (float32_pipeline(n) for n in mlp_pair)
    DuoClassifier(large, small).fit(X_val, y_val)
    assert "logits" not in capsys.readouterr().err
    DuoClassifier(large, small, verbose=True).fit(X_val, y_val)
    err = capsys.readouterr().err
    assert "large" in err and "small" in err and "100%" in err


def test_duo_nllloss_net_declared_as_probabilities_raises(digits):
    # skorch's default NLLLoss with a logit module: predict_proba returns raw
    # logits, which the duo must refuse as probabilities
    from skduo import DuoClassifier

    X_train, y_train, X_val, y_val = digits
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Linear(64, 10), max_epochs=1, train_split=None, verbose=0
    ).fit(to_float32_scaled(X_train), y_train)
    assert not np.allclose(net.predict_proba(to_float32_scaled(X_val)).sum(1), 1)
    member = float32_pipeline(net)
    duo = DuoClassifier(member, member, response_method="predict_proba")
    with pytest.raises(ValueError, match="large member"):
        duo.fit(X_val, y_val)
    # "auto" reads the true logits instead
    duo.set_params(response_method="auto").fit(X_val, y_val)
    assert np.all(np.isfinite(duo.weights_))


def test_duo_members_on_different_devices_raise(mlp_pair, digits):
    from skduo import DuoClassifier

    _, _, X_val, y_val = digits
    meta_net = make_mlp_net(device="meta", classes=list(range(10))).initialize()
    duo = DuoClassifier(float32_pipeline(mlp_pair[0]), float32_pipeline(meta_net))
    with pytest.raises(ValueError, match="different devices.*small member on 'meta'"):
        duo.fit(X_val, y_val)


def test_duo_members_with_different_class_counts_raise(mlp_pair, digits):
    from skduo import DuoClassifier

    X_train, y_train, X_val, y_val = digits
    keep = y_train < 9
    torch.manual_seed(0)
    nine = make_mlp_net(module__n_out=9, max_epochs=1).fit(
        to_float32_scaled(X_train[keep]), y_train[keep]
    )
    duo = DuoClassifier(float32_pipeline(mlp_pair[0]), float32_pipeline(nine))
    with pytest.raises(ValueError, match="class"):
        duo.fit(X_val, y_val)


def test_duo_fits_unfitted_skorch_members_by_cross_fitting(digits):
    from skduo import DuoClassifier

    _, _, X_val, y_val = digits
    torch.manual_seed(0)
    large = float32_pipeline(make_mlp_net(hidden=32, max_epochs=3))
    small = float32_pipeline(make_mlp_net(hidden=8, max_epochs=3))
    duo = DuoClassifier(large, small, cv=2).fit(X_val, y_val)
    assert not hasattr(large[-1], "module_")  # the given nets stay unfitted
    net = duo.large_[-1]
    assert net.initialized_ and len(net.history) == 3
    assert np.all(np.isfinite(duo.predict_proba(X_val)))


# --------------------------------------------------------------------------
# GPU (skipped without CUDA; CI never has one)


@pytest.mark.gpu
@needs_cuda
def test_gpu_logits_device_and_pickle(digits):
    X_train, y_train, X_val, _ = digits
    torch.manual_seed(0)
    net = make_mlp_net(device="cuda").fit(to_float32_scaled(X_train), y_train)
    X = to_float32_scaled(X_val)
    assert torch_member_device(net).startswith("cuda:")
    logits = torch_member_logits(net, X)
    assert isinstance(logits, np.ndarray) and logits.dtype == np.float64
    np.testing.assert_allclose(logits, net.forward(X).numpy(), rtol=1e-6, atol=1e-6)
    cpu_net = make_mlp_net(device="cpu").initialize()
    with pytest.raises(ValueError, match="different devices"):
        check_same_device(net, cpu_net)
    # a net pickled on the GPU comes back on the GPU (CUDA is available here);
    # set_params records the new device, module_.to moves the weights
    loaded = pickle.loads(pickle.dumps(net))
    assert torch_member_device(loaded).startswith("cuda:")
    loaded.set_params(device="cpu")
    loaded.module_.to("cpu")
    assert torch_member_device(loaded) == "cpu"
    np.testing.assert_allclose(
        torch_member_logits(loaded, X), logits, rtol=1e-4, atol=1e-4
    )


@pytest.mark.gpu
@needs_cuda
def test_gpu_duo_of_cuda_nets(digits):
    from skduo import DuoClassifier

    X_train, y_train, X_val, y_val = digits
    torch.manual_seed(0)
    nets = [
        make_mlp_net(hidden=h, device="cuda").fit(to_float32_scaled(X_train), y_train)
        for h in (64, 8)
    ]
    duo = DuoClassifier(*(float32_pipeline(n) for n in nets)).fit(X_val, y_val)
    assert isinstance(duo.weights_, np.ndarray)
    X32 = to_float32_scaled(X_val)
    z = sum(
        w * n.forward(X32).numpy().astype(np.float64)
        for w, n in zip(duo.weights_, nets)
    )
    np.testing.assert_allclose(duo.predict_proba(X_val), softmax(z), atol=1e-10)
    loaded = pickle.loads(pickle.dumps(duo))
    np.testing.assert_allclose(
        loaded.predict_proba(X_val), duo.predict_proba(X_val), atol=1e-12
    )
    cpu_net = make_mlp_net(hidden=8).fit(to_float32_scaled(X_train), y_train)
    mixed = DuoClassifier(float32_pipeline(nets[0]), float32_pipeline(cpu_net))
    with pytest.raises(ValueError, match="different devices"):
        mixed.fit(X_val, y_val)
