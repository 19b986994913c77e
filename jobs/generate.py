"""The generate job (jobs/generate.yaml) written as Python job options.

    hepreco run jobs/generate.py --evt-max 100
"""
from hepreco.framework.config import Alg, Job, Source, Stream, Svc

job = Job(
    name="generate-py",
    evt_max=200,
    chunk_size=50,
    seed=12345,
    output_dir="output/generate-py",
    source=Source("PythiaSource", beam_energy=6800.0,
                  settings=["HardQCD:all = on", "PhaseSpace:pTHatMin = 50."]),
    algorithms=[Alg("TruthHistograms")],
    services=[Svc("HistogramSvc", file="histograms.root", png=True)],
    outputs=[Stream("RootOutput", name="Truth", collections=["TruthParticles", "EventWeights"])],
)
