"""Level-1 neural networks on FPGAs: hls4ml conversion and a bit-exact fixed-point emulator.

``fixed`` (ap_fixed arithmetic on int64 raw values), ``emulator`` (the
whole-network inference), ``hls`` (the hls4ml bridge, needed only to convert
and validate), ``artefact`` (the ``l1nn`` file), ``l1nn`` (the
``L1NeuralNetwork`` plugin), ``l1_inputs`` (the ``L1NNEventInputs`` plugin:
per-event inputs of the L1 network item), and the commands ``derive``,
``compare``, ``study``, ``jet_data`` (the jet tagger's training arrays) and
``l1_data`` (the L1 item's training arrays and its rate-efficiency comparison).
Shipped artefacts in ``data/``: ``l1nn-tagger`` (hls4ml's jet tagger on our
jets) and ``l1nn-ttbar`` (the L1 item's network).
"""
