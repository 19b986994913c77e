"""Machine learning in the chain: datasets, models, training and batched inference (PyTorch).

torch is optional (the ``ml`` extra): it is imported lazily through
:mod:`hepreco.framework.extras`, so the default chain runs without it.
"""
