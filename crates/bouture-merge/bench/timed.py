#!/usr/bin/env python3
"""Time commands precisely, the same way for every program compared.

Usage: timed.py RUNS STDOUT STDERR [--remove PATH] -- COMMAND [ARGS...]
           [--then STDOUT STDERR [--remove PATH] -- COMMAND [ARGS...]]...

Runs each COMMAND RUNS times; with --then, the commands take turns (run 1
of each in order, then run 2 of each, ...), so that whatever else the
machine does weighs on each of them alike. Each run: PATH (if given) is
removed first, untimed; then the clock (time.perf_counter_ns) is read, the
command is started with posix_spawn (vfork and exec: no copy of this
process, no shell, no /usr/bin/time in between), and waited for with
wait4, which also gives its resource usage; the clock is read again. Wall
time is thus the command's whole life (exec, dynamic loading, run, exit)
plus one posix_spawn and one wait4. STDOUT receives the last run's
standard output, STDERR every run's standard error (appended).

Prints one line per run on stderr ("run N: wall S, cpu S, rss KB") and on
stdout one summary line per command, in the order given: median wall, min
wall, max wall, median CPU (user + system, seconds) and the largest peak
RSS (KiB). Exits 1 if any run fails.
"""

import os
import statistics
import sys
import time


def parse(words):
    """One command's STDOUT STDERR [--remove PATH] -- COMMAND..."""
    if "--" not in words:
        sys.exit(__doc__)
    split = words.index("--")
    options, command = words[:split], words[split + 1 :]
    remove = None
    if "--remove" in options:
        at = options.index("--remove")
        remove = options[at + 1]
        del options[at : at + 2]
    if len(options) != 2 or not command:
        sys.exit(__doc__)
    program = command[0]
    if os.sep not in program:
        found = [
            os.path.join(d, program)
            for d in os.environ.get("PATH", "").split(os.pathsep)
            if os.access(os.path.join(d, program), os.X_OK)
        ]
        program = found[0] if found else program
    return {
        "stdout": options[0],
        "stderr": options[1],
        "remove": remove,
        "program": program,
        "command": command,
        "walls": [],
        "cpus": [],
        "rss": 0,
    }


def run_once(job, run):
    if job["remove"]:
        try:
            os.remove(job["remove"])
        except FileNotFoundError:
            pass
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
    ]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(job["program"], job["command"], os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter_ns() - start) / 1e9
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        print(
            f"run {run}: {job['command']!r} failed (status {status}); see {job['stderr']}",
            file=sys.stderr,
        )
        return False
    cpu = usage.ru_utime + usage.ru_stime
    job["walls"].append(wall)
    job["cpus"].append(cpu)
    job["rss"] = max(job["rss"], usage.ru_maxrss)
    print(
        f"run {run} {os.path.basename(job['program'])}: wall {wall:.4f} s, cpu {cpu:.4f} s, "
        f"rss {usage.ru_maxrss} KiB",
        file=sys.stderr,
    )
    return True


def main(argv):
    if len(argv) < 1:
        sys.exit(__doc__)
    runs = int(argv[0])
    groups, current = [], []
    for word in argv[1:]:
        # "--then" separates commands; a command's own arguments never
        # contain it (bouture's and Ganeti's do not).
        if word == "--then":
            groups.append(current)
            current = []
        else:
            current.append(word)
    groups.append(current)
    jobs = [parse(group) for group in groups]
    for job in jobs:
        open(job["stderr"], "w").close()
    for run in range(1, runs + 1):
        for job in jobs:
            if not run_once(job, run):
                return 1
    for job in jobs:
        print(
            f"{statistics.median(job['walls']):.5f} {min(job['walls']):.5f} "
            f"{max(job['walls']):.5f} {statistics.median(job['cpus']):.4f} {job['rss']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
