"""Trigger: the Level-1 calorimeter trigger (towers, EM/tau, jets, energy sums) and the trigger menu.

Kernels (pure functions on arrays) are in ``towers``, ``windows``,
``em_tau`` and ``jet_elements``, re-exported by ``kernels``; the plugin
classes are ``l1calo.L1CaloTrigger`` (cells to L1 objects),
``decision.L1TriggerMenu`` (L1 items, prescales, streams: the
``TriggerDecision``) and ``decision.TriggerDecisionFilter``; the HLT (chain
seeds, hypotheses, missing E_T, ``HLTTriggerMenu``) is in ``hlt``; the menu
file format is in ``menu``, the end-of-job trigger summary in ``summary``,
rates from minimum bias and pT-hat slices (and their command) in ``rates``
and efficiency turn-on curves in ``efficiency``.
"""
