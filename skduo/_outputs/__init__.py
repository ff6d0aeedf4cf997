"""Layer 2, model outputs as logits.

Which kind of output an array holds and its conversion to logits in row
blocks (``_kinds``), the operations on logits (``_logit_ops``: softmax,
combination, the probability tolerance), reading one member (``_member``:
sklearn estimators, skorch nets, ``as_member``), torch members and their
inference loop (``_torch``), the rows of any input (``_inputs``) and the
logits cache with its fingerprints (``_cache``, ``_fingerprint``). Imports
layer 1, :mod:`skduo._vocabulary` and :mod:`skduo.utils`; never torch at
module level.
"""
