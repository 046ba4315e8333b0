"""`graphc info`: builds the per-machine libraries and describes the host."""

import os
import subprocess
import sys


def test_info_describes_the_host_and_thread_count():
    environment = dict(os.environ, GRAPHC_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "info"], capture_output=True, text=True,
                            env=environment)
    assert result.returncode == 0, result.stderr
    assert "micro-kernel" in result.stdout
    assert "threads: 1 " in result.stdout


def test_info_rejects_unknown_arguments():
    result = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "info", "--bogus"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr
