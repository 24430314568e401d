"""The duplicate-time index: times seen so far in compact sorted runs."""

from __future__ import annotations

import numpy as np


class _SeenTimes:
    """Times seen so far, as sorted int64 runs merged like a binary counter.

    O(log n) runs and O(n log n) total work; 12 bytes a row (int64 time, int32
    line), so a million-row file costs about 12 MB here whatever its order, plus
    about as much again for a moment while the largest runs merge.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: list[int], lines: list[int]) -> dict[int, int]:
        """Remember new keys; return {index in batch: line where first seen}."""
        first_index: dict[int, int] = {}  # key -> index of its first row in the batch
        for index, key in enumerate(keys):
            first_index.setdefault(key, index)
        size = len(first_index)
        fresh = np.fromiter(first_index, dtype=np.int64, count=size)
        where = np.fromiter(first_index.values(), dtype=np.int64, count=size)
        known = self._lookup(fresh)
        earlier = {
            int(key): int(line)
            for key, line in zip(fresh[known > 0], known[known > 0], strict=True)
        }
        repeats: dict[int, int] = {}
        for index, key in enumerate(keys):
            if key in earlier:
                repeats[index] = earlier[key]
            elif first_index[key] != index:
                repeats[index] = lines[first_index[key]]
        keep = known == 0
        self._push(fresh[keep], np.asarray(lines, dtype=np.int64)[where[keep]])
        return repeats

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        """Line of first sight for each key, 0 when never seen (lines start at 1)."""
        found = np.zeros(keys.size, dtype=np.int64)
        for run_keys, run_lines in self._runs:
            pos = np.searchsorted(run_keys, keys).clip(max=run_keys.size - 1)
            hit = run_keys[pos] == keys
            found[hit] = run_lines[pos[hit]]
        return found

    def _push(self, keys: np.ndarray, lines: np.ndarray) -> None:
        if keys.size == 0:
            return
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], lines[order].astype(np.int32)))
        while (
            len(self._runs) > 1 and self._runs[-2][0].size <= 2 * self._runs[-1][0].size
        ):
            newer, older = self._runs.pop(), self._runs.pop()
            self._runs.append(_merge(older, newer))


def _merge(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted runs with disjoint keys in O(n), without a full sort.

    Each key of ``b`` lands at its rank in ``a`` plus its own index; ``a`` fills the
    remaining slots. Temporary memory is one index array, not a sort's copies.
    """
    (ka, la), (kb, lb) = a, b
    slots = np.searchsorted(ka, kb) + np.arange(kb.size)
    keys = np.empty(ka.size + kb.size, dtype=np.int64)
    lines = np.empty(keys.size, dtype=np.int32)
    from_a = np.ones(keys.size, dtype=bool)
    from_a[slots] = False
    keys[slots], lines[slots] = kb, lb
    keys[from_a], lines[from_a] = ka, la
    return keys, lines
