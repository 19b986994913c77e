"""Generative calorimeter simulation (CaloGAN): a trained shower generator in the ``calogan`` geometry.

``model`` (torch modules, imported lazily), ``train`` (the training command),
``generator`` (loading an artefact, batched inference), ``simulation`` (the
``CaloGanSimulation`` plugin), ``shapes`` (shower-shape variables in numpy),
``validate`` (the validation command), ``noise`` (latent noise from the
per-event random streams), ``safetensors_io`` (weights files through safetensors).
"""
