"""Layer 4, the array API: the fits on arrays of logits (``_fits``:
``fit_duo`` and friends), the fitted :class:`~skduo.LogitEnsemble`
(``_ensemble``), its input checks (``_checks``) and its row-block prediction
(``_predict``). Imports layers 1-3.
"""
