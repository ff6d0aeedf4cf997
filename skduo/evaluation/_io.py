"""Reading and writing directories of saved logits."""

import csv
import json
import os
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from skduo._vocabulary import OUTPUT_KINDS
from skduo.evaluation._files import atomic_file, atomic_write, describe
from skduo.evaluation._zoo import SPLITS, LogitZoo, _nonfinite

#: What a file that cannot be read raises while NumPy reads it.
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)

__all__ = ["load_logits_dir", "save_logits_dir"]

LAYOUT_DOC = """\
Three layouts are recognised (``<split>`` is ``val``, ``test`` and optionally
``ood_test``; all models must hold the same rows in the same order):

1. NumPy archives (written by :func:`save_logits_dir`)::

       PATH/labels.npz          arrays val, test[, ood_test]: integer labels
       PATH/<model>.npz         arrays val, test[, ood_test]: logits (n, n_classes)

2. NumPy arrays, one folder per split::

       PATH/<split>/labels.npy
       PATH/<split>/<model>.npy

3. The official Asymmetric Duos repository's CSV output
   (``evaluate/1_single_model_prediction.py``)::

       PATH/<split>/raw/<model>.csv          a header row (always skipped), then
                                             one row of logits per sample
       PATH/<split>/point_prediction.csv     the labels in column ``target``

The arrays may hold logits, log-probabilities or probabilities (see
``outputs``). Optional, in every layout: ``PATH/costs.json``
(``{"<model>": cost}``) or
``PATH/costs.csv`` (columns ``model,cost``; the official ``backbones.csv`` with
columns ``model_name,GFLOPS`` works too), the inference cost per sample
(multiply-adds, any unit shared by all models); and ``PATH/groups.json``
(``{"<model>": "<architecture>"}``): models of one group form deep ensembles.
"""


def _empty_file_error(path, kind):
    try:
        empty = os.path.getsize(path) == 0
    except OSError:
        return None
    if empty:
        return ValueError(
            f"{describe(path)}: cannot be read as a .{kind} "
            f"{'archive' if kind == 'npz' else 'array'} (empty or truncated file)."
        )
    return None


def _npz(path, keys=None):
    """The arrays of a .npz archive (only ``keys`` if given) and all its names."""
    error = _empty_file_error(path, "npz")
    if error is not None:
        raise error
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            wanted = names if keys is None else [k for k in names if k in keys]
            return {key: data[key] for key in wanted}, names
    except _READ_ERRORS as exc:
        raise ValueError(
            f"{describe(path)}: cannot be read as a .npz archive ({_reason(exc)})."
        ) from None


def _npy(path, mmap_mode=None):
    error = _empty_file_error(path, "npy")
    if error is not None:
        raise error
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise ValueError(
            f"{describe(path)}: cannot be read as a .npy array ({_reason(exc)})."
        ) from None


