"""`tf.app`: `tf.app.run` parses the command-line flags and calls `main(argv)`, exiting with its result, as
TF1 does; `tf.app.flags` is `tf.flags` (graphc/flags.py)."""

import sys

from graphc import flags
from graphc.flags import FLAGS

# absl's help flags, which its app.run defines: (name, help, whether it lists every module's flags).
_HELP_FLAGS = (("help", "show this help", False), ("helpshort", "show this help", False),
               ("helpfull", "show full help", True))


def run(main=None, argv=None):
    """Parses the flags in `argv` (default sys.argv), then exits with `main(remaining arguments)`.

    Unknown flags are left in main's arguments. `--help` prints the program's
    flags (`--helpfull` every module's) to stdout and exits with status 1.
    """
    if main is None:
        main = sys.modules["__main__"].main
    for name, text, _ in _HELP_FLAGS:
        if name not in FLAGS:
            FLAGS._define(flags.Flag(name, False, text, __name__, flags._boolean, boolean=True))
    remaining = FLAGS(sys.argv if argv is None else argv, known_only=True)
    for name, _, full in _HELP_FLAGS:
        if FLAGS[name].value:
            print(FLAGS.help_text(flags.program_name(), full))
            sys.exit(1)
    sys.exit(main(remaining))
