"""Level-1 neural networks on FPGAs: hls4ml conversion and a bit-exact fixed-point emulator.

``fixed`` (ap_fixed arithmetic on int64 raw values), ``emulator`` (the
whole-network inference), ``hls`` (the hls4ml bridge, needed only to convert
and validate), ``artefact`` (the ``l1nn`` file), ``l1nn`` (the
``L1NeuralNetwork`` plugin), and the commands ``derive``, ``compare`` and
``study``.
"""
