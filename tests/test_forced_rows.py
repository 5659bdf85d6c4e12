"""The rows a teacher-forced pass shares between targets that begin alike, and how targets
are grouped into batches, worked out by hand (no model)."""

from curation.llm.forced_rows import pack_rows, shared_rows


def test_targets_that_begin_alike_share_their_rows():
    rows, owners = shared_rows([[1, 2, 3], [1, 2, 4], [1, 5], [6]], [16, 17, 18, 19], base=10)
    # [1] for all three that begin with it, [1, 2] for two; [6] predicts nothing after itself
    assert rows == [((16, 17, 18), 1, 10, True), ((16, 17), 2, 11, True)]
    assert owners == [(0, 1, 0), (0, 2, 1), (1, 1, 0), (1, 2, 1), (2, 1, 0)]


def test_targets_are_packed_in_order_within_the_batch_and_the_sequence_limit():
    # capacity 8, at most 2 a group: 3+4 fit; 2 then 9 overflow; 9 is over the capacity and
    # stands alone; 1 and an empty 0 share; the last opens a group because 2 are already there
    assert pack_rows([3, 4, 2, 9, 1, 0, 1], capacity=8, most=2) == [[0, 1], [2], [3], [4, 5], [6]]
    assert pack_rows([], capacity=8, most=2) == []
