"""The rows a teacher-forced pass shares between targets that begin alike, by hand."""

import pytest

from curation.llm.forced_rows import shared_rows


@pytest.mark.model  # as it was in tests/test_embedded.py (module-wide there); it loads no model
def test_targets_that_begin_alike_share_their_rows():
    rows, owners = shared_rows([[1, 2, 3], [1, 2, 4], [1, 5], [6]], [16, 17, 18, 19], base=10)
    # [1] for all three that begin with it, [1, 2] for two; [6] predicts nothing after itself
    assert rows == [((16, 17, 18), 1, 10, True), ((16, 17), 2, 11, True)]
    assert owners == [(0, 1, 0), (0, 2, 1), (1, 1, 0), (1, 2, 1), (2, 1, 0)]
