"""Files that are complete or absent: atomic writes and the CLI's output folder.

Every file skduo writes goes to a temporary file in the destination folder
first and is renamed over the destination (``os.replace``) only once it is
complete, so an interruption or a full disk never leaves a half-written file.
The command line goes one step further: :class:`OutputFolder` collects a whole
run in a staging folder and moves it into place at the end, so a report, its
plots and its logits are always from the same run.
"""

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path

__all__ = []  # private module

#: What one run of ``python -m skduo`` writes into its output folder.
OWNED = (
    "report.csv",
    "report.json",
    "risk_coverage.png",
    "metric_vs_balance.png",
    "logits",
)
_STAGING_PREFIX = ".skduo-staging-"
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


@contextlib.contextmanager
def atomic_file(path, mode="w"):
    """A file object on a temporary file that replaces ``path`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 -> an ordinary file
        kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)
    return path


@contextlib.contextmanager
def deferred_interrupts():
    """Hold Ctrl-C until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt("after the output was complete")


def describe(path):
    """A path for messages: undecodable bytes of a file name as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class OutputFolder:
    """The output folder of one command-line run, written all or nothing.

    Parameters
    ----------
    path : str or path-like
        The output folder (created if needed).
    force : bool
        Allow a non-empty folder: skduo's files of an earlier run there
        (``owned``) are replaced, and those this run does not write are
        removed, so that nothing stale is left beside the new report; other
        files are left alone.
    owned : sequence of str, default=OWNED
        The names this command writes (``evaluate`` never touches ``logits``).

    Raises
    ------
    ValueError
        At once, before any work: ``path`` is a file, is not empty without
        ``force``, or one of skduo's names there has the wrong type (a folder
        named ``report.csv``).
    OSError
        When the folder cannot be created or written (permissions).
    """

    def __init__(self, path, *, force=False, owned=OWNED):
        self.path = Path(path)
        self.force = force
        self.owned = tuple(owned)
        self.staging = None
        self._created = []
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{describe(self.path)}: is a file, not a folder.")
        if self.path.is_dir():
            present = sorted(
                p.name
                for p in self.path.iterdir()
                if not p.name.startswith(_STAGING_PREFIX)
            )
            if present and not force:
                shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
                raise ValueError(
                    f"{describe(self.path)}: not empty (holds {shown}); pass --force "
                    "to replace skduo's files there, or choose a new --output folder."
                )
            self._check_types()
        else:
            missing = []
            parent = self.path
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
        try:
            self.staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=self.path))
        except BaseException:
            self._remove_created()
            raise

    def _check_types(self):
        for name in self.owned:
            target = self.path / name
            want_dir = name == "logits"
            if target.exists() and target.is_dir() != want_dir:
                kind = "a folder" if target.is_dir() else "a file"
                raise ValueError(
                    f"{describe(target)}: is {kind}; skduo writes "
                    f"{'a folder' if want_dir else 'a file'} there. Move it away."
                )

    def __truediv__(self, name):
        """Where to write ``name`` during the run (inside the staging folder)."""
        return self.staging / name

    def final(self, name):
        """Where ``name`` will be once the run is committed."""
        return self.path / name

    @contextlib.contextmanager
    def writing(self):
        """Name the final file, not the staging one, in errors raised inside."""
        try:
            yield
        except OSError as exc:
            raise OSError(
                exc.errno, exc.strerror, self._final_name(exc.filename)
            ) from None

    def _final_name(self, filename):
        if filename is None or self.staging is None:
            return filename
        try:
            parts = Path(filename).relative_to(self.staging).parts
        except ValueError:
            return filename
        parts = [_TEMP_NAME.sub(r"\g<name>", part) for part in parts]
        return str(self.path.joinpath(*parts))

    def commit(self):
        """Move the run's files into place; remove stale outputs of earlier runs.

        Ctrl-C is held until the moves are done (a few renames).
        """
        self._check_types()
        with deferred_interrupts():
            trash = self.staging / ".old"
            trash.mkdir()
            for name in self.owned:
                new, target = self.staging / name, self.path / name
                if target.exists():
                    os.replace(target, trash / name)  # stale, or replaced below
                if new.exists():
                    os.replace(new, target)
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging = None

    def discard(self):
        """Remove the staging folder (and folders this run created)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        self._remove_created()

    def _remove_created(self):
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        self._created = []
