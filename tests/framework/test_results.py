"""Item-ordered merging of work-item results, holding no per-item order."""
from __future__ import annotations

from hepreco.framework.job import ItemResult
from hepreco.framework.results import ResultMerger, item_order


def _result(index: int, error: str) -> ItemResult:
    return ItemResult(index, 10 * index, 10 * index + 10, n_read=10, n_accepted=index, errors=[error])


def test_consecutive_indices_in_any_order_are_held_as_a_range():
    assert item_order([3, 0, 2, 1]) == range(0, 4)
    assert isinstance(item_order(iter([5, 6, 7])), range)
    assert item_order([]) == []


def test_indices_with_a_gap_or_a_repeat_are_held_as_a_sorted_list():
    assert item_order([4, 0, 2]) == [0, 2, 4]
    assert item_order([1, 0, 1]) == [0, 1, 1]


def test_results_arriving_out_of_order_are_merged_in_item_order_and_only_early_ones_wait():
    merged = ResultMerger(range(4))
    merged.add(_result(2, "c"))
    merged.add(_result(1, "b"))
    assert merged.waiting == 2 and merged.items == 0
    merged.add(_result(0, "a"))
    assert merged.waiting == 0 and merged.items == 3
    merged.add(_result(3, "d"))
    assert merged.errors == ["a", "b", "c", "d"]
    assert (merged.n_read, merged.n_accepted, merged.processed) == (40, 6, 40)


def test_irregular_indices_and_a_lost_item_still_merge_in_item_order():
    merged = ResultMerger(iter([7, 3, 5]))
    merged.add(_result(7, "late"))
    merged.skip(3)
    assert merged.waiting == 1
    merged.add(_result(5, "first"), resumed=True)
    assert merged.errors == ["first", "late"]
    assert (merged.items, merged.processed) == (2, 10)



def test_client_memory_does_not_grow_with_the_number_of_work_items(tmp_path, monkeypatch):
    """What the client holds at the end of a job of 600 items is what it holds after 100 (no per-item state)."""
    import gc
    import tracemalloc

    from hepreco.framework import manifest
    from tests.conftest import run_job

    job_text = """\
job: {{name: flat, evt_max: {n}, chunk_size: 1, seed: 7, output_dir: {out}, progress: false,
      plugins: [tests.framework.components]}}
source: {{type: ToySource, mean_multiplicity: 2.0}}
algorithms: [{{type: SumPt}}]
outputs: [{{type: Hdf5Output, name: H5, collections: [SumPt]}}]
"""
    held = []
    close = manifest.Manifest.close

    def measured_close(self, *args, **kwargs):  # the job is complete; everything the client keeps is alive
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0])
        return close(self, *args, **kwargs)

    monkeypatch.setattr(manifest.Manifest, "close", measured_close)

    def memory(n: int) -> int:
        path = tmp_path / f"flat{n}.yaml"
        path.write_text(job_text.format(n=n, out=tmp_path / f"out{n}"))
        gc.collect()
        tracemalloc.start()
        try:
            report = run_job(str(path))
        finally:
            tracemalloc.stop()
        assert report["items"]["completed"] == n
        return held[-1]

    memory(20)  # imports and first-use caches outside the measurement
    small, large = memory(100), memory(600)
    # the manifest entries and parts of 500 more items kept in memory were ~0.5 MB (1 kB each)
    assert (large - small) / 500 < 100, f"{(large - small) / 500:.0f} bytes per work item"
