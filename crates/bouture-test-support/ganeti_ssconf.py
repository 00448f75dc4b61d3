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
library is missing (found by ganeti_lib.py, beside this script).
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import ganeti_lib  # noqa: E402  (beside this script)

ssconf, common = ganeti_lib.load("ssconf", "tools.common")


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