def _reason(exc):
    """A short reason for a read error (empty and truncated files named so)."""
    if isinstance(exc, EOFError) or "empty" in str(exc).lower():
        return "empty or truncated file"
    if isinstance(exc, (zipfile.BadZipFile, zlib.error)):
        return f"truncated or not a zip archive: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _text_rows(path):
    """The rows of a CSV file, with one-line errors for unreadable files."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{describe(path)}: not a UTF-8 text file ({exc.reason} at byte "
            f"{exc.start})."
        ) from None
    except OSError as exc:
        raise ValueError(
            f"{describe(path)}: cannot be read ({_reason(exc)})."
        ) from None


def _floats(cells):
    try:
        return [float(v) for v in cells]
    except ValueError:
        return None


def _read_csv_matrix(path):
    """The logits of one CSV file of the official layout, checked.

    Read as float32 (each value is the float64 value of its text rounded to
    float32, relative rounding ``2**-24``, about 6e-8) by NumPy's C parser; a
    file with a value beyond the float32 range (or NaN, infinity) is read as
    float64, so its values are kept and the zoo's checks report them. Any file
    the fast parser refuses is read again by the Python parser, whose messages
    say what is wrong.
    """
    fast = _fast_csv_matrix(path, np.float32)
    if fast is not None and _nonfinite(fast[1]) is not None:
        fast = _fast_csv_matrix(path, np.float64)
    if fast is None:
        matrix = _checked_csv_matrix(path)  # raises the error of a bad file
        as32 = matrix.astype(np.float32)
        return as32 if _nonfinite(as32) is None else matrix
    header, matrix = fast
    width = matrix.shape[1]
    index_header = len(header) == width and header[0].strip() in ("", "Unnamed: 0")
    if width > 2 and (
        index_header or np.array_equal(matrix[:, 0], np.arange(matrix.shape[0]))
    ):
        raise _index_column_error(path, matrix.shape[0])
    return matrix


def _fast_csv_matrix(path, dtype):
    """``(header, matrix)`` by ``np.loadtxt``, or None if anything is unusual.

    None (the caller falls back to :func:`_checked_csv_matrix`) for an
    unreadable file, a first row of numbers that is not ``0, 1, ..., K-1``,
    no data rows, and every row ``np.loadtxt`` refuses (ragged rows,
    non-numeric or quoted cells, lines of blanks).
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
            if header is None:
                return None
            values = _floats(header)
            if values is not None and values != list(range(len(values))):
                return None
            with warnings.catch_warnings():
                # "input contained no data": no rows of logits
                warnings.simplefilter("error")
                matrix = np.loadtxt(
                    fh, delimiter=",", dtype=dtype, comments=None, ndmin=2
                )
    except (ValueError, OSError, csv.Error, Warning):  # UnicodeDecodeError too
        return None
    if matrix.size == 0:
        return None
    return header, matrix


def _index_column_error(path, n_rows):
    return ValueError(
        f"{describe(path)}: the first column is a row index (0, 1, 2, ..., "
        f"{n_rows - 1}), not logits: the file was saved with pandas' "
        "default index column, which would add a class. Save it with "
        "DataFrame(logits).to_csv(path, index=False), or drop the column."
    )


def _checked_csv_matrix(path):
    """Float64 logits of a CSV file by Python's csv and float(), or its error."""
    rows = _text_rows(path)
    if not rows:
        raise ValueError(f"{describe(path)}: no rows of logits.")
    # the first row is the header pandas' to_csv writes (0,1,2,... or names)
    header, rows = rows[0], [r for r in rows[1:] if r]
    if not rows:
        raise ValueError(f"{describe(path)}: no rows of logits.")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(
            f"{describe(path)}: rows have different numbers of columns {widths}."
        )
    values = _floats(header)
    width = widths.pop()
    if values is not None and values != list(range(len(values))):
        raise ValueError(
            f"{describe(path)}: the first row holds numbers ({', '.join(header[:3])}"
            f"{', ...' if len(header) > 3 else ''}), not a header: the layout "
            "expects a header row (pandas' DataFrame(logits).to_csv(path, "
            "index=False) writes one), and without it the first sample is lost. "
            "Add a header row (0,1,...,K-1)."
        )
    try:
        matrix = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{describe(path)}: non-numeric value ({exc}).") from None
    index_header = len(header) == width and header[0].strip() in ("", "Unnamed: 0")
    if width > 2 and (
        index_header or np.array_equal(matrix[:, 0], np.arange(matrix.shape[0]))
    ):
        raise _index_column_error(path, matrix.shape[0])
    return matrix


def _dict_rows(path):
    rows = _text_rows(path)
    if not rows:
        return None, []
    header = rows[0]
    return header, [dict(zip(header, r)) for r in rows[1:] if r]


def _read_csv_labels(path):
    fields, rows = _dict_rows(path)
    if fields is None or "target" not in fields:
        raise ValueError(
            f"{describe(path)}: expected a column named 'target' holding the "
            f"labels; found columns {fields}."
        )
    values = [row.get("target") for row in rows]
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{describe(path)}: non-numeric label ({exc}).") from None


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{describe(path)}: invalid JSON ({exc}).") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{describe(path)}: not a UTF-8 text file ({exc.reason})."
        ) from None
    except OSError as exc:
        raise ValueError(
            f"{describe(path)}: cannot be read ({_reason(exc)})."
        ) from None


