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

