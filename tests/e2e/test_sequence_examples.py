"""The sequence-model examples run as they are (subprocesses, as a user would run them): the LSTM over
MNIST rows, the bidirectional LSTM through tf.contrib.rnn, and the character-level language model.
(Bidirectional networks are also trained and checked in tests/e2e/test_rnn.py, at sizes that compile fast.)"""

import re

import pytest

from tests.e2e.test_examples import run_example


def _test_accuracies(output):
    return [float(v) for v in re.findall(r"Test accuracy: ([\d.]+)", output)]


def test_lstm_mnist_learns_in_a_hundred_steps():
    accuracy = _test_accuracies(run_example("lstm_mnist.py", "--epochs", "1", "--steps", "100"))[-1]
    assert accuracy > 0.6  # 0.63 after 50 steps, 0.945 after one epoch


@pytest.mark.slow
def test_lstm_mnist_reaches_97_percent_in_two_epochs():
    accuracies = _test_accuracies(run_example("lstm_mnist.py"))
    assert len(accuracies) == 2 and accuracies[-1] >= 0.97


@pytest.mark.slow  # compiling the 56 unrolled cells and their gradients: minutes on a loaded 2-core VM
def test_bidirectional_rnn_trains():
    output = run_example("bidirectional_rnn.py", "--training_steps", "30", "--display_step", "15")
    losses = [float(v) for v in re.findall(r"Minibatch Loss= ([\d.]+)", output)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert float(re.search(r"Testing Accuracy: ([\d.]+)", output).group(1)) > 0.25  # 0.38 after 20 steps


@pytest.mark.slow
def test_bidirectional_rnn_reaches_90_percent():
    output = run_example("bidirectional_rnn.py")
    assert float(re.search(r"Testing Accuracy: ([\d.]+)", output).group(1)) >= 0.9


def test_char_rnn_learns_the_grammar():
    output = run_example("char_rnn.py", "--steps", "100", "--seq_length", "20")
    losses = [float(v) for v in re.findall(r"loss ([\d.]+)", output)]
    assert losses[0] > 3.0 and losses[-1] < 0.8  # ln(vocabulary) at first; 0.47 after 100 steps
    sample = re.search(r"sample: (.*)", output).group(1)
    assert re.search(r"(the|a) (\w+ )?(fox|dog|cat|bird|horse) (sees|chases|likes|follows) ", sample), sample
