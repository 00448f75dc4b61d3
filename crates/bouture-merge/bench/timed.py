#!/usr/bin/env python3
"""Time a command precisely, the same way for every program compared.

Usage: timed.py RUNS STDOUT STDERR [--remove PATH] -- COMMAND [ARGS...]

Runs COMMAND RUNS times. Each run: PATH (if given) is removed first,
untimed; then the clock (time.perf_counter_ns) is read, the command is
started with posix_spawn (vfork and exec: no copy of this process, no
shell, no /usr/bin/time in between), and waited for with wait4, which also
gives its resource usage; the clock is read again. Wall time is thus the
command's whole life (exec, dynamic loading, run, exit) plus one
posix_spawn and one wait4. STDOUT receives the last run's standard output,
STDERR every run's standard error (appended).

Prints one line per run on stderr ("run N: wall S, cpu S, rss KB") and on
stdout one summary line: median wall, min wall, max wall, median CPU (user
+ system, seconds) and the largest peak RSS (KiB). Exits 1 if any run fails.
"""

import os
import statistics
import sys
import time


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    remove = None
    if "--remove" in options:
        at = options.index("--remove")
        remove = options[at + 1]
        del options[at : at + 2]
    if len(options) != 3 or not command:
        sys.exit(__doc__)
    runs, stdout, stderr = int(options[0]), options[1], options[2]
    open(stderr, "w").close()
    program = command[0]
    if os.sep not in program:
        found = [
            os.path.join(d, program)
            for d in os.environ.get("PATH", "").split(os.pathsep)
            if os.access(os.path.join(d, program), os.X_OK)
        ]
        program = found[0] if found else program
    walls, cpus, rss = [], [], 0
    for run in range(1, runs + 1):
        if remove:
            try:
                os.remove(remove)
            except FileNotFoundError:
                pass
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        ]
        start = time.perf_counter_ns()
        pid = os.posix_spawn(program, command, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        wall = (time.perf_counter_ns() - start) / 1e9
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            print(f"run {run}: {command!r} failed (status {status}); see {stderr}", file=sys.stderr)
            return 1
        cpu = usage.ru_utime + usage.ru_stime
        walls.append(wall)
        cpus.append(cpu)
        rss = max(rss, usage.ru_maxrss)
        print(f"run {run}: wall {wall:.4f} s, cpu {cpu:.4f} s, rss {usage.ru_maxrss} KiB", file=sys.stderr)
    print(
        f"{statistics.median(walls):.4f} {min(walls):.4f} {max(walls):.4f} "
        f"{statistics.median(cpus):.4f} {rss}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
