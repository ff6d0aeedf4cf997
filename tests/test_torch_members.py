"""Fine-tuned plain-torch modules as duo members: skduo.torch.as_member.

The modules here are trained with a bare torch loop (never through skorch),
as a user's own fine-tuning script would leave them (in train mode), then
turned into members with :func:`skduo.torch.as_member` or skorch's
``NeuralNetClassifier(module, classes=...).initialize()``.
"""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

import torch.nn.functional as F  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset  # noqa: E402

from skduo import DuoClassifier, TemperatureScalingClassifier, fit_duo  # noqa: E402
from skduo.metrics import get_scorer  # noqa: E402
from skduo.torch import (  # noqa: E402
    InferenceNet,
    as_member,
    logits_cache,
    net_logits,
    precompute_logits,
    restore_members,
)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def empty_cache():
    logits_cache.clear()
    yield
    logits_cache.clear()


# --------------------------------------------------------------------------
# data, modules and a bare torch training loop


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_val, y_tr, y_val = train_test_split(
        X, y, test_size=0.4, random_state=0, stratify=y
    )
    return X_tr, y_tr.astype(np.int64), X_val, y_val.astype(np.int64)


def mlp(hidden):
    return nn.Sequential(
        nn.Linear(64, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(hidden, 10),
    )


class SmallCNN(nn.Module):
    """1-channel images of any size -> 10 logits."""

    def __init__(self, width=8):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.head = nn.Linear(width * 4, 10)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.head(x.flatten(1))


def train_plain(module, X, y, epochs=4, seed=0):
    """A user's own fine-tuning loop: Adam, shuffled batches, left in train mode."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            F.cross_entropy(module(Xt[idx]), yt[idx]).backward()
            opt.step()
    return module


@pytest.fixture(scope="module")
def modules(digits):
    X_tr, y_tr, _, _ = digits
    large = train_plain(mlp(64), X_tr, y_tr, seed=0)
    small = train_plain(mlp(8), X_tr, y_tr, seed=1)
    return large, small


def eval_logits(module, X):
    """The reference: the module's own forward in eval mode, float64."""
    was = module.training
    module.eval()
    with torch.inference_mode():
        out = module(torch.as_tensor(X)).double().numpy()
    module.train(was)
    return out


def assert_forward_close(actual, desired):
    """Float32 forwards of one module over different batchings: equal to float32
    precision, not bit for bit.

    A row's logits depend on its batch at the rounding level: BLAS / oneDNN
    pick their kernels (and summation orders) by batch size and instruction
    set -- on an AVX-512 Xeon a batched and a whole forward of the same MLP
    differ by 3e-6. Exact equality is kept for the same batches run twice.
    """
    np.testing.assert_allclose(actual, desired, rtol=1e-5, atol=1e-5)


def state_of(module):
    return (
        {k: v.detach().clone() for k, v in module.state_dict().items()},
        [m.training for m in module.modules()],
    )


def assert_state(module, state):
    tensors, flags = state
    for key, value in module.state_dict().items():
        assert torch.equal(value, tensors[key]), key
    assert [m.training for m in module.modules()] == flags


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------
# the helper


def test_member_logits_are_the_modules_eval_forward(modules, digits):
    large, _ = modules
    X_val = digits[2]
    state = state_of(large)
    member = as_member(large, classes=range(10), batch_size=100)
    assert isinstance(member, InferenceNet) and member.module_ is large
    assert X_val.shape[0] > 3 * 100  # several batches, a ragged last one
    z = net_logits(member, X_val)
    assert_forward_close(z, eval_logits(large, X_val))
    assert_state(large, state)  # still in train mode, BN statistics untouched
    assert large.training
    # a fitted sklearn classifier: classes_, probabilities, labels
    np.testing.assert_array_equal(member.classes_, np.arange(10))
    np.testing.assert_allclose(member.predict_proba(X_val), softmax(z), atol=1e-6)
    np.testing.assert_array_equal(member.predict(X_val), z.argmax(1))


def test_duo_of_plain_modules_equals_the_array_fit(modules, digits):
    large, small = modules
    _, _, X_val, y_val = digits
    members = as_member(large, classes=range(10)), as_member(small, classes=range(10))
    duo = DuoClassifier(*members).fit(X_val, y_val)
    # the members' logits are the modules' own forward (in batches of 64)
    z_l, z_s = (net_logits(m, X_val) for m in members)
    assert_forward_close(z_l, eval_logits(large, X_val))
    assert_forward_close(z_s, eval_logits(small, X_val))
    # independent route: the array API on those logits
    ref = fit_duo(z_l, z_s, y_val)
    np.testing.assert_allclose(duo.weights_, ref.weights, rtol=1e-10)
    z = duo.weights_[0] * z_l + duo.weights_[1] * z_s
    np.testing.assert_allclose(duo.predict_proba(X_val), softmax(z), atol=1e-12)
    assert duo.weights_[0] > 0


def test_initialize_route_gives_the_same_duo(modules, digits):
    large, small = modules
    _, _, X_val, y_val = digits
    nets = [
        NeuralNetClassifier(m, classes=list(range(10))).initialize() for m in modules
    ]
    via_init = DuoClassifier(*nets).fit(X_val, y_val)
    via_helper = DuoClassifier(
        as_member(large, classes=range(10)), as_member(small, classes=range(10))
    ).fit(X_val, y_val)
    # skorch's batches of 128, as_member's of 64: logits equal to float32
    # precision (5e-6 apart moves these weights by up to 8e-6, relatively)
    np.testing.assert_allclose(via_init.weights_, via_helper.weights_, rtol=1e-4)


def test_initialized_net_without_classes_says_what_to_pass(modules, digits):
    _, _, X_val, y_val = digits
    net = NeuralNetClassifier(modules[0]).initialize()
    duo = DuoClassifier(net, as_member(modules[1], classes=range(10)))
    with pytest.raises(ValueError, match=r"large member has no `classes_`") as info:
        duo.fit(X_val, y_val)
    message = str(info.value)
    assert "classes=list(range(10))" in message  # the module's last layer has 10
    assert "as_member" in message


@pytest.mark.parametrize(
    "wrap",
    [
        lambda m: m,
        lambda m: FrozenEstimator(m),
        lambda m: make_pipeline(FunctionTransformer(), m),
    ],
    ids=["bare", "frozen", "pipeline"],
)
def test_raw_module_as_member_names_the_helper(modules, digits, wrap):
    _, _, X_val, y_val = digits
    duo = DuoClassifier(as_member(modules[0], classes=range(10)), wrap(modules[1]))
    with pytest.raises(TypeError, match=r"small member is a torch module") as info:
        duo.fit(X_val, y_val)
    assert "skduo.torch.as_member(module, classes=list(range(10)))" in str(info.value)
    assert "implementing 'fit'" not in str(info.value)


def test_helper_argument_errors(modules):
    large, _ = modules
    with pytest.raises(ValueError, match=r"needs classes.*classes=list\(range\(10\)\)"):
        as_member(large)
    with pytest.raises(ValueError, match="duplicates"):
        as_member(large, classes=[0, 1, 1])
    with pytest.raises(ValueError, match="precision must be one of"):
        as_member(large, classes=range(10), precision="int8")
    with pytest.raises(TypeError, match="transform must be a callable"):
        as_member(large, classes=range(10), transform="resize")
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        as_member(np.zeros(3), classes=[0, 1])
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        as_member(large, classes=range(10), batch_size=0)


def test_timm_module_class_count_is_checked():
    timm = pytest.importorskip("timm")
    model = timm.create_model("test_resnet", pretrained=False, num_classes=5)
    with pytest.raises(ValueError, match="5 outputs .* but 3 classes"):
        as_member(model, classes=[0, 1, 2])
    member = as_member(model, classes=list("abcde"))
    X = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    assert member.predict(X).shape == (3,)


def test_fit_clone_frozen_and_cross_val_score(modules, digits):
    _, _, X_val, y_val = digits
    member = as_member(modules[0], classes=range(10))
    assert member.fit(X_val, y_val) is member  # fitting does nothing
    assert clone(member) is member  # like FrozenEstimator: kept, never refit
    assert member.optimizer_ is None
    with pytest.raises(TypeError, match="inference only"):
        member.partial_fit(X_val, y_val)
    small = as_member(modules[1], classes=range(10))
    plain = DuoClassifier(member, small).fit(X_val, y_val)
    frozen = DuoClassifier(FrozenEstimator(member), FrozenEstimator(small))
    np.testing.assert_array_equal(frozen.fit(X_val, y_val).weights_, plain.weights_)
    scores = cross_val_score(plain, X_val, y_val, cv=3, scoring="neg_log_loss")
    assert scores.shape == (3,) and np.all(scores > -1.0)  # the MLPs reach ~0.2
    # the member alone is a classifier sklearn can score
    acc = cross_val_score(member, X_val, y_val, cv=3)
    assert np.all(acc > 0.8)


def state_dict_bytes(module):
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def test_pickle_is_the_size_of_the_state_dict(digits):
    X_tr, y_tr, X_val, _ = digits
    big = nn.Sequential(nn.Linear(64, 1024), nn.ReLU(), nn.Linear(1024, 10))
    train_plain(big, X_tr, y_tr, epochs=1)
    n_bytes = state_dict_bytes(big)  # 4 * (64*1024 + 1024 + 1024*10 + 10) = 307,240
    assert n_bytes == 307_240
    member = as_member(big, classes=range(10))
    data = pickle.dumps(member)
    # the weights once (module and module_ are one object), no optimizer state
    assert n_bytes < len(data) < 1.05 * n_bytes + 16_384
    loaded = pickle.loads(data)
    assert loaded.module is loaded.module_
    np.testing.assert_array_equal(net_logits(loaded, X_val), net_logits(member, X_val))
    # a net trained by skorch carries Adam's two moments; as_member drops them
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 1024), nn.ReLU(), nn.Linear(1024, 10)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        max_epochs=1,
        train_split=None,
        verbose=0,
    ).fit(X_tr, y_tr)
    assert len(pickle.dumps(net)) > 3 * n_bytes  # weights twice + 2 moments
    slim = as_member(net)  # classes from the net
    np.testing.assert_array_equal(slim.classes_, np.arange(10))
    assert len(pickle.dumps(slim)) < 1.05 * n_bytes + 16_384
    # as_member's batches of 64, skorch's of 128
    assert_forward_close(net_logits(slim, X_val), net.forward(X_val).double().numpy())


