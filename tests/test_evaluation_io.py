"""skduo.evaluation's logits directories: the CSV reader and the kept dtypes."""

import re
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skduo.evaluation import LogitZoo, load_logits_dir, save_logits_dir
from skduo.evaluation._io import _read_csv_matrix

# ---------------------------------------------------------------------------
# CSV logits: the checks and messages of the csv/float() reader
# ---------------------------------------------------------------------------

_INDEX_FIX = (
    "not logits: the file was saved with pandas' default index column, which "
    "would add a class. Save it with DataFrame(logits).to_csv(path, "
    "index=False), or drop the column."
)

# (file content, message after "<path>: "); every message is the one the
# csv.reader + float() parser of commit 86b24db raised on the same bytes
_CSV_ERRORS = {
    "empty": (b"", "no rows of logits."),
    "header_only": (b"0,1,2\n", "no rows of logits."),
    "ragged": (
        b"0,1,2\n1,2,3\n4,5\n",
        "rows have different numbers of columns {2, 3}.",
    ),
    "blank_cells_line": (
        b"0,1,2\n1,2,3\n   \n4,5,6\n",
        "rows have different numbers of columns {1, 3}.",
    ),
    "no_header": (
        b"1.5,2,3\n4,5,6\n",
        "the first row holds numbers (1.5, 2, 3), not a header: the layout "
        "expects a header row (pandas' DataFrame(logits).to_csv(path, "
        "index=False) writes one), and without it the first sample is lost. "
        "Add a header row (0,1,...,K-1).",
    ),
    "non_numeric": (
        b"0,1,2\n1,2,3\n4,x,6\n",
        "non-numeric value (could not convert string to float: 'x').",
    ),
    "comment": (
        b"0,1,2\n#1,2,3\n4,5,6\n",
        "non-numeric value (could not convert string to float: '#1').",
    ),
    "trailing_comma": (
        b"0,1,2\n1,2,3,\n4,5,6,\n",
        "non-numeric value (could not convert string to float: '').",
    ),
    "index_header": (
        b",0,1,2\n0,1,2,3\n1,4,5,6\n",
        "the first column is a row index (0, 1, 2, ..., 1), " + _INDEX_FIX,
    ),
    "index_values": (
        b"a,b,c,d\n0,1,2,3\n1,4,5,6\n2,7,8,9\n",
        "the first column is a row index (0, 1, 2, ..., 2), " + _INDEX_FIX,
    ),
    "latin1": (
        b"0,1,2\n1,2,3\n4,5,\xe96\n",
        "not a UTF-8 text file (invalid continuation byte at byte 16).",
    ),
}


