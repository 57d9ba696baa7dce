"""Word error rate: (substitutions + deletions + insertions) / words in the reference.

Texts are compared after lower-casing, dropping punctuation and collapsing whitespace, so
"Americans," and "americans" count as the same word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


@dataclass(frozen=True)
class WER:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def rate(self) -> float:
        errors = self.substitutions + self.deletions + self.insertions
        return errors / self.reference_words if self.reference_words else float(errors > 0)


def wer(reference: str, hypothesis: str) -> WER:
    """Levenshtein alignment over words (dynamic programming, O(n·m) time, O(m) memory)."""
    ref, hyp = words(reference), words(hypothesis)
    # each cell: (cost, subs, dels, ins)
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            if ref[i - 1] == hyp[j - 1]:
                best = prev[j - 1]
            else:
                s, d, n = prev[j - 1], prev[j], cur[j - 1]
                best = min(
                    (s[0] + 1, s[1] + 1, s[2], s[3]),
                    (d[0] + 1, d[1], d[2] + 1, d[3]),
                    (n[0] + 1, n[1], n[2], n[3] + 1),
                )
            cur.append(best)
        prev = cur
    _, subs, dels, ins = prev[-1]
    return WER(subs, dels, ins, len(ref))