def _read_costs(root):
    costs, groups = {}, {}
    if (root / "costs.json").exists():
        path = root / "costs.json"
        raw = _read_json(path)
        if not isinstance(raw, dict):
            raise ValueError(
                f"{describe(path)}: expected an object {{model: cost}}; got a "
                f"{type(raw).__name__}."
            )
        costs = {str(k): v for k, v in raw.items()}
    else:
        for fname, name_col, cost_col in (
            ("costs.csv", "model", "cost"),
            ("backbones.csv", "model_name", "GFLOPS"),
        ):
            path = root / fname
            if not path.exists():
                continue
            fields, rows = _dict_rows(path)
            fields = fields or []
            if name_col not in fields or cost_col not in fields:
                raise ValueError(
                    f"{describe(path)}: expected columns {name_col!r} and "
                    f"{cost_col!r}; found {fields}."
                )
            for row in rows:
                costs[row[name_col]] = row.get(cost_col)
            break
    for name, value in costs.items():
        try:
            costs[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"costs for {name!r} in {describe(root)}: not a number ({value!r})."
            ) from None
    path = root / "groups.json"
    if path.exists():
        groups = _read_json(path)
        if not isinstance(groups, dict) or not all(
            isinstance(v, str) for v in groups.values()
        ):
            raise ValueError(
                f"{describe(path)}: expected an object {{model: architecture name}}"
                f" with string values; got "
                + (
                    f"a {type(groups).__name__}"
                    if not isinstance(groups, dict)
                    else "non-string values"
                )
                + "."
            )
    return costs, groups


