"""`tf.app.run`: calls `main(argv)` and exits with its result, as TF1 does."""

import sys


def run(main=None, argv=None):
    if main is None:
        main = sys.modules["__main__"].main
    sys.exit(main(argv if argv is not None else sys.argv))
