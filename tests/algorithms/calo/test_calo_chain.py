"""The calorimeter chain as plugins: closure, noise, executors, files, conditions, CaloGAN."""
import glob
import json
import os

import h5py
import numpy as np
import pytest

from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.resolution import fit_resolution, resolution_model
from hepreco.algorithms.calo.services import read_conditions, write_conditions
from hepreco.algorithms.calo.conditions import make_conditions
from hepreco.framework import ConfigurationError, JobAborted
from hepreco.framework.io.hdf5 import read_hdf5

from ...conftest import build_job, run_job
from ...framework.outputs import histograms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
JOBS = os.path.join(ROOT, "jobs")


def read_stream(out, stream):
    merged = {}
    for path in sorted(glob.glob(os.path.join(out, stream, "part-*.h5"))):
        ids, data = read_hdf5(path)
        for k, v in {"event": ids["event"], **data}.items():
            merged.setdefault(k, []).append(v)
    return {k: np.concatenate([np.asarray(x) for x in v]) if not hasattr(v[0], "layout") else v
            for k, v in merged.items()}


GUN = """\
job: {{evt_max: {n}, chunk_size: {chunk}, output_dir: {out}, progress: false}}
source:
  type: ParticleGunSource
  pdg_ids: {pdg}
  energies: {energies}
  eta_range: [-0.6, 0.6]
services:
  GeometrySvc: {{geometry: {geometry}}}
  HistogramSvc: {{png: false}}
{services}
algorithms:
  - {{type: FastCaloSim}}
  - {{type: CaloDigitiser}}
  - {{type: CaloCellBuilder}}
{extra}"""


def gun_job(write_job, out, n, pdg, energies, geometry="small", chunk=100, extra="", name="gun.yaml", services=""):
    return write_job(GUN.format(n=n, chunk=chunk, out=out, pdg=pdg, energies=energies, geometry=geometry,
                                extra=extra, services=services), name)


def expected_noise_term(geometry_name, cone):
    """b of the resolution: quadratic sum of the cell noise inside a cone at eta = 0 (GeV)."""
    from hepreco.algorithms.calo.services import ConditionsSvc

    g = load_geometry(geometry_name)
    noise = make_conditions(g, ConditionsSvc().seed, dead_fraction=0.0)["cell_noise"]
    dphi = np.angle(np.exp(1j * (g.phi - 0.3)))
    inside = g.eta ** 2 + dphi ** 2 < cone ** 2
    return float(np.sqrt((noise[inside] ** 2).sum()))


ENERGIES = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]


def closure(write_job, tmp_path, geometry, n_per_point, particles=(11, 22), gun_energies=ENERGIES):
    """Run the gun through the chain; ``gun_energies`` may repeat energies to give them more events."""
    out = str(tmp_path / f"closure-{geometry}")
    extra = f"  - {{type: CaloResponse, cone: 0.35, pdg_ids: {list(particles)}, energies: {ENERGIES}}}\n"
    n = n_per_point * len(gun_energies) * len(particles)
    # no dead cells: a shower core on a dead cell is a tail of its own, not part of the resolution terms
    job = gun_job(write_job, out, n, list(particles), list(gun_energies), geometry, chunk=500, extra=extra,
                  services="  ConditionsSvc: {dead_fraction: 0.0}\n")

    report = run_job(job)
    assert "calo_response.png" in report["summaries"]
    with open(os.path.join(out, "calo_response.json")) as f:
        return json.load(f)


def check_closure(summary, b_expected, events):
    for name in ("e", "gamma"):
        row = summary[name]
        print(f"{name}: mean {np.round(row['mean'], 4).tolist()}, fit {row['fit']}, expected b {b_expected:.3f}")
        assert row["events"] == events
        mean = np.array(row["mean"])
        assert np.all(np.abs(mean - 1.0) < 0.01), (name, mean)
        fit = row["fit"]
        assert abs(fit["a"] / 0.10 - 1) < 0.10, (name, fit)
        assert abs(fit["b"] / b_expected - 1) < 0.10, (name, fit, b_expected)
        assert abs(fit["c"] / 0.007 - 1) < 0.10, (name, fit)


def test_em_closure_and_resolution_small_geometry(write_job, tmp_path):
    """Electrons and photons, 7 energies 5-500 GeV, 400 events each, with noise: mean within 1%, a/b/c within 10%."""
    check_closure(closure(write_job, tmp_path, "small", 400), expected_noise_term("small", 0.35), [400] * 7)


