"""Which rows teacher-force several continuations of one context: pure bookkeeping, no model.

In: the continuations' tokens, each in a sequence of its own that shares the context's KV
cells, and a decode batch's limits. Out: the continuations grouped so that each group fits one
batch (:func:`pack_rows`), and a group's decode rows with, per predicted token, the row whose
logits predict it (:func:`shared_rows`): a beginning several continuations share is one row,
decoded once for all of their sequences. :meth:`~curation.llm.engine.Engine.continuation_logprobs`
decodes them.
"""

from __future__ import annotations


def shared_rows(
    targets: list[list[int]], seqs: list[int], base: int, *, share: bool = True
) -> tuple[list[tuple[tuple[int, ...], int, int, bool]], list[tuple[int, int, int]]]:
    """The decode rows that teacher-force ``targets`` (one sequence each, ``seqs``) after a
    context of ``base`` tokens, one row per distinct beginning (a trie: a row belongs to the
    sequences of every target that begins so, and comes before the rows that extend it; with
    ``share`` off, one row per target token); and per predicted token ``(target, position,
    row)``, the row whose logits predict it."""
    index: dict[tuple[int, ...], int] = {}
    members: list[list[int]] = []
    rows: list[tuple[int, int]] = []
    owners: list[tuple[int, int, int]] = []
    for k, target in enumerate(targets):
        for i in range(len(target) - 1):
            key = tuple(target[: i + 1]) if share else (k, i)
            if key not in index:
                index[key] = len(rows)
                rows.append((target[i], base + i))
                members.append([])
            members[index[key]].append(seqs[k])
            owners.append((k, i + 1, index[key]))
    return [(tuple(m), token, pos, True) for m, (token, pos) in zip(members, rows)], owners


def pack_rows(sizes: list[int], capacity: int, most: int) -> list[list[int]]:
    """Consecutive indices grouped so that each group's sizes add up to at most ``capacity``
    and a group holds at most ``most`` indices (a size over the capacity stands alone)."""
    groups: list[list[int]] = []
    used = capacity
    for index, size in enumerate(sizes):
        if not groups or used + size > capacity or len(groups[-1]) == most:
            groups.append([])
            used = 0
        groups[-1].append(index)
        used += min(size, capacity)
    return groups
