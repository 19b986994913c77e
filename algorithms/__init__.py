"""hepreco.algorithms: physics kernels and the plugin classes around them.

Layout: each domain is a sub-package.  Kernels are pure functions (arrays in,
arrays out: no store, no logging, no I/O, no configuration) in modules named
for their idea; the domain's ``kernels.py`` is the one namespace they are
imported from (it re-exports them; in ``jets`` it also holds the
generalised-kt clustering itself).  Plugin classes (algorithms, services,
sources) live in their own modules beside them, read the store, call the
kernels and put the products.  Jagged collections reach the kernels as flat
columns plus per-event offsets through :mod:`.arrays`.

===============================  ===============================================================
module                           contents
===============================  ===============================================================
``arrays``                       jagged awkward records <-> flat numpy columns + int64 offsets
``_numba``                       the one numba policy (``jit``: cache=True, nogil)
``_random``                      per-event random streams inside kernels (xoroshiro128++)
``generation.pythia_source``     ``PythiaSource``: Pythia 8 events via pythia8mc, re-seeded per event
``generation.truth_histograms``  ``TruthHistograms``: multiplicity, pT and eta of truth particles
``generation.kernels``           ``overlay``: Poisson(mu) library interactions added per event (pile-up)
``generation.minbias``           the minimum-bias library artefact; ``MinBiasLibraryDeriver``
``generation.pileup``            ``PileupOverlay``: in-time pile-up from the library, before the simulation
``calo.kernels``                 the calorimeter kernels in one namespace
``calo.geometry``                ``Geometry`` (cells, layers, neighbour graphs), YAML loading, lookup
``calo.simulation``              ``simulate``: parametrised EM, hadronic and muon showers into cells
``calo.profiles``                longitudinal (incomplete gamma) and lateral (Gaussian) shower shapes
``calo.digitisation``            ADC digitisation with noise, cell building, noise cut, cell status
``calo.conditions``              ``make_conditions``: toy pedestals, gains, noise, dead cells
``calo.calibration``             ``derive_em_scale``: the global EM-scale constant
``calo.gun``                     ``particle_gun``: single-particle inputs; particle masses, charges
``calo.resolution``              cone sums and the sigma/E = a/sqrt(E) (+) b/E (+) c fit
``calo.services``                plugins ``GeometrySvc``, ``ConditionsSvc`` (HDF5 conditions, run IOVs)
``calo.sources``                 plugins ``ParticleGunSource``, ``CaloGanSource``
``calo.outputs``                 plugin ``CaloGanOutput``: CaloGAN-format HDF5 files; cells <-> CaloGAN images
``calo.cell_chain``              plugins ``FastCaloSim``, ``CaloDigitiser``, ``CaloCellBuilder``
``calo.response``                plugin ``CaloResponse``: single-particle response and resolution
``calo.cell_histograms``         plugins ``CaloCellHistograms``, ``CaloEventDisplay``
``clusters.kernels``             the clustering kernels in one namespace
``clusters.topo``                ``topo_cluster``: ATLAS 4-2-0 topological clustering of dense cells
``clusters.links``               ``CellLinks``: flat (cluster, cell, weight) links with offsets
``clusters.splitting``           ``split_clusters``: splitting at local maxima, shared cells
``clusters.moments``             ``cluster_moments``: kinematics, significance, depth, shapes
``clusters.cells``               shared input checks (energy, noise, neighbour graph), cell tables
``clusters.cluster_maker``       plugin ``TopoClusterMaker``
``clusters.calibration``         local hadronic calibration: ``LocalHadronicCalibration``, deriver
``egamma.kernels``               the e/gamma kernels in one namespace
``egamma.shapes``                ``shower_shapes``: R_had, R_eta, R_phi, w_eta2, f1, f3, w_stot, E_ratio
``egamma.windows``               ``cell_windows``: a layer's cells in an eta x phi window, native size
``egamma.matching``              ``phi_at_radius``, ``leading_matched``: a gun particle's cluster
``egamma.shower_shapes``         plugin ``EgammaShowerShapes``
``egamma.dataset``               plugins ``EgammaDatasetMaker``, ``RegressionDatasetMaker``, ``ClusterDatasetMaker``
``jets.kernels``                 generalised-kt clustering identical to FastJet; all jet kernels
``jets.substructure``            mass, N-subjettiness, energy correlators, soft drop (numba)
``jets.images``                  jet images with the standard preprocessing (numba)
``jets.tagging_features``        kt splitting scales, KtDR, z_cut, Q_w, planar flow, angularity, ... (numba)
``jets.labelling``               truth labels W / Z / top / QCD by containment; gluon / light quark (numba)
``jets.hls4ml_features``         the 16 features of hls4ml's jet dataset (numba)
``jets.hls4ml_dataset``          plugin ``Hls4mlJetDatasetMaker``: g, q, W, Z, top records with those features
``jets.constituent_sets``        padded pT-ordered constituent sets relative to the jet axis
``jets.jet_datasets``            plugins ``JetTruthLabeller`` and ``JetDatasetMaker``; ``pt_flat_weights``
``jets.jet_finder``              plugins ``JetFinder`` (anti-kt, kt, C/A) and ``JetTruthMatcher``
``jets.jet_shapes``              plugins ``JetSubstructure`` and ``JetImages``
``jets.calibration``             jet energy scale: ``JetCalibration``, ``JetCalibrationDeriver``
``jets.jet_histograms``          plugins ``JetHistograms`` and ``JetResponse``
``ml.splits``                    ``split_of``: train/validation/test split as a pure function of (run, event)
``ml.data``                      datasets (HDF5 record streams) to arrays per split; the shared preprocessing
``ml.models``                    pure torch models: ``MLP``, ``JetImageCNN``, EFN, PFN, ``CellNet``
``ml.config``                    training configurations: schema and validation with file:line errors
``ml.training``                  ``hepreco train``: deterministic training, artefact, metrics.json, plots
``ml.metrics``                   ROC, AUC, background rejection, distance correlation, response (numpy)
``ml.artefact``                  model artefacts: safetensors weights + JSON metadata, checked on load
``ml.runtime``                   torch under the job's thread policy; batched forward passes
``ml.inference``                 plugins ``JetTagger``, ``EgammaIdentifier``, ``CaloEnergyRegression``
``ml.performance``               models against cut-based, shower-shape and linear baselines on the test split
``trigger.kernels``              the Level-1 calorimeter kernels in one namespace
``trigger.towers``               ``tower_map`` (cells to 0.1 x 0.1 towers, cached), ``tower_counts`` (quantised E_T)
``trigger.windows``              2 x 2 core sums, the local-maximum rule with its tie-breaking, window sums
``trigger.em_tau``               ``em_tau``: EM/tau clusters, isolation rings, hadronic core
``trigger.jet_elements``         jet elements, sliding-window L1 jets, missing and total E_T
``trigger.l1calo``               plugin ``L1CaloTrigger``: cells to ``L1CaloTowers``, ``L1EmTau``, ``L1Jets``, sums
``trigger.products``             awkward records and jagged records from flat columns, through their layouts
``trigger.menu``                 the menu file: L1 items, HLT chains, isolation, prescale sets, streams; prescales
``trigger.decision``             plugins ``L1TriggerMenu`` (the ``TriggerDecision``), ``TriggerDecisionFilter``
``trigger.hlt``                  plugins ``HLTSeed``, hypotheses, ``MissingETMaker``, ``HLTTriggerMenu`` (HLT level)
``trigger.rates``                rates from minimum bias and weighted pT-hat slices; ``TriggerRates``; the command
``trigger.efficiency``           plugin ``TriggerEfficiency``: turn-on curves, the 99%-of-plateau point
``trigger.summary``              the trigger summary of the report (per item and chain counts, rate, time)
``fpga.fixed``                   ``FixedType``: ap_fixed<W,I,Q,O> conversions on int64 raw values (numba)
``fpga.emulator``                ``Network``: bit-exact fixed-point inference of hls4ml dense networks
``fpga.hls``                     hls4ml bridge: explicit types, cached compile, reading the generated C++
``fpga.artefact``                the ``l1nn`` artefact (JSON): integer weights, types, tables, hls4ml record
``fpga.l1nn``                    plugin ``L1NeuralNetwork``: the emulated network's scores per chunk
``fpga.l1_inputs``               plugin ``L1NNEventInputs``: 16 per-event L1 quantities for the network item
``fpga.jet_data``                command: the jet tagger's training arrays from the dataset jobs
``fpga.l1_data``                 command: the L1 item's training arrays; its rate against threshold items
``fpga.derive``                  command: train a small network, convert, validate, write the artefact
``fpga.compare``                 command: float model, hls4ml C++ model and emulator on the same inputs
``fpga.study``                   command: pruning, quantisation and reuse-factor estimates (PNG, table)
``calogan.model``                 conditional shower generator (per-layer image heads) and critic (torch, lazy)
``calogan.train``                 ``python -m hepreco.algorithms.calogan.train CONFIG``: adversarial training
``calogan.generator``             loads the generator artefact; batched generation under inference_mode
``calogan.simulation``            plugin ``CaloGanSimulation``: generated showers as ``CaloHits``
``calogan.noise``                 latent normals from per-event seeds (counter-based, vectorised)
``calogan.shapes``                CaloGAN shower-shape variables, Wasserstein-1, response (numpy)
``calogan.validate``              ``python -m hepreco.algorithms.calogan.validate``: figures, AUC, table
``calogan.safetensors_io``        the generator's safetensors weights files, through the safetensors package
===============================  ===============================================================

Data files (geometries, calibration tables) are in each sub-package's
``data/`` folder.
"""
import os as _os

from hepreco.framework.artefacts import cache_dir as _cache_dir

# numba's on-disk kernel cache goes to the user's cache folder, not into the package's __pycache__
# folders: running a job writes nothing into the installed package or the source tree.  Set here,
# before any kernel module imports numba; a NUMBA_CACHE_DIR set by the user wins.
_os.environ.setdefault("NUMBA_CACHE_DIR", _os.path.join(_cache_dir(), "numba"))
