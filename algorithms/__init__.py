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
``jets.kernels``                 generalised-kt clustering identical to FastJet; all jet kernels
``jets.substructure``            mass, N-subjettiness, energy correlators, soft drop (numba)
``jets.images``                  jet images with the standard preprocessing (numba)
``jets.jet_finder``              plugins ``JetFinder`` (anti-kt, kt, C/A) and ``JetTruthMatcher``
``jets.jet_shapes``              plugins ``JetSubstructure`` and ``JetImages``
``jets.calibration``             jet energy scale: ``JetCalibration``, ``JetCalibrationDeriver``
``jets.jet_histograms``          plugins ``JetHistograms`` and ``JetResponse``
``ml.splits``                    ``split_of``: train/validation/test split of events from (run, event)
``calogan.model``                 conditional shower generator (per-layer image heads) and critic (torch, lazy)
``calogan.train``                 ``python -m hepreco.algorithms.calogan.train CONFIG``: adversarial training
``calogan.generator``             loads the generator artefact; batched generation under inference_mode
``calogan.simulation``            plugin ``CaloGanSimulation``: generated showers as ``CaloHits``
``calogan.noise``                 latent normals from per-event seeds (counter-based, vectorised)
``calogan.shapes``                CaloGAN shower-shape variables, Wasserstein-1, response (numpy)
``calogan.validate``              ``python -m hepreco.algorithms.calogan.validate``: figures, AUC, table
``calogan.safetensors_io``        safetensors files read and written with numpy
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
