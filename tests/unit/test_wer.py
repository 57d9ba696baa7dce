from rmstudio.core.metrics.wer import wer


def test_identical_after_normalising():
    assert wer("And so, my fellow Americans!", "and so my fellow americans").rate == 0


def test_counts_each_kind_of_error():
    w = wer("the cat sat on the mat", "the bat sat on mat today")
    # bat/cat substitution, "the" deleted, "today" inserted
    assert (w.substitutions, w.deletions, w.insertions) == (1, 1, 1)
    assert abs(w.rate - 3 / 6) < 1e-12


def test_empty_cases():
    assert wer("", "").rate == 0
    assert wer("one two", "").rate == 1
    assert wer("", "noise").rate == 1
