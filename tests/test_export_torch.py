"""skduo.torch.export_duo_module: one nn.Module equal to the duo's outputs."""

import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    FunctionTransformer,
    MinMaxScaler,
    StandardScaler,
)
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402

from skduo import (  # noqa: E402
    DuoClassifier,
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
)
from skduo.torch import export_duo_module  # noqa: E402

N_FEATURES = 8


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, N_FEATURES)).astype(np.float32)
    noise = 0.7 * rng.normal(size=len(X))
    y = (X[:, 0] + 0.5 * X[:, 1] + noise > 0).astype(np.int64) + (X[:, 2] > 0.8)
    return X[:400], y[:400], X[400:], y[400:]


def mlp(hidden, n_out=3, softmax=False):
    layers = [
        torch.nn.Linear(N_FEATURES, hidden),
        torch.nn.BatchNorm1d(hidden),  # eval mode matters
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(hidden, n_out),
    ]
    if softmax:
        layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers)


def make_net(hidden, cls=NeuralNetClassifier, n_out=3, **kwargs):
    params = dict(
        module=mlp,
        module__hidden=hidden,
        module__n_out=n_out,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.02,
        max_epochs=4,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    params.update(kwargs)
    return cls(**params)


@pytest.fixture(scope="module")
def nets(data):
    X_train, y_train, _, _ = data
    torch.manual_seed(0)
    # trained on different halves: both get a positive weight
    large = make_net(32).fit(X_train[:200], y_train[:200])
    small = make_net(4).fit(X_train[200:], y_train[200:])
    return large, small


def _module_out(module, X):
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


def _assert_float32_close(actual, expected):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def test_module_equals_decision_function_and_predict_proba(nets, data):
    large, small = nets
    _, _, X_val, y_val = data
    duo = DuoClassifier(large, FrozenEstimator(small)).fit(X_val, y_val)
    assert (duo.weights_ > 0).all()
    module = export_duo_module(duo)
    assert not module.training
    _assert_float32_close(_module_out(module, X_val), duo.decision_function(X_val))
    proba = export_duo_module(duo, softmax=True)
    _assert_float32_close(_module_out(proba, X_val), duo.predict_proba(X_val))
    # the members' own modules are untouched: copies, in eval mode
    assert large.module_.training  # train_split=None nets stay in train mode
    assert all(
        p is not q
        for p, q in zip(
            module.members[0].backbone.parameters(), large.module_.parameters()
        )
    )


def test_torch_export_and_onnx_export(nets, data, tmp_path):
    large, small = nets
    _, _, X_val, y_val = data
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    module = export_duo_module(duo, softmax=True)
    x = torch.from_numpy(X_val)
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, (x[:4],), dynamic_shapes=({0: batch},))
    with torch.no_grad():
        exported = program.module()(x).numpy()
    _assert_float32_close(exported, duo.predict_proba(X_val))

    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "duo.onnx"
    with warnings.catch_warnings():
        # torch >= 2.9 calls the TorchScript-based exporter "legacy"
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            module,
            (x[:4],),
            str(path),
            input_names=["x"],
            output_names=["proba"],
            dynamic_axes={"x": {0: "batch"}, "proba": {0: "batch"}},
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_proba,) = session.run(None, {"x": X_val})
    _assert_float32_close(onnx_proba, duo.predict_proba(X_val))


def test_onnx_dynamo_export(nets, data):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    large, small = nets
    _, _, X_val, y_val = data
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    module = export_duo_module(duo)
    x = torch.from_numpy(X_val)
    program = torch.onnx.export(
        module, (x,), dynamo=True, input_names=["x"], output_names=["z"]
    )
    buffer = io.BytesIO()
    program.save(buffer)
    session = ort.InferenceSession(
        buffer.getvalue(), providers=["CPUExecutionProvider"]
    )
    (z,) = session.run(None, {"x": X_val})
    _assert_float32_close(z, duo.decision_function(X_val))


def binary_mlp(hidden):
    """One logit per sample, 1-D (NeuralNetBinaryClassifier's convention)."""
    return torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 1),
        torch.nn.Flatten(0),
    )


