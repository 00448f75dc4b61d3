#!/usr/bin/python3
"""Read a data directory's ssconf files with Ganeti 3.0's own reader.

Usage: ganeti_ssconf.py DATA_DIR

Prints one JSON object: every valid ssconf name whose file exists in
DATA_DIR, with the value Ganeti's ssconf.SimpleStore(cfg_location=DATA_DIR)
reads (ReadAll()), plus "cluster_name_getter": what GetClusterName() returns,
and, if DATA_DIR has a client.pem, "client_pem_check": "ok" when Ganeti's own
certificate check of node-daemon-setup (tools.common.VerifyCertificateStrong:
key and certificate load with pyOpenSSL and match) accepts it, else the error.

Exit status: 0 on success, 1 when Ganeti's reader fails, 3 when Ganeti's
library is missing. Ganeti's library is looked up in $BOUTURE_GANETI_LIBDIR,
by default /usr/share/ganeti/3.0 (Debian's package `ganeti`); run this with
Debian's /usr/bin/python3.
"""

import json
import os
import sys

LIBDIR = os.environ.get("BOUTURE_GANETI_LIBDIR", "/usr/share/ganeti/3.0")
sys.path.insert(0, LIBDIR)

try:
    from ganeti import ssconf  # noqa: E402
    from ganeti.tools import common  # noqa: E402
except ImportError as exc:
    sys.stderr.write(
        "cannot import Ganeti's library from %s (%s): install Debian's package "
        "ganeti (apt-get install --no-install-recommends ganeti, or run "
        "scripts/setup.d/20-ganeti.sh) and run this with /usr/bin/python3\n"
        % (LIBDIR, exc))
    sys.exit(3)


class _Refused(Exception):
    """The error class Ganeti's check raises."""


def main():
    data_dir = sys.argv[1]
    store = ssconf.SimpleStore(cfg_location=data_dir)
    values = store.ReadAll()
    values["cluster_name_getter"] = store.GetClusterName()
    client = os.path.join(data_dir, "client.pem")
    if os.path.exists(client):
        with open(client) as handle:
            pem = handle.read()
        try:
            common.VerifyCertificateStrong({"node_daemon_certificate": pem},
                                           _Refused)
            values["client_pem_check"] = "ok"
        except Exception as exc:  # pylint: disable=W0703
            values["client_pem_check"] = "%s: %s" % (type(exc).__name__, exc)
    json.dump(values, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