@pytest.mark.slow
def test_em_closure_and_resolution_atlas_like(write_job, tmp_path):
    """The same closure on the default 201,600-cell geometry.

    Its cone holds 1.7 GeV of noise, so the low energies get more events (8,000 at
    5 GeV, 2,000 at 10 GeV, 1,000 above) to measure the mean to better than 0.4%.
    """
    gun = [5.0] * 8 + [10.0] * 2 + ENERGIES[2:]
    summary = closure(write_job, tmp_path, "atlas-like", 1000, gun_energies=gun)
    check_closure(summary, expected_noise_term("atlas-like", 0.35), [8000, 2000, 1000, 1000, 1000, 1000, 1000])


def test_pion_response_follows_the_configured_non_compensation(write_job, tmp_path):
    from hepreco.algorithms.calo.simulation import mean_pion_response

    summary = closure(write_job, tmp_path, "small", 100, particles=(211,))
    row = summary["pi+"]
    expected = np.array([mean_pion_response(e) for e in row["energy"]])
    # below e/h = 1: visible response ~0.65 at 10 GeV rising towards 0.8 at 500 GeV
    ratio = np.array(row["mean"]) / expected
    assert np.all(np.abs(ratio - 1) < 0.05), ratio
    assert row["mean"][1] < 0.75 and row["mean"][-1] > row["mean"][1]


def test_noise_only_cells_follow_gaussian_tails(write_job, tmp_path):
    """Neutrinos leave nothing: calibrated cells are pure noise."""
    out = str(tmp_path / "noise")
    extra = "outputs:\n  - {type: Hdf5Output, name: Cells, collections: [CaloCells, CaloCellStatus]}\n"
    run_job(gun_job(write_job, out, 200, [12], [50.0], extra=extra, chunk=100).replace(
        "  - {type: CaloCellBuilder}\n", "  - {type: CaloCellBuilder}\n"))
    from hepreco.algorithms.calo.services import ConditionsSvc

    g = load_geometry("small")
    cond = make_conditions(g, ConditionsSvc().seed)
    cells = read_stream(out, "Cells")["CaloCells"]
    live = ~cond["dead_mask"]
    significance = np.abs(cells[:, live]) / cond["cell_noise"][live]
    n = significance.size
    for k, expected in ((2, 0.0455003), (4, 6.33425e-5)):
        fraction = (significance > k).mean()
        error = np.sqrt(expected * (1 - expected) / n)
        assert abs(fraction - expected) < 4 * error, (k, fraction, expected, error)
    status = read_stream(out, "Cells")["CaloCellStatus"]
    assert ((status & 1).astype(bool) == cond["dead_mask"][None, :]).all()
    assert (cells[:, cond["dead_mask"]] == 0).all()


CHAIN = """\
job: {{evt_max: {n}, chunk_size: {chunk}, output_dir: {out}, progress: false}}
source: {{type: PythiaSource, settings: ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."]}}
services: {{GeometrySvc: {{geometry: small}}, HistogramSvc: {{png: false}}}}
algorithms:
  - {{type: FastCaloSim}}
  - {{type: CaloDigitiser}}
  - {{type: CaloCellBuilder}}
  - {{type: CaloCellHistograms}}
outputs:
  - {{type: Hdf5Output, name: Cells, collections: [TruthParticles, CaloCells, CaloRawADC, CaloCellStatus]}}
"""


@pytest.mark.parametrize("executor,workers,chunk", [("processes", 2, 4), ("dask", 2, 5)])
def test_calo_chain_identical_under_executors(tmp_path, write_job, executor, workers, chunk):
    ref, out = str(tmp_path / "ref"), str(tmp_path / "out")
    run_job(write_job(CHAIN.format(n=10, chunk=10, out=ref), "ref.yaml"))
    run_job(write_job(CHAIN.format(n=10, chunk=chunk, out=out), "run.yaml"), f"job.executor={executor}",
            f"job.workers={workers}")
    a, b = read_stream(ref, "Cells"), read_stream(out, "Cells")
    assert a["event"].tolist() == b["event"].tolist() == list(range(10))
    for key in ("CaloCells", "CaloRawADC", "CaloCellStatus"):
        assert np.array_equal(a[key], b[key]), key
    assert histograms(ref) == histograms(out)


