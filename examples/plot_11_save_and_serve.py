"""
=========================================
Save, reload and serve a fitted duo
=========================================

A fitted :class:`~skduo.DuoClassifier` is an ordinary scikit-learn
estimator, so it ships like one. This example fits a duo over two
scikit-learn networks and

1. saves it with joblib (pickle) and reloads it in a **fresh Python
   process**;
2. saves it with `skops <https://skops.readthedocs.io>`_, whose files are
   inspected before loading: only the types you trust are loaded;
3. converts it to one ONNX graph with skl2onnx (``import skduo.onnx``
   registers the duo's converter) and checks it against the estimator;
4. **serves** the ONNX model over HTTP from a separate process that imports
   neither scikit-learn nor skduo, and queries it.

Every reloaded or converted model is compared with the original on the same
test rows. :ref:`guide_serving` has the details and the limits.
"""

# %%
# A duo to ship
# -------------
# The members are fitted on a training split, the duo's two weights on a
# validation split (a synthetic six-class problem; the large member is an MLP
# with 256 hidden units, the sidekick one with 16).
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skduo import DuoClassifier

warnings.simplefilter("ignore", ConvergenceWarning)  # short training on purpose

X, y = make_classification(
    n_samples=4000,
    n_features=20,
    n_informative=15,
    n_redundant=2,
    n_classes=6,
    n_clusters_per_class=3,
    flip_y=0.03,
    random_state=0,
)
X = X.astype(np.float32)  # what the ONNX graph will take
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)


def mlp(width):
    net = MLPClassifier((width,), solver="lbfgs", alpha=1.0, max_iter=100)
    return make_pipeline(StandardScaler(), net.set_params(random_state=0))


large = mlp(256).fit(X_train, y_train)
small = mlp(16).fit(X_train, y_train)
duo = DuoClassifier(large, small).fit(X_val, y_val)
proba = duo.predict_proba(X_test)
print("weights (large, small):", duo.weights_.round(3))
print(f"test accuracy {duo.score(X_test, y_test):.3f}")

# %%
# 1. joblib (pickle), reloaded in a fresh process
# -----------------------------------------------
# ``joblib.dump`` writes the duo with both members. Loading a pickle runs code
# from the file: load only files you made or trust. The process that loads it
# needs the same versions of skduo, scikit-learn and the members' libraries.
# Here a new Python process loads the file and predicts; the parent compares.
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib

import skduo

folder = Path(tempfile.mkdtemp(prefix="skduo_serve_"))
joblib.dump(duo, folder / "duo.joblib")
np.save(folder / "X_test.npy", X_test)

# the child process imports the same skduo as this page
env = dict(os.environ, PYTHONPATH=str(Path(skduo.__file__).parents[1]))
reload_script = """
import joblib, numpy as np
duo = joblib.load("duo.joblib")
np.save("proba_joblib.npy", duo.predict_proba(np.load("X_test.npy")))
print(type(duo).__name__, "loaded; weights", duo.weights_.round(3))
"""
done = subprocess.run(
    [sys.executable, "-c", reload_script],
    cwd=folder,
    env=env,
    capture_output=True,
    text=True,
    check=True,
)
print(done.stdout.strip())
reloaded = np.load(folder / "proba_joblib.npy")
print("same probabilities in the fresh process:", np.array_equal(reloaded, proba))
print(f"file size: {(folder / 'duo.joblib').stat().st_size / 1e3:.0f} kB")

# %%
# 2. skops: inspect the file, trust what you expect
# -------------------------------------------------
# ``skops.io`` stores the estimator without pickle's ability to run arbitrary
# code. It loads the types it knows to be safe (NumPy, SciPy and most of
# scikit-learn) and refuses any other until you trust it by name.
# :func:`skops.io.get_untrusted_types` lists them; review the list, then pass
# it. For this duo the only one is skduo's own class.
import skops.io as sio

sio.dump(duo, folder / "duo.skops")
untrusted = sio.get_untrusted_types(file=folder / "duo.skops")
print("types to review:", [name.rsplit(".", 1)[-1] for name in untrusted])

