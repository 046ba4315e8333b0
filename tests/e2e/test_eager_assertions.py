"""TF2's checks (tf.debugging.assert_*, tf.debugging.Assert) eagerly and in a tf.function: graphc.v2 prints
what TensorFlow 2.21 prints for tests/e2e/eager_programs/assertions.py (its output pinned below)."""

import pathlib

from tests import tf_oracle

PROGRAM = pathlib.Path(__file__).parent / "eager_programs" / "assertions.py"

TF_OUTPUT = (
    "equal InvalidArgumentError 'Condition x == y did not hold.\\nIndices of first 1 different values:\\n[[3]]\\nCorresponding x values:\\n[4]\\nCorresponding y values:\\n[5]\\nFirst 3 elements of x:\\n[1 2 3]\\nFirst 3 elements of y:\\n[1 2 3]'\n"
    'equal holds OK None\n'
    "equal scalar InvalidArgumentError 'Condition x == y did not hold.\\nFirst 2 elements of x:\\n[1 2]\\nFirst 1 elements of y:\\n[1]'\n"
    "none_equal InvalidArgumentError 'Condition x != y did not hold.\\nIndices of first 1 different values:\\n[[1]]\\nCorresponding x values:\\n[2]\\nCorresponding y values:\\n[2]\\nFirst 3 elements of x:\\n[1 2 3]\\nFirst 3 elements of y:\\n[0 2 0]'\n"
    "less InvalidArgumentError 'm\\nCondition x < y did not hold.\\nFirst 2 elements of x:\\n[1. 2.]\\nFirst 1 elements of y:\\n[2.]'\n"
    'less_equal holds OK None\n'
    "greater InvalidArgumentError 'Condition x > y did not hold.\\nFirst 3 elements of x:\\n[1 2 3]\\nFirst 2 elements of y:\\n[0 2]'\n"
    "greater_equal InvalidArgumentError 'Condition x >= y did not hold.\\nFirst 4 elements of x:\\n[1 2 3 4]\\nFirst 1 elements of y:\\n[5]'\n"
    'positive InvalidArgumentError "\\nCondition x > 0 did not hold element-wise:\\nx (shape=(2,) dtype=float32) = \\n[\'1.0\', \'-2.0\']"\n'
    'negative InvalidArgumentError "neg.  \\nCondition x < 0 did not hold element-wise:\\nx (shape=(4,) dtype=int32) = \\n[\'1\', \'2\', \'3\', \'...\']"\n'
    'non_negative holds OK None\n'
    'non_positive InvalidArgumentError "\\nCondition x <= 0 did not hold element-wise:x (shape=(1, 2) dtype=float32) = \\n[\'0.5\', \'-1.0\']"\n'
    'Assert InvalidArgumentError "Expected \'tf.Tensor(False, shape=(), dtype=bool)\' to be true. Summarized data: b\'hi\'\\n1, 2, 3, ...\\n2.5"\n'
    'Assert holds OK None\n'
    'Assert summarize InvalidArgumentError "Expected \'tf.Tensor(False, shape=(), dtype=bool)\' to be true. Summarized data: 1, 2, 3, 4"\n'
    'function OK [2. 4.]\n'
    'function fails InvalidArgumentError True\n'
)


test_graphc_prints_what_tensorflow_2_21_prints, test_tensorflow_2_21_prints_the_pinned_output = \
    tf_oracle.program_tests(PROGRAM, TF_OUTPUT)