@pytest.mark.filterwarnings("ignore:precision=.* on a CPU:UserWarning")
@pytest.mark.parametrize(
    "precision, atol",
    # bfloat16 keeps 8 significant bits (2**-8 relative), float16 11 bits
    [("bfloat16", 0.05), ("float16", 0.01), (torch.bfloat16, 0.05)],
)
def test_reduced_precision_logits_are_close(modules, digits, precision, atol):
    _, _, X_val, y_val = digits
    large = modules[0]
    try:
        member = as_member(large, classes=range(10), precision=precision)
        z = net_logits(member, X_val)
    except RuntimeError as exc:  # pragma: no cover - old CPUs / torch builds
        pytest.skip(f"autocast {precision} unsupported here: {exc}")
    ref = eval_logits(large, X_val)
    assert z.dtype == np.float64
    assert np.abs(z - ref).max() < atol * max(1.0, np.abs(ref).max())
    assert not np.array_equal(z, ref)  # it did run in reduced precision
    duo = DuoClassifier(member, as_member(modules[1], classes=range(10)))
    assert np.all(np.isfinite(duo.fit(X_val, y_val).weights_))


def to_images(X):
    return X.reshape(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def cnns(digits):
    X_tr, y_tr, _, _ = digits
    images = to_images(X_tr)
    big = train_plain(SmallCNN(8), np.repeat(np.repeat(images, 2, 2), 2, 3), y_tr)
    small = train_plain(SmallCNN(4), images, y_tr, seed=1)
    return big, small


def test_channels_last_gives_the_same_logits(cnns, digits):
    X = to_images(digits[2])
    cnn = cnns[1]
    ref = eval_logits(cnn, X)
    member = as_member(
        pickle.loads(pickle.dumps(cnn)), classes=range(10), channels_last=True
    )
    weight = member.module_.conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(net_logits(member, X), ref, rtol=1e-5, atol=1e-5)


def uint8_to_float(x):
    """Batch transform of the large member: uint8 16x16 -> float in [0, 1]."""
    return x.float() / 255.0


def uint8_to_float_8px(x):
    """Batch transform of the small member: uint8 16x16 -> float 8x8."""
    return F.avg_pool2d(x.float() / 255.0, 2)


def test_members_with_different_inputs_share_one_X(cnns, digits):
    # one X of uint8 16x16 images; the large CNN takes them at 16x16, the small
    # one at 8x8, each through its own batch transform on the device
    _, _, X_val, y_val = digits
    images = np.repeat(np.repeat(to_images(X_val), 2, 2), 2, 3)
    X_u8 = np.round(images * 255).astype(np.uint8)
    big, small = cnns
    large = as_member(big, classes=range(10), transform=uint8_to_float)
    side = as_member(small, classes=range(10), transform=uint8_to_float_8px)
    duo = DuoClassifier(large, side).fit(X_u8, y_val)
    x = torch.from_numpy(X_u8)
    z_l = eval_logits(big, uint8_to_float(x))
    z_s = eval_logits(small, uint8_to_float_8px(x))
    assert_forward_close(net_logits(large, X_u8), z_l)  # batches of 64 vs all
    assert_forward_close(net_logits(side, X_u8), z_s)
    z = duo.weights_[0] * net_logits(large, X_u8) + duo.weights_[1] * net_logits(
        side, X_u8
    )
    np.testing.assert_allclose(duo.predict_proba(X_u8), softmax(z), atol=1e-12)
    # without its transform the small member cannot take uint8: the error names it
    bad = DuoClassifier(large, as_member(small, classes=range(10)))
    with pytest.raises(ValueError, match="small member .*could not process"):
        bad.fit(X_u8, y_val)


def test_torchvision_v2_transform_on_batches(cnns, digits):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    X = to_images(digits[2])
    transform = v2.Compose(
        [v2.Resize((16, 16), antialias=True), v2.Normalize([0.3], [0.4])]
    )
    member = as_member(cnns[0], classes=range(10), transform=transform)
    ref = eval_logits(cnns[0], transform(torch.from_numpy(X)))
    z = net_logits(member, X)
    assert_forward_close(z, ref)  # batches of 64 vs the whole forward
    loaded = pickle.loads(pickle.dumps(member))  # a torch-module transform pickles
    np.testing.assert_array_equal(net_logits(loaded, X), z)  # the same batches


# --------------------------------------------------------------------------
# Datasets


class PairDataset(Dataset):
    """Items are (x, label) pairs; labels also in ``targets`` (torchvision style)."""

    def __init__(self, X, y):
        self.X, self.targets = X, list(int(v) for v in y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return torch.from_numpy(self.X[i]), self.targets[i]


def test_dataset_inputs_with_labels_from_the_dataset(modules, digits):
    _, _, X_val, y_val = digits
    members = [as_member(m, classes=range(10), batch_size=128) for m in modules]
    ref = DuoClassifier(*members).fit(X_val, y_val)
    for ds in (
        TensorDataset(torch.from_numpy(X_val), torch.from_numpy(y_val)),
        PairDataset(X_val, y_val),
    ):
        duo = DuoClassifier(*members).fit(ds)  # y=None: labels from the dataset
        np.testing.assert_allclose(duo.weights_, ref.weights_, rtol=1e-12)
        np.testing.assert_array_equal(duo.predict_proba(ds), ref.predict_proba(X_val))
        # with y given explicitly too
        np.testing.assert_array_equal(
            DuoClassifier(*members).fit(ds, y_val).weights_, duo.weights_
        )
    subset = Subset(PairDataset(X_val, y_val), list(range(0, len(X_val), 2)))
    duo = DuoClassifier(*members).fit(subset)
    half = DuoClassifier(*members).fit(X_val[::2], y_val[::2])
    np.testing.assert_allclose(duo.weights_, half.weights_, rtol=1e-12)


def test_dataset_cross_fits_unfitted_skorch_members(digits):
    _, _, X_val, y_val = digits
    ds = TensorDataset(torch.from_numpy(X_val), torch.from_numpy(y_val))

    def net(hidden):
        return NeuralNetClassifier(
            mlp,
            module__hidden=hidden,
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=0.01,
            max_epochs=5,
            train_split=None,
            verbose=0,
        )

    torch.manual_seed(0)
    duo = DuoClassifier(net(16), net(4), cv=2).fit(ds)  # folds are Subsets
    assert duo.large_.initialized_ and len(duo.large_.history) == 5
    # the same seeds on arrays train the same nets on the same rows in order
    torch.manual_seed(0)
    ref = DuoClassifier(net(16), net(4), cv=2).fit(X_val, y_val)
    np.testing.assert_allclose(duo.weights_, ref.weights_, rtol=1e-6)
    np.testing.assert_allclose(
        duo.predict_proba(ds), ref.predict_proba(X_val), atol=1e-6
    )
    assert np.mean(duo.predict(ds) == y_val) > 0.6  # chance is 0.1


def test_dataloader_and_unlabelled_dataset_errors(modules, digits):
    _, _, X_val, y_val = digits
    members = [as_member(m, classes=range(10)) for m in modules]
    loader = DataLoader(TensorDataset(torch.from_numpy(X_val)), batch_size=32)
    with pytest.raises(TypeError, match=r"DataLoader; pass its dataset"):
        DuoClassifier(*members).fit(loader, y_val)
    duo = DuoClassifier(*members).fit(X_val, y_val)
    with pytest.raises(TypeError, match=r"X=loader.dataset"):
        duo.predict_proba(loader)
    unlabelled = TensorDataset(torch.from_numpy(X_val))
    with pytest.raises(ValueError, match="not .x, y. pairs.*pass y"):
        DuoClassifier(*members).fit(unlabelled)
    with pytest.raises(ValueError, match="requires y to be passed"):
        DuoClassifier(*members).fit(X_val)


# --------------------------------------------------------------------------
# each backbone sees each validation row once


class Counter:
    """A forward pre-hook counting the rows that reach a module.

    Hooks are part of a module, so the cache fingerprints their state; the
    count is no state that changes outputs, and ``__getstate__`` says so (a
    counter that pickled its count would make the member look changed after
    every forward pass, and nothing would be reused: safe, but slow).
    """

    def __init__(self):
        self.rows = 0

    def __call__(self, module, args):
        self.rows += args[0].shape[0]

    def __getstate__(self):
        return {}


def test_each_backbone_sees_each_row_once_in_model_selection(modules, digits):
    _, _, X_val, y_val = digits
    large = pickle.loads(pickle.dumps(modules[0]))
    small = pickle.loads(pickle.dumps(modules[1]))
    counts = [Counter(), Counter()]
    handles = [m.register_forward_pre_hook(c) for m, c in zip((large, small), counts)]
    duo = DuoClassifier(
        as_member(large, classes=range(10), batch_size=128),
        as_member(small, classes=range(10), batch_size=128),
    )
    scoring = {name: get_scorer(name) for name in ("neg_nll", "neg_aurc", "neg_ece")}
    result = cross_validate(duo, X_val, y_val, cv=5, scoring=scoring)
    assert all(np.all(np.isfinite(result[f"test_{s}"])) for s in scoring)
    search = GridSearchCV(
        duo,
        {"mode": ["asymmetric", "unweighted", "uq_only"]},
        cv=5,
        scoring=scoring["neg_nll"],
    ).fit(X_val, y_val)
    assert search.best_params_["mode"] in ("asymmetric", "unweighted", "uq_only")
    # digits has a few identical images: a repeated row is served by its twin
    n_distinct = len(np.unique(X_val, axis=0))
    assert n_distinct > 0.99 * len(X_val)
    assert [c.rows for c in counts] == [n_distinct, n_distinct]
    # without the cache: 5 folds x (fit + 3 scorers) + 3 x 5 x (fit + score) + refit
    logits_cache.max_bytes = 0
    try:
        cross_val_score(duo, X_val, y_val, cv=5)
        assert counts[0].rows == n_distinct + 5 * len(X_val)  # 4/5 + 1/5 per fold
    finally:
        logits_cache.max_bytes = 1 << 30
    for h in handles:
        h.remove()


def test_precomputed_route_then_back_to_the_real_members(modules, digits):
    _, _, X_val, y_val = digits
    large = pickle.loads(pickle.dumps(modules[0]))
    ref_large = eval_logits(large, X_val)
    counter = Counter()
    large.register_forward_pre_hook(counter)
    members = {
        "large": as_member(large, classes=range(10)),
        "small": as_member(modules[1], classes=range(10)),
    }
    ds = PairDataset(X_val, y_val)  # cannot be cached by content
    pre = precompute_logits(members, ds, verbose=False)
    assert counter.rows == len(X_val)
    assert pre.X.shape == (len(X_val), 20) and pre.X.dtype == np.float32
    np.testing.assert_array_equal(pre.y, y_val)  # read from the dataset
    assert_forward_close(pre.X[:, :10], ref_large)  # batched vs whole forward
    stand_ins = pre.members
    duo = DuoClassifier(stand_ins["large"], stand_ins["small"])
    search = GridSearchCV(
        duo, {"mode": ["asymmetric", "unweighted"]}, scoring=get_scorer("neg_nll")
    ).fit(pre.X, pre.y)
    ts = cross_val_score(TemperatureScalingClassifier(stand_ins["large"]), pre.X, pre.y)
    assert ts.shape == (5,)
    assert counter.rows == len(X_val)  # model selection ran no backbone
    real = restore_members(search.best_estimator_)
    assert real.large_ is members["large"] and real.small_ is members["small"]
    assert real.large is members["large"]
    assert not hasattr(real, "n_features_in_")
    np.testing.assert_array_equal(real.weights_, search.best_estimator_.weights_)
    expected = search.best_estimator_.predict_proba(pre.X)
    np.testing.assert_allclose(real.predict_proba(ds), expected, atol=1e-12)
    np.testing.assert_allclose(real.predict_proba(X_val), expected, atol=1e-12)
    # the stand-ins' estimator itself is left as it was
    assert search.best_estimator_.large_ is stand_ins["large"]
    with pytest.raises(ValueError, match="no PrecomputedMember"):
        restore_members(real)


def test_precomputed_members_read_the_array_in_place():
    # issue 22 item 9: PrecomputedMember cast its columns to float64, so
    # DuoClassifier.fit took 4.28x one member array of extra memory and
    # predict_proba 4.02x beyond its output (0.21x for fit_duo on the same
    # arrays). Reference: the array API on the same arrays, and its weights.
    import tracemalloc

    from skduo.torch import PrecomputedMember

    def peak(fn):
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            out = fn()
            return out, tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    n, k = 20_000, 500
    rng = np.random.default_rng(0)
    z_l = (2 * rng.normal(size=(n, k))).astype(np.float32)
    z_s = (z_l + 2 * rng.normal(size=(n, k))).astype(np.float32)
    y = np.argmax(z_l + rng.gumbel(size=(n, k)), axis=1)
    Z, one = np.hstack([z_l, z_s]), z_l.nbytes
    classes = np.arange(k)
    large = PrecomputedMember(None, start=0, stop=k, classes=classes).fit(Z)
    small = PrecomputedMember(None, start=k, stop=2 * k, classes=classes).fit(Z)
    z = large.decision_function(Z)
    assert z.dtype == np.float32 and np.shares_memory(z, Z) and not z.flags.writeable
    duo = DuoClassifier(large, small)
    _, fit_peak = peak(lambda: duo.fit(Z, y))
    api, api_peak = peak(lambda: fit_duo(z_l, z_s, y))
    assert (fit_peak - api_peak) / one <= 0.5, (fit_peak / one, api_peak / one)
    np.testing.assert_allclose(duo.weights_, api.weights, rtol=1e-6)
    proba, predict_peak = peak(lambda: duo.predict_proba(Z))
    assert (predict_peak - proba.nbytes) / one <= 0.5, predict_peak / one
    np.testing.assert_allclose(proba, api.predict_proba(z_l, z_s), rtol=1e-6)


# --------------------------------------------------------------------------
# members are never mutated


def test_threaded_predictions_of_helper_members_equal_serial(modules, digits):
    _, _, X_val, y_val = digits
    large, small = (pickle.loads(pickle.dumps(m)) for m in modules)
    large.train(), small.train()  # BatchNorm + Dropout in train mode
    members = [as_member(m, classes=range(10), batch_size=64) for m in (large, small)]
    duo = DuoClassifier(*members).fit(X_val, y_val)
    before = [state_of(large), state_of(small)]
    serial = duo.predict_proba(X_val)
    for max_bytes in (0, 1 << 30):  # the forward passes, then the cache
        logits_cache.max_bytes = max_bytes
        with ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(lambda _: duo.predict_proba(X_val), range(12)))
        for part in parts:
            np.testing.assert_array_equal(part, serial)
    assert_state(large, before[0])
    assert_state(small, before[1])
    # batches of 64 vs the whole forward: logits equal to float32 precision
    np.testing.assert_allclose(
        serial,
        softmax(
            duo.weights_[0] * eval_logits(large, X_val)
            + duo.weights_[1] * eval_logits(small, X_val)
        ),
        atol=1e-5,
    )


def test_two_wrappers_of_one_module_predict_from_threads(modules, digits, monkeypatch):
    # issue 22 item 5: eval-mode bookkeeping was keyed by the wrapper, so two
    # as_member() wrappers of one module (a duo beside a temperature-scaled
    # member on the same backbone) restored each other's flags mid-prediction:
    # logits off by up to 1.6, flags flipped, BatchNorm statistics changed.
    # Reference: the module's own forward in eval mode (eval_logits).
    _, _, X_val, _ = digits
    large = pickle.loads(pickle.dumps(modules[0]))
    large.train()  # BatchNorm + Dropout in train mode
    state = state_of(large)
    members = [as_member(large, classes=range(10), batch_size=16) for _ in "ab"]
    reference = eval_logits(large, X_val)
    monkeypatch.setattr(logits_cache, "max_bytes", 0)  # every call runs the module

    def predict(i):
        return members[i % 2].predict_proba(X_val)

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(predict, range(16)))
    for part in parts:
        np.testing.assert_allclose(part, softmax(reference), rtol=1e-5, atol=1e-7)
    assert_state(large, state)


