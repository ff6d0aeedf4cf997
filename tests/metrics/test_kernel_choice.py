"""The one rule by which the metrics choose their compiled kernels."""

import types
import warnings

import pytest

from skduo.metrics._kernel_choice import compiled_kernel, load_compiled


def _broken():
    raise OSError("no writable cache")


def _working():
    return types.SimpleNamespace(warm_up=lambda: None)


def test_a_kernel_that_fails_to_load_warns_once_or_raises_when_forced(monkeypatch):
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "auto")
    load_compiled.cache_clear()
    with pytest.warns(RuntimeWarning) as rec:
        assert load_compiled(_broken, "bootstrap", False) is None
    assert str(rec[0].message) == (
        "The compiled bootstrap kernel (numba) failed to load: "
        "OSError('no writable cache'); the bootstrap uses NumPy "
        "(set SKDUO_FIT_KERNEL=numpy to skip it)."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process and kernel
        assert load_compiled(_broken, "bootstrap", False) is None
    with pytest.raises(RuntimeError, match="^SKDUO_FIT_KERNEL=numba, but the comp"):
        load_compiled(_broken, "decomposition", True)
    load_compiled.cache_clear()


def test_thresholds_and_the_environment_variable(monkeypatch):
    pytest.importorskip("numba")
    load_compiled.cache_clear()
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    assert compiled_kernel(_working, "x", 10**12, 100, 10) is None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    assert compiled_kernel(_working, "x", 1, 100, 10) is not None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "auto")
    import numba  # noqa: F401  (warm: the lower threshold applies)

    assert compiled_kernel(_working, "x", 10, 100, 10) is not None
    assert compiled_kernel(_working, "x", 9, 100, 10) is None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "fast")
    with pytest.raises(ValueError, match="SKDUO_FIT_KERNEL"):
        compiled_kernel(_working, "x", 1, 100, 10)
    load_compiled.cache_clear()
