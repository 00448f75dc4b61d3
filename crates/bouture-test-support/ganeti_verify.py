#!/usr/bin/python3
"""Load config.data files with Ganeti 3.0's own configuration code and verify them.

Usage: ganeti_verify.py [--force-version] CONFIG...

For each CONFIG: copy it into a temporary directory (the offline loader may
rewrite the file it loads), open it with Ganeti's offline ConfigWriter
(accept_foreign, so the master need not be this host), and run
VerifyConfig(). Prints one JSON object per input line:
{"path": ..., "load_error": null|"<Type>: <message>", "errors": [...]}.

Exit status: 0 when every file loads and verifies cleanly, 1 when a verifier
error was found, 2 when a file could not be loaded, 3 when Ganeti's library
is missing.

Ganeti's library is found by ganeti_lib.py, beside this script
($BOUTURE_GANETI_LIBDIR, by default /usr/share/ganeti/3.0; Debian's
/usr/bin/python3).
"""

import json
import logging
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import ganeti_lib  # noqa: E402  (beside this script)

config, constants, errors = ganeti_lib.load("config", "constants", "errors")


class _Ents(object):
    """Stands in for runtime.GetEnts(): the writer only uses confd_gid."""

    def __init__(self):
        self.confd_gid = os.getgid()


def verify(path, force_version):
    workdir = tempfile.mkdtemp(prefix="bouture-ganeti-verify.")
    try:
        copy = os.path.join(workdir, "config.data")
        shutil.copyfile(path, copy)
        if force_version:
            with open(copy) as handle:
                data = json.load(handle)
            data["version"] = constants.CONFIG_VERSION
            with open(copy, "w") as handle:
                json.dump(data, handle)
        try:
            writer = config.ConfigWriter(cfg_file=copy, offline=True,
                                         accept_foreign=True,
                                         _getents=_Ents)
            result = writer.VerifyConfig()
        except errors.ConfigVersionMismatch as exc:
            return ("config version mismatch: expected %s, got %s"
                    % (exc.args[0], exc.args[1]), [])
        except Exception as exc:  # pylint: disable=broad-except
            return ("%s: %s" % (type(exc).__name__, exc), [])
        return (None, list(result))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv):
    logging.disable(logging.CRITICAL)
    force_version = "--force-version" in argv
    paths = [arg for arg in argv if arg != "--force-version"]
    if not paths:
        sys.stderr.write(__doc__)
        return 2
    status = 0
    for path in paths:
        load_error, result = verify(path, force_version)
        print(json.dumps({"path": path, "load_error": load_error,
                          "errors": result}))
        if load_error is not None:
            status = 2
        elif result and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