def test_model_selection_never_mutates_helper_members(modules, digits):
    _, _, X_val, y_val = digits
    large = pickle.loads(pickle.dumps(modules[0]))
    state = state_of(large)
    member = as_member(large, classes=range(10))
    params = member.get_params()
    duo = DuoClassifier(member, as_member(modules[1], classes=range(10)))
    cross_validate(duo, X_val, y_val, cv=3, scoring=get_scorer("neg_nll"))
    precompute_logits([member], X_val, verbose=False)
    assert_state(large, state)
    assert member.get_params().keys() == params.keys()
    assert member.module_ is large and member.optimizer_ is None


# --------------------------------------------------------------------------
# CUDA (skipped without it; benchmarks/gpu_check.py runs these on a GPU)

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(
    "precision, channels_last, atol",
    [("float32", False, 1e-4), ("bfloat16", True, 0.1), ("float16", True, 0.02)],
)
def test_gpu_member_matches_cpu_for_every_input_kind(
    cnns, digits, precision, channels_last, atol
):
    _, _, X_val, y_val = digits
    X = to_images(X_val)
    cpu_ref = eval_logits(cnns[1], X)
    cnn = pickle.loads(pickle.dumps(cnns[1]))
    member = as_member(
        cnn,
        classes=range(10),
        device="cuda",
        batch_size=100,
        precision=precision,
        channels_last=channels_last,
    )
    assert next(cnn.parameters()).device.type == "cuda"
    inputs = {
        "ndarray": X,
        "cpu tensor": torch.from_numpy(X),
        "cuda tensor": torch.from_numpy(X).cuda(),
        "dataset": TensorDataset(torch.from_numpy(X), torch.from_numpy(y_val)),
    }
    for kind, inp in inputs.items():
        z = net_logits(member, inp)
        assert z.dtype == np.float64 and z.shape == cpu_ref.shape, kind
        scale = max(1.0, np.abs(cpu_ref).max())
        assert np.abs(z - cpu_ref).max() < atol * scale, kind
    duo = DuoClassifier(member, as_member(cnn, classes=range(10), device="cuda"))
    assert np.all(np.isfinite(duo.fit(X, y_val).weights_))