def test_simulate_once_reconstruct_later(tmp_path, write_job):
    common = ["job.evt_max=6", "job.chunk_size=3", "GeometrySvc.geometry=small", "job.progress=false"]
    sim = str(tmp_path / "sim")
    run_job(os.path.join(JOBS, "simulate.yaml"), *common, f"job.output_dir={sim}")
    reco = write_job(f"""\
job: {{evt_max: -1, chunk_size: 4, output_dir: {tmp_path / 'reco'}, progress: false}}
source: {{type: Hdf5Source, files: [{sim}/Raw]}}
services: {{GeometrySvc: {{geometry: small}}}}
algorithms:
  - {{type: CaloCellBuilder}}
outputs:
  - {{type: Hdf5Output, name: Cells, collections: [CaloCells]}}
""")
    run_job(reco)
    once = str(tmp_path / "once")
    run_job(write_job(CHAIN.format(n=6, chunk=2, out=once), "once.yaml"))
    direct = read_stream(once, "Cells")
    later = read_stream(str(tmp_path / "reco"), "Cells")
    assert later["event"].tolist() == list(range(6))
    assert np.array_equal(direct["CaloCells"], later["CaloCells"])


def test_conditions_file_with_intervals_of_validity(tmp_path, write_job):
    g = load_geometry("small")
    first = make_conditions(g, 1)
    second = make_conditions(g, 2)
    second["pedestal"] = second["pedestal"] + 50.0
    path = str(tmp_path / "cond.h5")
    write_conditions(path, g, [(1, 1, first), (2, 5, second)])
    attrs, iovs = read_conditions(path)
    assert [(a, b) for a, b, _ in iovs] == [(1, 1), (2, 5)] and attrs["geometry"] == "small"
    outs = {}
    for run in (1, 3):
        out = str(tmp_path / f"run{run}")
        job = write_job(GUN.format(n=4, chunk=4, out=out, pdg=[12], energies=[10.0], geometry="small",
                                   extra="outputs:\n  - {type: Hdf5Output, name: Raw, collections: [CaloRawADC]}\n",
                                   services=f"  ConditionsSvc: {{file: {path}}}\n"),
                        f"run{run}.yaml")
        run_job(job, f"job.run={run}")
        outs[run] = read_stream(out, "Raw")["CaloRawADC"].astype(float)
    # noise-only events: the mean ADC per cell sits on the pedestal of the run's IOV
    for run, cond in ((1, first), (3, second)):
        live = ~cond["dead_mask"]
        assert abs((outs[run].mean(axis=0) - cond["pedestal"])[live].mean()) < 0.5
    job = write_job(GUN.format(n=2, chunk=2, out=tmp_path / "x", pdg=[11], energies=[10.0], geometry="small",
                               extra="", services=f"  ConditionsSvc: {{file: {path}}}\n"),
                    "norun.yaml")
    with pytest.raises(JobAborted, match=r"CaloDigitiser failed .*no conditions valid for run 9 .*"
                                         r"intervals of validity: 1-1, 2-5"):
        run_job(job, "job.run=9")


def test_conditions_for_another_geometry_are_refused(tmp_path, write_job):
    path = str(tmp_path / "atlas.h5")
    g = load_geometry("calogan")
    write_conditions(path, g, [(0, -1, make_conditions(g, 1))])
    job = write_job(GUN.format(n=2, chunk=2, out=tmp_path / "y", pdg=[11], energies=[10.0], geometry="small",
                               extra="", services=f"  ConditionsSvc: {{file: {path}}}\n"))
    with pytest.raises(ConfigurationError, match="was made for geometry 'calogan' .* not for 'small'"):
        run_job(job)


def test_unknown_geometry_name_is_a_configuration_error(write_job, tmp_path):
    job = gun_job(write_job, str(tmp_path / "z"), 2, [11], [10.0], geometry="atlas_like")
    with pytest.raises(ConfigurationError, match=r"gun.yaml:\d+: unknown geometry 'atlas_like' in GeometrySvc; "
                                                 r"did you mean 'atlas-like'"):
        run_job(job)


def test_particle_gun_is_deterministic_per_event_and_cycles_types(tmp_path, write_job):
    outs = []
    for chunk in (5, 3):
        out = str(tmp_path / f"gun{chunk}")
        job = write_job(f"""\
job: {{evt_max: 12, chunk_size: {chunk}, output_dir: {out}, progress: false}}
source: {{type: ParticleGunSource, pdg_ids: [11, 22, -211], energies: [5.0, 50.0], eta_range: [0.5, 1.0]}}
outputs: [{{type: Hdf5Output, name: Gun, collections: [TruthParticles]}}]
""", f"gun{chunk}.yaml")
        run_job(job)
        parts = [p for f in sorted(glob.glob(os.path.join(out, "Gun", "*.h5"))) for p in read_hdf5(f)[1]["TruthParticles"].tolist()]
        outs.append(parts)
    assert outs[0] == outs[1]
    first = [p[0] for p in outs[0]]
    assert [p["pdg_id"] for p in first[:6]] == [11, 22, -211, 11, 22, -211]
    assert [p["E"] for p in first[:6]] == [5.0, 5.0, 5.0, 50.0, 50.0, 50.0]
    assert [p["charge"] for p in first[:3]] == [-1.0, 0.0, -1.0]
    eta = [np.arcsinh(p["pz"] / np.hypot(p["px"], p["py"])) for p in first]
    assert min(eta) >= 0.5 and max(eta) <= 1.0


def write_calogan(path, n, seed):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f["layer_0"] = rng.exponential(10.0, (n, 3, 96)).astype(np.float32)
        f["layer_1"] = rng.exponential(100.0, (n, 12, 12)).astype(np.float32)
        f["layer_2"] = rng.exponential(5.0, (n, 12, 6)).astype(np.float32)
        f["energy"] = rng.uniform(1, 100, (n, 1)).astype(np.float32)


def test_calogan_files_map_onto_the_calogan_geometry(tmp_path, write_job):
    folder = tmp_path / "calogan"
    folder.mkdir()
    write_calogan(str(folder / "a.h5"), 7, 1)
    write_calogan(str(folder / "b.h5"), 5, 2)
    out = str(tmp_path / "out")
    job = write_job(f"""\
job: {{evt_max: -1, chunk_size: 4, output_dir: {out}, progress: false}}
source: {{type: CaloGanSource, files: [{folder}]}}
services: {{GeometrySvc: {{geometry: calogan}}}}
algorithms:
  - {{type: CaloCellHistograms}}
outputs: [{{type: Hdf5Output, name: Cells, collections: [CaloCells, TruthEnergy]}}]
""")
    report = run_job(job)
    assert report["events"]["read"] == 12
    assert read_stream(out, "Cells")["event"].tolist() == list(range(12))  # numbered across both files
    cells = read_stream(out, "Cells")["CaloCells"]
    g = load_geometry("calogan")
    assert cells.shape == (12, g.n_cells) == (12, 3 * 96 + 12 * 12 + 12 * 6)
    with h5py.File(folder / "a.h5") as f:
        images = [f[k][()] for k in ("layer_0", "layer_1", "layer_2")]
        energy = f["energy"][:, 0]
    for layer, image in enumerate(images):
        # pixel (row = phi index, column = eta index) -> the cell with those indices, MeV -> GeV
        row, col = 1, image.shape[2] - 2
        cell = np.flatnonzero((g.layer == layer) & (g.iphi == row) & (g.ieta == col))[0]
        np.testing.assert_allclose(cells[3, cell], image[3, row, col] * 1e-3, rtol=1e-6)
        np.testing.assert_allclose(cells[:7, g.layer_slice(layer)].sum(axis=1),
                                   image.sum(axis=(1, 2)) * 1e-3, rtol=1e-5)
    np.testing.assert_allclose(read_stream(out, "Cells")["TruthEnergy"][:7], energy, rtol=1e-6)


def test_a_file_that_is_not_calogan_is_refused_when_the_job_is_built(tmp_path, write_job):
    write_calogan(str(tmp_path / "a.h5"), 3, 1)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["layer_0"] = np.zeros((3, 3, 96))
    job = write_job(f"""\
job: {{evt_max: -1, output_dir: {tmp_path / "out"}, progress: false}}
source: {{type: CaloGanSource, files: [{tmp_path}]}}
services: {{GeometrySvc: {{geometry: calogan}}}}
algorithms: []
""")
    with pytest.raises(ConfigurationError, match=r"CaloGanSource: .*b\.h5: not a CaloGAN file \(missing "
                       r"\['layer_1', 'layer_2', 'energy'\]\)"):
        build_job(job)


def test_resolution_fit_recovers_known_terms():
    energy = np.array(ENERGIES)
    truth = {"a": 0.1, "b": 0.3, "c": 0.007}
    fit = fit_resolution(energy, resolution_model(energy, **truth))
    for key, value in truth.items():
        assert abs(fit[key] - value) < 1e-9


def test_cone_sums_match_a_numpy_reference_across_the_phi_wrap():
    from hepreco.algorithms.calo.resolution import cone_sums

    rng = np.random.default_rng(1)
    cells = rng.normal(size=(20, 5000)).astype(np.float32)
    cell_eta, cell_phi = rng.uniform(-2, 2, 5000), rng.uniform(-np.pi, np.pi, 5000)
    eta, phi = rng.uniform(-1, 1, 20), np.concatenate([[np.pi - 0.01, -np.pi + 0.01], rng.uniform(-3, 3, 18)])
    dphi = np.angle(np.exp(1j * (cell_phi[None, :] - phi[:, None])))
    inside = (cell_eta[None, :] - eta[:, None]) ** 2 + dphi ** 2 < 0.35 ** 2
    reference = np.where(inside, cells, 0).sum(axis=1, dtype=np.float64)
    np.testing.assert_allclose(cone_sums(cells, cell_eta, cell_phi, eta, phi, 0.35), reference, rtol=1e-12)


def test_default_conditions_are_made_when_the_job_is_built_and_recorded_by_sha256(write_job, tmp_path, monkeypatch):
    from hepreco.framework.artefacts import file_sha256, read_metadata

    from ...conftest import build_job

    monkeypatch.setenv("HEPRECO_CACHE", str(tmp_path / "cache"))
    job = build_job(gun_job(write_job, str(tmp_path / "out"), 2, [11], [10.0]))
    art = job.artefacts()["ConditionsSvc.file"]
    assert art.origin == "generated" and art.kind == "conditions" and art.geometry == "small"
    assert os.path.dirname(art.path) == str(tmp_path / "cache" / "conditions")  # made at build time, before any event
    assert art.sha256 == file_sha256(art.path)
    meta = read_metadata(art.path)
    assert (meta["seed"], meta["adc_bits"], meta["schema"]) == (20240601, 16, "hepreco-calo-conditions/1")
    other = build_job(gun_job(write_job, str(tmp_path / "out"), 2, [11], [10.0], name="seed.yaml",
                              services="  ConditionsSvc: {seed: 5}\n"))
    assert other.artefacts()["ConditionsSvc.file"].sha256 != art.sha256
    assert other.config_hash() != job.config_hash()


def test_conditions_named_as_an_artefact_of_another_geometry_fail_validation(tmp_path, write_job, monkeypatch):
    from hepreco.framework import ArtefactError

    from ...conftest import build_job

    monkeypatch.setenv("HEPRECO_ARTEFACTS", str(tmp_path / "user"))
    g = load_geometry("calogan")
    os.makedirs(tmp_path / "user")
    write_conditions(str(tmp_path / "user" / "c.h5"), g, [(0, -1, make_conditions(g, 1))], name="run2-conditions")
    job = gun_job(write_job, str(tmp_path / "z"), 2, [11], [10.0],
                  services="  ConditionsSvc: {file: run2-conditions}\n")
    with pytest.raises(ArtefactError, match=r"gun.yaml:\d+: ConditionsSvc.file: run2-conditions@1 was made for "
                                            r"geometry 'calogan' .*not for 'small', the geometry of this job"):
        build_job(job)
@pytest.mark.parametrize("file,message", [
    ("/no/such.h5", "the file '/no/such.h5' does not exist"),
    (os.path.join(ROOT, "algorithms", "jets", "data", "jes-small.h5"), "is a 'jes' artefact; ConditionsSvc.file needs a 'conditions' artefact"),
])
def test_validate_refuses_conditions_files_run_would_refuse(write_job, capsys, file, message):
    from hepreco.framework.cli import main

    with open(os.path.join(JOBS, "main.yaml")) as f:
        text = f.read()
    line = text[:text.index("  ConditionsSvc: {}")].count("\n") + 1
    path = write_job(text.replace("  ConditionsSvc: {}", f"  ConditionsSvc: {{file: {file}}}"))
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hepreco: error: {path}:{line}: ConditionsSvc.file: ") and message in err
