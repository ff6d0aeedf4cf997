"""skduo.evaluation's logits directories: the CSV reader and the kept dtypes."""

import re

import pytest

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