@pytest.mark.gpu
@needs_cuda
def test_gpu_cache_forward_counts_threads_and_pickle(modules, digits):
    _, _, X_val, y_val = digits
    large = pickle.loads(pickle.dumps(modules[0])).cuda()
    small = pickle.loads(pickle.dumps(modules[1])).cuda()
    counts = [Counter(), Counter()]
    for m, c in zip((large, small), counts):
        m.register_forward_pre_hook(c)
    state = [state_of(large), state_of(small)]
    members = [as_member(m, classes=range(10), batch_size=128) for m in (large, small)]
    assert members[0].device.startswith("cuda")
    duo = DuoClassifier(*members)
    scoring = {name: get_scorer(name) for name in ("neg_nll", "neg_aurc", "neg_ece")}
    cross_validate(duo, X_val, y_val, cv=5, scoring=scoring)
    GridSearchCV(duo, {"mode": ["asymmetric", "uq_only"]}, cv=5).fit(X_val, y_val)
    n_distinct = len(np.unique(X_val, axis=0))
    assert [c.rows for c in counts] == [n_distinct, n_distinct]
    duo.fit(X_val, y_val)
    serial = duo.predict_proba(X_val)
    logits_cache.max_bytes = 0
    try:
        with ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(lambda _: duo.predict_proba(X_val), range(8)))
    finally:
        logits_cache.max_bytes = 1 << 30
    for part in parts:
        np.testing.assert_allclose(part, serial, atol=1e-6)
    assert_state(large, state[0])
    assert_state(small, state[1])
    loaded = pickle.loads(pickle.dumps(duo))  # CUDA members come back on CUDA
    assert loaded.large_.device.startswith("cuda")
    np.testing.assert_allclose(loaded.predict_proba(X_val), serial, atol=1e-6)


