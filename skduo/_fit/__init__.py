"""Layer 1, the weight fit's numerics: arrays in, weights out.

The objective and its chunk kernels (``_objective``, ``_kernel``, the
optional compiled ``_compiled``), the projected Newton solver (``_newton``),
the fit with its certificate (``_weight_fit``), one fit per way of combining
members (``_modes``), the fit's input interface and checks (``_inputs``,
``_checks``) and the dask backend (``_dask``, a leaf). Imports only NumPy,
SciPy, :mod:`skduo._vocabulary` and :mod:`skduo.utils`; no estimators, no torch.
"""
