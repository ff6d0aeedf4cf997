"""Layer 4, the estimators: what they share (``_base``), ``DuoClassifier``
(``_duo``), the baselines (``_baselines``) and the metadata routing of their
fit (``_routing``). Imports layers 1-3.
"""
