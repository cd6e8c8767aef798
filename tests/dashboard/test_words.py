"""Failure values in words: each kind gets its sentence with its numbers, and advice only where α is to blame."""

import pytest

from core.run import FAILURE_KINDS, Failure
from dashboard.words import failure_advice, failure_short, failure_text

EXAMPLES = {
    "diverged": (Failure("diverged", 12, 3.0, 1.0, detail="softmax"), "softmax overflowed"),
    "exploded": (Failure("exploded", 4, 8.0, 4.0, loss=99.5, start_loss=2.3), "exploded to 99.5"),
    "dead": (Failure("dead", 0, 1.0, 0.5, dead=10, hidden=10), "all 10 hidden neurons died"),
    "collapsed": (Failure("collapsed", 140, 1.0, 0.5, dead=9, hidden=10), "9 of 10 hidden neurons are dead"),
    "bad_batch": (Failure("bad_batch", 3, 0.1, detail="9"), "no label 9..9"),
}


@pytest.mark.parametrize("kind", FAILURE_KINDS)
def test_every_kind_has_a_sentence_with_its_facts(kind):
    """Each failure kind is said with its iteration and α; short names differ between kinds."""
    failure, words = EXAMPLES[kind]
    text = failure_text(failure)
    assert words in text and f"iteration {failure.iteration}" in text
    assert "Reset" not in text  # advice is separate: the CLI and the views place it themselves
    assert len({failure_short(f) for f, _ in EXAMPLES.values()}) == len(FAILURE_KINDS)


def test_advice_names_the_suggested_alpha():
    """Advice suggests the smaller α when there is one, and nothing otherwise."""
    assert failure_advice(EXAMPLES["exploded"][0]) == "Try α ≤ 4."
    assert failure_advice(EXAMPLES["bad_batch"][0]) == ""


def test_unknown_kind_is_refused():
    """A failure value only takes the known kinds (a foreign file cannot smuggle in another)."""
    with pytest.raises(ValueError, match="failure kind"):
        Failure("melted", 0, 1.0)