@pytest.mark.parametrize("case", sorted(_CSV_ERRORS))
def test_csv_errors_keep_their_messages(tmp_path, case):
    content, message = _CSV_ERRORS[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')}$"):
        _read_csv_matrix(path)


def _python_floats(text):
    """The old parser's values (csv rows of Python floats), rounded to float32."""
    rows = [line.split(",") for line in text.splitlines()[1:] if line.strip(",")]
    return np.array([[float(v) for v in r] for r in rows]).astype(np.float32)


@pytest.mark.parametrize(
    "content",
    [
        "a,b,c\n1.5,-2,3e-3\n\n4,5,6\n",  # names in the header, an empty line
        "0,1,2\n 1 , 2 ,3\n4,5,6\n",  # blanks around values
        "0,1,2\r\n1,2,3\r\n4,5,6\r\n",  # Windows line ends
        '0,1,2\n"1",2,3\n4,5,6\n',  # quoted cell: the Python parser's path
        "0,1,2\n1_0,2,3\n4,5,6\n",  # an underscore Python's float() accepts
        "0,1,2\n+1,2.,.3\n4,5,6\n",
        "\n1,2,3\n4,5,6\n",  # an empty first line is the header
    ],
)
def test_csv_values_are_the_old_values_rounded_to_float32(tmp_path, content):
    path = tmp_path / "m.csv"
    path.write_bytes(content.encode())
    matrix = _read_csv_matrix(path)
    assert matrix.dtype == np.float32
    assert_array_equal(matrix, _python_floats(content.replace('"', "")))


def test_csv_random_logits_round_to_float32_exactly(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=10.0, size=(500, 7)) * 10.0 ** rng.integers(-8, 8, (500, 7))
    text = "0,1,2,3,4,5,6\n" + "".join(
        ",".join(repr(float(v)) for v in row) + "\n" for row in z
    )
    path = tmp_path / "m.csv"
    path.write_text(text)
    # repr() round-trips: the old parser's float64 values are z itself
    got = _read_csv_matrix(path)
    assert got.dtype == np.float32
    assert_array_equal(got, z.astype(np.float32))
    # 1-ulp checks that the rounding was from float64, not a shorter parse
    assert_array_equal(got.view(np.int32), z.astype(np.float32).view(np.int32))


def test_csv_beyond_float32_range_is_read_as_float64(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("0,1,2\n1e39,2,3\n4,5,6\n")
    got = _read_csv_matrix(path)
    # float('1e39') is finite in float64 and would overflow float32
    assert got.dtype == np.float64
    assert_array_equal(got, [[1e39, 2.0, 3.0], [4.0, 5.0, 6.0]])
    path.write_text("0,1,2\n1,nan,inf\n-inf,5,6\n")
    got = _read_csv_matrix(path)
    assert got.dtype == np.float64 and np.isnan(got[0, 1])
    zoo = LogitZoo([0, 1], [0])
    with pytest.raises(ValueError, match=r"^m: logits contain 1 NaN and 2 infinite "):
        zoo.add("m", got, np.zeros((1, 3)), source={"val": "m"}, outputs="logits")


# ---------------------------------------------------------------------------
# LogitZoo.add and load_logits_dir keep the floating dtype, copy nothing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, kept",
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.float16, np.float32),
        (np.int32, np.float64),
    ],
)
def test_add_keeps_the_float_dtype(given, kept):
    rng = np.random.default_rng(1)
    val = (rng.normal(size=(6, 3)) * 4).astype(given)
    test = (rng.normal(size=(2, 3)) * 4).astype(given)
    zoo = LogitZoo([0, 1, 2, 0, 1, 2], [1, 0])
    zoo.add("m", val, test, outputs="logits")
    got = zoo.models["m"].logits
    assert got["val"].dtype == kept and got["test"].dtype == kept
    # the values as given, converted exactly (float16 and int32 fit float32/64)
    assert_array_equal(got["val"], val.astype(kept))
    if given == kept:
        assert got["val"] is val and got["test"] is test


def test_float32_probabilities_become_float32_logits():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(4), size=50).astype(np.float32)
    lp = np.log(p.astype(np.float64)).astype(np.float32)
    zoo = LogitZoo(np.arange(50) % 4, np.arange(50) % 4)
    zoo.add("p", p, p, outputs="proba")
    zoo.add("lp", lp, lp, outputs="log_proba")
    # the logarithm is taken in float64 and stored in float32 (no zero to clip)
    assert zoo.models["p"].logits["val"].dtype == np.float32
    assert_array_equal(zoo.models["p"].logits["val"], lp)
    # log-probabilities without -inf are used as they are
    assert zoo.models["lp"].logits["val"] is lp


def test_memory_mapped_log_probabilities_stay_memory_mapped(tmp_path):
    rng = np.random.default_rng(6)
    lp = np.log(rng.dirichlet(np.ones(4), size=50)).astype(np.float32)
    mapped = _mmap(tmp_path / "lp.npy", lp)
    zoo = LogitZoo(np.arange(50) % 4, np.arange(50) % 4)
    zoo.add("lp", mapped, lp, outputs="log_proba")
    assert zoo.models["lp"].logits["val"] is mapped
    lp[0, 1] = -np.inf  # probability 0: clipped, so a new float32 array
    with pytest.warns(UserWarning, match="2.0% of the rows .* are saturated"):
        zoo.add("zero", _mmap(tmp_path / "zero.npy", lp), lp, outputs="log_proba")
    got = zoo.models["zero"].logits["val"]
    assert type(got) is np.ndarray and got.dtype == np.float32
    # clipped at log of float64's smallest normal, stored in float32
    assert got[0, 1] == np.float32(np.log(np.finfo(np.float64).tiny))


def _mmap(path, z):
    np.save(path, z)
    return np.load(path, mmap_mode="r")