def _check_name(name, path):
    """Model names come from file names: they must be valid UTF-8 text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{describe(path)}: the file name is not valid UTF-8 (the model name "
            "would be unprintable); rename the file."
        ) from None
    return name


def _detect(root):
    if (root / "labels.npz").exists():
        return "npz"
    if (root / "val" / "labels.npy").exists():
        return "npy"
    val = root / "val"
    if (val / "raw").is_dir() or (val / "point_prediction.csv").exists():
        return "csv"
    raise ValueError(
        f"{describe(root)}: not a logits directory: found none of labels.npz, "
        "val/labels.npy, val/raw/ (see python -m skduo evaluate --help for the "
        "layouts)."
    )


def load_logits_dir(path, *, ood=None, outputs="auto", mmap_mode=None):
    """Load a directory of saved logits into a :class:`LogitZoo`.

    Parameters
    ----------
    path : str or path-like
        The directory (layouts below).
    ood : bool, default=None
        Whether to load the ``ood_test`` split: True requires it (an error names
        what is missing), False ignores it, None loads it when present.
    outputs : {'auto', 'logits', 'proba', 'log_proba'}, default='auto'
        What the saved arrays hold, for every model (see
        :meth:`LogitZoo.add`): ``'auto'`` recognises a model saved as
        probabilities and uses their logarithm with a ``UserWarning`` naming
        its files (``ModelLogits.outputs`` records what was found).
    mmap_mode : {None, 'r'}, default=None
        ``'r'`` opens the models' ``.npy`` files (layout 2) memory-mapped
        (``np.load(path, mmap_mode='r')``): logits that need no conversion
        stay on disk, read when used, and the files must stay in place while
        the zoo is used. Ignored by the other layouts.

    Returns
    -------
    LogitZoo
        Models sorted by name.

    Raises
    ------
    ValueError
        For a malformed directory, naming the file: a missing split, row counts
        that differ between a model and the labels, labels out of range, NaN or
        infinite logits, unreadable, empty or truncated files, a file name that
        is not valid UTF-8, a ``groups.json`` that is not an object.

    Notes
    -----
    {layout}

    The logits keep the dtype they were saved in (float32 stays float32,
    float64 stays float64; float16 becomes float32 and integers float64, see
    :meth:`LogitZoo.add`), and arrays are not copied, so loading takes about
    the memory of the arrays returned. CSV logits (layout 3) are read as
    float32 by NumPy's C parser: each value is its float64 value rounded to
    float32 (relative rounding ``2**-24``, about 6e-8, the precision the
    fits' float32 passes work in); a file holding a value beyond the float32
    range is read as float64.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skduo.evaluation import LogitZoo, load_logits_dir, save_logits_dir
    >>> zoo = LogitZoo(y_val=[0, 1, 1], y_test=[1, 0])
    >>> zoo.add("m", val=np.eye(2)[[0, 1, 1]], test=np.eye(2)[[1, 0]], cost=5.0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_logits_dir(zoo, d)
    ...     load_logits_dir(d)
    LogitZoo(1 models, n_classes=2, val=3, test=2)
    """
    if outputs not in OUTPUT_KINDS:
        raise ValueError(f"outputs must be one of {OUTPUT_KINDS}; got {outputs!r}.")
    if mmap_mode not in (None, "r"):
        raise ValueError(f"mmap_mode must be None or 'r'; got {mmap_mode!r}.")
    root = Path(path)
    if not root.is_dir():
        what = "not a directory" if root.exists() else "no such directory"
        raise ValueError(f"{describe(root)}: {what}.")
    layout = _detect(root)
    costs, groups = _read_costs(root)
    if layout == "npz":
        zoo, per_model = _load_npz(root, ood)
    else:
        zoo, per_model = _load_split_folders(root, ood, layout, mmap_mode)
    if not per_model:
        raise ValueError(f"{describe(root)}: no model logits found ({layout} layout).")
    names = sorted(per_model)
    for name in names:
        # popped: arrays converted (probabilities) are freed model by model
        arrays, source = per_model.pop(name)
        zoo.add(
            name,
            arrays.get("val"),
            arrays.get("test"),
            ood_test=arrays.get("ood_test"),
            cost=costs.get(name),
            group=groups.get(name),
            source=source,
            outputs=outputs,
        )
    unknown = sorted(set(costs) - set(names))
    if unknown and layout != "csv":  # backbones.csv lists more models than saved
        raise ValueError(
            f"{describe(root)}: costs given for unknown model(s) {unknown}; models "
            f"are {names}."
        )
    missing = sorted(set(names) - set(costs))
    if costs and missing:
        raise ValueError(
            f"{describe(root)}: the costs file gives no cost for model(s) "
            f"{missing}; give every model a cost (roles come from costs) or remove "
            "the file."
        )
    return zoo


load_logits_dir.__doc__ = load_logits_dir.__doc__.replace(
    "    {layout}", "    " + LAYOUT_DOC.replace("\n", "\n    ").rstrip()
)


def _want_ood(present, ood, where):
    if ood is True and not present:
        raise ValueError(f"{where}: missing split 'ood_test' (requested with ood).")
    return present and ood is not False


def _load_npz(root, ood):
    label_path = root / "labels.npz"
    labels, _ = _npz(label_path)
    for split in ("val", "test"):
        if split not in labels:
            raise ValueError(
                f"{label_path}: missing split {split!r} (arrays found: "
                f"{sorted(labels)})."
            )
    use_ood = _want_ood("ood_test" in labels, ood, label_path)
    zoo = LogitZoo(
        labels["val"],
        labels["test"],
        labels["ood_test"] if use_ood else None,
        label_source={s: f"{label_path}[{s!r}]" for s in SPLITS},
    )
    per_model = {}
    paths = [p for p in sorted(root.glob("*.npz")) if p.name != "labels.npz"]
    for path in paths:
        _check_name(path.stem, path)
    # archives read two at a time (zip reads and CRC checks release the GIL);
    # results and the first error come in file order, as read one by one
    with ThreadPoolExecutor(2) as pool:
        read = pool.map(lambda p: _npz(p, keys=zoo.splits), paths)  # splits used
        loaded = list(zip(paths, read))
    for path, (arrays, found) in loaded:
        for split in zoo.splits:
            if split not in arrays:
                raise ValueError(
                    f"{path}: missing split {split!r} (arrays found: {sorted(found)})."
                )
        per_model[path.stem] = (arrays, {s: f"{path}[{s!r}]" for s in zoo.splits})
    return zoo, per_model


def _load_split_folders(root, ood, layout, mmap_mode=None):
    splits = ["val", "test"]
    ood_dir = root / "ood_test"
    if _want_ood(ood_dir.is_dir(), ood, ood_dir):
        splits.append("ood_test")
    label_paths, labels = {}, {}
    for split in splits:
        if layout == "npy":
            path = root / split / "labels.npy"
        else:
            path = root / split / "point_prediction.csv"
        if not path.exists():
            raise ValueError(f"{path}: missing labels file for split {split!r}.")
        label_paths[split] = str(path)
        labels[split] = _npy(path) if layout == "npy" else _read_csv_labels(path)
    zoo = LogitZoo(
        labels["val"],
        labels["test"],
        labels.get("ood_test"),
        label_source=label_paths,
    )

    def model_files(split):
        folder = root / split if layout == "npy" else root / split / "raw"
        pattern = "*.npy" if layout == "npy" else "*.csv"
        return {
            _check_name(p.stem, p): p
            for p in sorted(folder.glob(pattern))
            if not (layout == "npy" and p.name == "labels.npy")
        }

    files = {split: model_files(split) for split in splits}
    names = sorted(set().union(*(set(f) for f in files.values())))
    per_model = {}
    for name in names:
        arrays, source = {}, {}
        for split in splits:
            path = files[split].get(name)
            if path is None:
                other = next(files[s][name] for s in splits if name in files[s])
                ext = ".npy" if layout == "npy" else ".csv"
                folder = root / split if layout == "npy" else root / split / "raw"
                raise ValueError(
                    f"{folder / (name + ext)}: missing split {split!r} for model "
                    f"{name!r} (found {other})."
                )
            arrays[split] = (
                _npy(path, mmap_mode) if layout == "npy" else _read_csv_matrix(path)
            )
            source[split] = str(path)
        per_model[name] = (arrays, source)
    return zoo, per_model


def save_logits_dir(zoo, path, *, overwrite=False):
    """Write a :class:`LogitZoo` in the NumPy-archive layout.

    Writes ``labels.npz``, one ``<model>.npz`` per model, ``costs.json`` (models
    with a cost) and ``groups.json`` (models with a group), readable by
    :func:`load_logits_dir`. Each file is written to a temporary file and
    renamed into place, so an interruption never leaves a partial archive.

    Parameters
    ----------
    zoo : LogitZoo
        The zoo to save.
    path : str or path-like
        Directory, created if needed.
    overwrite : bool, default=False
        A directory that already holds files is refused (its models would be
        mixed with the new ones on loading) unless ``overwrite`` is True; then
        the archives and JSON files of the layout that the new zoo does not
        write (models of an earlier save) are removed.

    Returns
    -------
    pathlib.Path
        The directory.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skduo.evaluation import LogitZoo, save_logits_dir
    >>> zoo = LogitZoo(y_val=[0, 1], y_test=[1, 0])
    >>> zoo.add("m", val=[[1.0, 0.0], [0.0, 2.0]], test=[[0.0, 1.0], [3.0, 0.0]])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     sorted(os.listdir(save_logits_dir(zoo, d)))
    ['labels.npz', 'm.npz']
    """
    root = Path(path)
    for name in zoo.models:
        if os.sep in name or "/" in name or name in ("labels", ".", ".."):
            raise ValueError(f"Model name {name!r} cannot be used as a file name.")
    if root.exists() and not root.is_dir():
        raise ValueError(f"{describe(root)}: is a file, not a directory.")
    if root.is_dir() and any(root.iterdir()) and not overwrite:
        raise ValueError(
            f"{describe(root)}: not empty; pass overwrite=True to replace the logits "
            "saved there (models not in this zoo are removed), or choose a new "
            "directory."
        )
    root.mkdir(parents=True, exist_ok=True)
    written = {"labels.npz"}
    with atomic_file(root / "labels.npz", "wb") as fh:
        np.savez(fh, **zoo.labels)
    costs, groups = {}, {}
    for name, model in zoo.models.items():
        with atomic_file(root / f"{name}.npz", "wb") as fh:
            np.savez(fh, **model.logits)
        written.add(f"{name}.npz")
        if model.cost is not None:
            costs[name] = model.cost
        if model.group is not None:
            groups[name] = model.group
    for fname, content in (("costs.json", costs), ("groups.json", groups)):
        if content:
            atomic_write(root / fname, json.dumps(content, indent=2) + "\n")
            written.add(fname)
    for stale in [*root.glob("*.npz"), root / "costs.json", root / "groups.json"]:
        if stale.name not in written and stale.is_file():
            stale.unlink()
    return root