class _Scale3(StandardScaler):
    """Undo ``X * 3 + 1`` exactly (a StandardScaler with fixed statistics)."""

    def fit(self, X, y=None):
        super().fit(X)
        self.mean_ = np.ones(X.shape[1])
        self.scale_ = np.full(X.shape[1], 3.0)
        return self


def test_pipelines_binary_nets_and_class_order(data):
    X_train, y_train, X_val, y_val = data
    yb_train, yb_val = (y_train > 0).astype(np.int64), (y_val > 0).astype(np.int64)
    X_raw = X_train * 3 + 1  # both members take raw inputs on this scale
    torch.manual_seed(1)
    binary = NeuralNetBinaryClassifier(
        binary_mlp,
        module__hidden=16,
        criterion=torch.nn.BCEWithLogitsLoss,
        optimizer=torch.optim.Adam,
        lr=0.02,
        max_epochs=4,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    binary.fit(X_train[:200], yb_train[:200].astype(np.float32))
    # an output column order other than the duo's: classes_ = [1, 0]
    reordered = make_net(8, n_out=2, classes=[1, 0])
    piped = make_pipeline(StandardScaler(), MinMaxScaler(), reordered)
    piped.fit(X_raw[200:], 1 - yb_train[200:])  # target j means class classes[j]
    large = make_pipeline(_Scale3().fit(X_raw), FrozenEstimator(binary))
    X_in = X_val * 3 + 1
    duo = DuoClassifier(large, piped).fit(X_in, yb_val)
    assert (duo.weights_ > 0).all()
    np.testing.assert_array_equal(piped.classes_, [1, 0])
    assert duo.decision_function(X_in).shape == (len(yb_val),)
    module = export_duo_module(duo)
    _assert_float32_close(_module_out(module, X_in), duo.decision_function(X_in))
    proba = export_duo_module(duo, softmax=True)
    _assert_float32_close(_module_out(proba, X_in), duo.predict_proba(X_in))


def test_nllloss_probability_nets_and_other_ensembles(data):
    X_train, y_train, X_val, y_val = data
    torch.manual_seed(2)
    proba_net = make_net(16, criterion=torch.nn.NLLLoss, module__softmax=True).fit(
        X_train, y_train
    )
    logit_net = make_net(16).fit(X_train, y_train)
    with pytest.warns(UserWarning, match="NLLLoss"):
        ts = TemperatureScalingClassifier(proba_net).fit(X_val, y_val)
    # the rows were seen at fit time: the logits cache answers, without a warning
    expected = ts.decision_function(X_val)
    _assert_float32_close(_module_out(export_duo_module(ts), X_val), expected)
    ens = WeightedEnsembleClassifier(
        [("a", logit_net), ("b", FrozenEstimator(logit_net))], mode="pooled"
    ).fit(X_val, y_val)
    _assert_float32_close(
        _module_out(export_duo_module(ens), X_val), ens.decision_function(X_val)
    )


def test_zero_weight_members_are_left_out(nets, data):
    large, small = nets
    _, _, X_val, y_val = data
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    duo.weights_ = np.array([0.8, 0.0])
    module = export_duo_module(duo)
    assert len(module.members) == 1
    _assert_float32_close(_module_out(module, X_val), duo.decision_function(X_val))


def test_members_that_cannot_be_exported(nets, data):
    large, small = nets
    X_train, y_train, X_val, y_val = data
    lr = LogisticRegression().fit(X_train, y_train)
    duo = DuoClassifier(large, lr).fit(X_val, y_val)
    with pytest.raises(TypeError, match="small member .*LogisticRegression.* not a"):
        export_duo_module(duo)
    cast = make_pipeline(FunctionTransformer(np.float32), small)
    duo = DuoClassifier(large, cast).fit(X_val, y_val)
    with pytest.raises(TypeError, match="step 'functiontransformer'"):
        export_duo_module(duo)
    duo = DuoClassifier(large, small, response_method=("auto", "predict_proba"))
    duo.fit(X_val, y_val)
    with pytest.raises(ValueError, match="response_method='predict_proba'"):
        export_duo_module(duo)
    with pytest.raises(Exception, match="not fitted"):
        export_duo_module(DuoClassifier(large, small))
