"""What the benchmarks share: a command timed in a fresh process, the machine and its load.

On a shared machine the elapsed time of a command varies with what else runs;
its processor time (user + system, its own child processes included) varies
far less. So every command run here is measured both ways, with its peak
resident memory, and a benchmark prints the load average beside its figures.
The scripts import this module by name: a script's folder is on the path.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The commands are timed as an installed pkgbooks runs: with its compiled bytecode cached
# (pip writes it at install). With PYTHONDONTWRITEBYTECODE set (some machines set it), every
# command would compile pkgbooks' sources again first, some 0.15 s a start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@dataclass
class Timed:
    """One run of a command in its own process."""

    seconds: float  # elapsed
    cpu: float  # user + system seconds of the process and the children it waited for
    peak_mib: float  # its peak resident memory
    returncode: int
    stdout: str
    stderr: str


def run(command: list[str], env: dict[str, str] | None = None) -> Timed:
    """Run `command` (no standard input) and measure it; its output is kept, not shown.

    The output goes to files, not pipes, so the process is reaped with
    `os.wait4`, which gives its own resource usage (not that of every child
    this process ever had).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   env=env)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Timed(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                     process.returncode, out.read().decode("utf-8", "replace"),
                     err.read().decode("utf-8", "replace"))


def run_ok(command: list[str], env: dict[str, str] | None = None) -> Timed:
    """`run`, and stop the benchmark with the command's output if it fails."""
    timed = run(command, env)
    if timed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({timed.returncode}):\n"
                         f"{timed.stdout}{timed.stderr}")
    return timed


def load() -> str:
    """The load average over 1, 5 and 15 minutes."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """The processor, cores, memory, Python and the commit measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kb / 1024 / 1024:.1f} GB"
    except (OSError, IndexError, ValueError):
        pass
    try:
        commit = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return (f"{cpu}, {os.cpu_count()} cores, {ram} RAM; Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}; "
            f"commit {commit or '?'}")
