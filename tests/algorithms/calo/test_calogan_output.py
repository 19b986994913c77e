"""CaloGanOutput writes the CaloGAN HDF5 format, and CaloGanSource reads it back."""
import glob

import awkward as ak
import h5py
import numpy as np
import pytest

from hepreco.algorithms.calo.outputs import cells_to_layers, layers_to_cells
from hepreco.framework import ConfigurationError

from ...conftest import build_job, run_job
from .test_calo_chain import read_stream

GUN = """\
source:
  type: ParticleGunSource
  pdg_ids: [-11, 22, 211]
  energy_range: [1.0, 100.0]
  log_energy: false
  eta_range: [0.0, 0.0]
  phi_range: [0.0, 0.0]
services: {GeometrySvc: {geometry: calogan}}
"""


def test_showers_round_trip_through_calogan_files(tmp_path, write_job):
    out = tmp_path / "sim"
    run_job(write_job(f"""\
job: {{evt_max: 12, chunk_size: 5, output_dir: {out}, progress: false}}
{GUN}
algorithms: [{{type: FastCaloSim, b_field: 0.0}}]
outputs:
  - {{type: CaloGanOutput, name: showers}}
  - {{type: CaloGanOutput, name: eplus, pdg_ids: [-11]}}
  - {{type: Hdf5Output, name: Hits, collections: [CaloHits, TruthParticles]}}
"""))
    hits = read_stream(out, "Hits")
    energy = np.concatenate([ak.to_numpy(part.E[:, 0]) for part in hits["TruthParticles"]])
    files = sorted(glob.glob(str(out / "showers" / "*.h5")))
    assert len(files) == 3  # one part per work item
    with h5py.File(files[0]) as f:
        shapes = {k: (f[k].shape, f[k].dtype) for k in f}
        assert f["pdg_id"][()].tolist() == [-11, 22, 211, -11, 22]
    assert shapes == {"layer_0": ((5, 3, 96), np.float32), "layer_1": ((5, 12, 12), np.float32),
                      "layer_2": ((5, 12, 6), np.float32), "energy": ((5, 1), np.float32),
                      "overflow": ((5, 3), np.float32), "pdg_id": ((5,), np.int32)}
    with h5py.File(sorted(glob.glob(str(out / "eplus" / "*.h5")))[0]) as f:
        assert f["pdg_id"][()].tolist() == [-11, -11]  # events 0 and 3 of the first chunk
        np.testing.assert_allclose(f["energy"][:, 0], energy[[0, 3]], rtol=1e-6)

    back = tmp_path / "read"
    run_job(write_job(f"""\
job: {{evt_max: -1, chunk_size: 4, output_dir: {back}, progress: false}}
source: {{type: CaloGanSource, files: [{out / "showers"}]}}
services: {{GeometrySvc: {{geometry: calogan}}}}
algorithms: []
outputs: [{{type: Hdf5Output, name: Cells, collections: [CaloCells, TruthEnergy]}}]
""", "read.yaml"))
    cells = read_stream(back, "Cells")
    assert hits["CaloHits"].shape == cells["CaloCells"].shape == (12, 504)
    assert hits["CaloHits"].sum() > 100.0  # real showers, not zeros
    np.testing.assert_allclose(cells["CaloCells"], hits["CaloHits"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cells["TruthEnergy"], energy, rtol=1e-6)


def test_cells_and_calogan_images_convert_both_ways():
    rng = np.random.default_rng(3)
    cells = rng.random((4, 504)).astype(np.float32)
    layers = cells_to_layers(cells, 1000.0)
    assert [layers[k].shape for k in ("layer_0", "layer_1", "layer_2")] == [(4, 3, 96), (4, 12, 12), (4, 12, 6)]
    # cell id = offset + ieta * n_phi + iphi; the image is (phi row, eta column)
    assert layers["layer_1"][2, 5, 7] == pytest.approx(cells[2, 288 + 7 * 12 + 5] * 1000.0)
    np.testing.assert_allclose(layers_to_cells(layers, 0.001), cells, rtol=1e-6)


def test_calogan_output_refuses_combined_files_and_bad_collections(tmp_path, write_job):
    base = f"job: {{evt_max: 4, output_dir: {tmp_path / 'o'}, progress: false}}\n{GUN}" \
           "algorithms: [{type: FastCaloSim}]\n"
    with pytest.raises(ConfigurationError, match=r"showers: CaloGAN files are written one per work item; unset "
                       r"events_per_file"):
        build_job(write_job(base + "outputs: [{type: CaloGanOutput, name: showers, events_per_file: 100}]"))
    with pytest.raises(ConfigurationError, match=r"showers.collections: expected \[cells key, particles or energy "
                       r"key\], got \['CaloHits'\]"):
        build_job(write_job(base + "outputs: [{type: CaloGanOutput, name: showers, collections: [CaloHits]}]"))
