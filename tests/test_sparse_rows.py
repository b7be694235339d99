"""The weighted sum of CSR rows that ranking uses instead of SciPy's row indexing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from retrieval.sparse_rows import weighted_row_sum


@pytest.mark.parametrize("rows", [[], [3], [0, 0, 2], [5, 1, 4, 4, 0], [2]])
def test_weighted_row_sum_equals_scipys_product(rows: list[int]) -> None:
    rng = np.random.default_rng(len(rows))
    dense = rng.random((6, 9)) * (rng.random((6, 9)) < 0.4)
    dense[2] = 0.0  # a row with no stored entry
    matrix = sparse.csr_matrix(dense.astype(np.float32))
    weights = rng.random(len(rows)).astype(np.float32)
    got = weighted_row_sum(matrix, np.asarray(rows, dtype=np.int64), weights)
    assert got.dtype == np.float32 and got.shape == (9,)
    assert np.allclose(got, weights @ dense[rows] if rows else 0.0, atol=1e-6)


def test_suggestion_context_of_an_absent_dialog_equals_the_ranking_path() -> None:
    from retrieval.turn_memory import TurnMemory

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 4)).astype(np.float32)
    memory = TurnMemory.of(vectors, [[0], [1, 2], [0], [], [2]], [0, 0, 1, 2, 2], n_items=4)
    query = rng.normal(size=4).astype(np.float32)
    assert np.allclose(memory.context_scores(query), memory.context_scores(query, leave_out=99))