class InPlace(nn.Module):
    """Works on its input in place (like ReLU(inplace=True) as a first layer)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 10)

    def forward(self, x):
        return self.lin(x.mul_(2.0))


@pytest.mark.parametrize("as_tensor", [False, True])
def test_members_never_write_into_the_input(digits, as_tensor):
    X = digits[2][:50].copy()
    X_in = torch.from_numpy(X.copy()) if as_tensor else X.copy()
    member = as_member(InPlace(), classes=range(10), batch_size=16)
    z = net_logits(member, X_in)
    np.testing.assert_array_equal(np.asarray(X_in), X)  # untouched
    np.testing.assert_allclose(z, eval_logits(member.module_.lin, 2 * X), atol=1e-6)


def test_compute_report_runs_the_members_transforms(cnns, digits):
    from skduo.torch import duo_compute_report

    images = np.repeat(np.repeat(to_images(digits[2][:4]), 2, 2), 2, 3)
    X_u8 = np.round(images * 255).astype(np.uint8)
    large = as_member(cnns[0], classes=range(10), transform=uint8_to_float)
    small = as_member(cnns[1], classes=range(10), transform=uint8_to_float_8px)
    report = duo_compute_report(DuoClassifier(large, small), X_u8[:1])
    # conv 3x3 (1 -> 8) on 16x16 + head 32 -> 10; conv (1 -> 4) on 8x8 + 16 -> 10
    assert report.large_cost == 16 * 16 * 8 * 9 + 32 * 10
    assert report.small_cost == 8 * 8 * 4 * 9 + 16 * 10
