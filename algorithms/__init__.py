"""hepreco.algorithms: physics kernels and the plugin classes around them.

Each domain is a sub-package with pure numba/numpy kernels in ``kernels.py``
(arrays in, arrays out) and thin plugin classes beside them.

==============  ==============================================================
package         contents
==============  ==============================================================
``generation``  PythiaSource (Pythia 8 via pythia8mc), TruthHistograms
``_numba``      the one numba policy (``jit``: cache=True, nogil)
==============  ==============================================================
"""