def test_memory_mapped_logits_stay_memory_mapped_and_are_checked_in_blocks(
    tmp_path,
):
    n, k = 40_000, 100
    rng = np.random.default_rng(3)
    val = _mmap(tmp_path / "val.npy", rng.normal(size=(n, k)).astype(np.float32))
    test = _mmap(tmp_path / "test.npy", rng.normal(size=(10, k)).astype(np.float32))
    zoo = LogitZoo(np.arange(n) % k, np.arange(10))
    tracemalloc.start()
    zoo.add("m", val, test)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    got = zoo.models["m"].logits["val"]
    assert isinstance(got, np.memmap) and got is val
    # temporaries of row blocks and the inspected rows only (the old float64
    # copy and whole-array isfinite were 2.25x val.nbytes = 36 MB)
    assert peak < 0.25 * val.nbytes


def test_nonfinite_counts_and_first_position_across_row_blocks(tmp_path):
    n, k = 9_000, 100  # 2,621 rows per block of 2**18 values: 4 blocks
    z = np.random.default_rng(4).normal(size=(n, k)).astype(np.float32)
    z[7000, 3] = z[8999, 99] = np.nan
    z[5000, 7] = np.inf
    z[6000, 1] = -np.inf
    val = _mmap(tmp_path / "val.npy", z)
    bad = ~np.isfinite(z)  # the whole-array count the message reported
    first = np.argwhere(bad)[0]
    assert tuple(first) == (5000, 7)
    zoo = LogitZoo(np.zeros(n, dtype=int), [0])
    message = (
        f"v: logits contain {int(np.isnan(z).sum())} NaN and "
        f"{int(bad.sum() - np.isnan(z).sum())} infinite value(s) (first at row "
        f"{first[0]}, column {first[1]})."
    )
    assert message == (
        "v: logits contain 2 NaN and 2 infinite value(s) (first at row 5000, column 7)."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        zoo.add("m", val, np.zeros((1, k)), source={"val": "v"})
    only_neg = np.zeros((n, k), dtype=np.float32)
    only_neg[[3000, 6000, 6000], [5, 1, 2]] = -np.inf
    with pytest.raises(
        ValueError,
        match=r"^v: logits contain 0 NaN and 3 infinite value\(s\) \(first at row "
        r"3000, column 5\)\.$",
    ):
        zoo.add("m", only_neg, np.zeros((1, k)), source={"val": "v"}, outputs="logits")


def _npy_dir(root, models, n, k, dtype):
    rng = np.random.default_rng(5)
    for split in ("val", "test"):
        (root / split).mkdir(parents=True)
        np.save(root / split / "labels.npy", np.arange(n) % k)
        for name in models:
            np.save(root / split / f"{name}.npy", rng.normal(size=(n, k)).astype(dtype))


def test_load_logits_dir_keeps_dtypes_and_memory_maps_npy(tmp_path):
    _npy_dir(tmp_path / "npy", ["a", "b"], 50, 4, np.float32)
    loaded = load_logits_dir(tmp_path / "npy")
    assert loaded.models["a"].logits["val"].dtype == np.float32
    assert not isinstance(loaded.models["a"].logits["val"], np.memmap)
    mapped = load_logits_dir(tmp_path / "npy", mmap_mode="r")
    z = mapped.models["b"].logits["test"]
    assert isinstance(z, np.memmap) and z.dtype == np.float32
    assert_array_equal(z, np.load(tmp_path / "npy" / "test" / "b.npy"))
    with pytest.raises(ValueError, match=r"mmap_mode must be None or 'r'; got 'r\+'"):
        load_logits_dir(tmp_path / "npy", mmap_mode="r+")
    # the npz layout round-trips the dtype
    save_logits_dir(loaded, tmp_path / "npz")
    back = load_logits_dir(tmp_path / "npz")
    assert back.models["a"].logits["val"].dtype == np.float32
    assert_array_equal(back.models["a"].logits["val"], loaded.models["a"].logits["val"])


@pytest.mark.parametrize("layout", ["npz", "npy"])
def test_load_logits_dir_peak_memory_is_the_arrays_it_returns(tmp_path, layout):
    _npy_dir(tmp_path / "npy", ["a", "b", "c"], 20_000, 100, np.float32)
    root = tmp_path / "npy"
    if layout == "npz":
        save_logits_dir(load_logits_dir(root), tmp_path / "npz")
        root = tmp_path / "npz"
    tracemalloc.start()
    zoo = load_logits_dir(root)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    returned = sum(z.nbytes for m in zoo.models.values() for z in m.logits.values())
    assert returned == 3 * 2 * 20_000 * 100 * 4
    # float64 copies made it 2.0x and more before
    assert peak <= 1.1 * returned