expected = {"DuoClassifier"}  # what this file should hold beyond sklearn
assert {name.rsplit(".", 1)[-1] for name in untrusted} <= expected
from_skops = sio.load(folder / "duo.skops", trusted=untrusted)
print(
    "same probabilities after skops:",
    np.array_equal(from_skops.predict_proba(X_test), proba),
)

# %%
# 3. ONNX: one graph, no Python objects
# -------------------------------------
# ``import skduo.onnx`` registers the duo's converter with skl2onnx; each
# member is converted by its own skl2onnx converter inside the duo's graph.
# The graph computes in float32: compare it with the estimator before
# serving it.
from skl2onnx import to_onnx

import skduo.onnx  # noqa: F401  (registers the converters)

onx = to_onnx(duo, X_train[:1], options={id(duo): {"zipmap": False}})
(folder / "duo.onnx").write_bytes(onx.SerializeToString())

import onnxruntime as ort

session = ort.InferenceSession(str(folder / "duo.onnx"))
print("inputs:", [i.name for i in session.get_inputs()])
print("outputs:", [o.name for o in session.get_outputs()])
labels, proba_onnx = session.run(None, {"X": X_test})
print(f"largest probability difference: {np.abs(proba_onnx - proba).max():.1e}")
print("same labels:", np.array_equal(labels, duo.predict(X_test)))

# %%
# 4. Serving the ONNX model over HTTP
# -----------------------------------
# A server in a few lines of the standard library and onnxruntime, started as
# a separate process: it loads ``duo.onnx``, checks that neither scikit-learn
# nor skduo was imported, listens on a free local port and answers a JSON
# list of rows with labels and probabilities. Any web framework does the
# same; the model file is all it needs.
server_code = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("duo.onnx")
assert "sklearn" not in sys.modules and "skduo" not in sys.modules


class Predict(BaseHTTPRequestHandler):
    def do_POST(self):
        rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        labels, proba = session.run(None, {"X": np.asarray(rows, np.float32)})
        body = json.dumps({"label": labels.tolist(), "proba": proba.tolist()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):  # no access log on stderr
        pass


server = HTTPServer(("127.0.0.1", 0), Predict)
print(server.server_address[1], flush=True)  # the port, for the client
server.serve_forever()
"""
(folder / "serve.py").write_text(server_code)
server = subprocess.Popen(
    [sys.executable, "serve.py"], cwd=folder, stdout=subprocess.PIPE, text=True
)
port = int(server.stdout.readline())

# %%
# The client: one POST of five test rows.
import json
import urllib.request

request = urllib.request.Request(
    f"http://127.0.0.1:{port}/predict",
    data=json.dumps(X_test[:5].tolist()).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=30) as response:
    answer = json.loads(response.read())
server.terminate()
server.wait()

print("served labels:  ", answer["label"])
print("duo.predict:    ", duo.predict(X_test[:5]).tolist())
served = np.array(answer["proba"])
print(f"largest probability difference: {np.abs(served - proba[:5]).max():.1e}")
print(np.round(served, 3))

# %%
# The served probabilities of the five rows against the estimator's (left:
# every class of every row on the diagonal), and the first row's in full:
import matplotlib.pyplot as plt

fig, (ax_all, ax_row) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
ax_all.plot([0, 1], [0, 1], color="k", lw=0.8, ls=":")
ax_all.scatter(proba[:5].ravel(), served.ravel(), s=18)
ax_all.set(
    xlabel="duo.predict_proba (this process)",
    ylabel="served by HTTP (ONNX)",
    title="5 rows x 6 classes",
    aspect="equal",
)
ax_row.bar(duo.classes_ - 0.2, proba[0], width=0.4, label="duo.predict_proba")
ax_row.bar(duo.classes_ + 0.2, served[0], width=0.4, label="served (ONNX)")
ax_row.set(
    xlabel="class",
    ylabel="probability",
    xticks=duo.classes_,
    title=f"first test row (label {y_test[0]})",
)
ax_row.legend()
plt.show()

import shutil

shutil.rmtree(folder)
