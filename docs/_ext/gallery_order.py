"""Gallery order: by the number in ``plot_<n>_...``, so that 10 follows 9."""

import re
from pathlib import Path


class ExampleNumberSortKey:
    """Sort key for sphinx-gallery's ``within_subsection_order``.

    ``plot_2_x.py`` comes before ``plot_10_y.py`` (file names sort ``plot_10``
    before ``plot_2``); files without a number come last, by name.
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        match = re.match(r"plot_(\d+)_", Path(filename).name)
        return (int(match.group(1)) if match else float("inf"), str(filename))

    def __repr__(self):
        return f"{type(self).__name__}()"
