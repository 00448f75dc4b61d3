"""Ganeti 3.0's Python library for the test scripts of this crate.

The one place that says where the library is and how to get it:
$BOUTURE_GANETI_LIBDIR, by default /usr/share/ganeti/3.0 (Debian's package
`ganeti`), imported with Debian's /usr/bin/python3, whose packaged modules
(python3-openssl...) it needs. A script that cannot import it exits with
MISSING (3), which bouture_test_support::ganeti::run_script turns into a test
failure saying how to install it.
"""

import importlib
import os
import sys

LIBDIR = os.environ.get("BOUTURE_GANETI_LIBDIR", "/usr/share/ganeti/3.0")
MISSING = 3


def load(*names):
    """Import ganeti.NAME for each NAME, in order; exit MISSING if one cannot be."""
    sys.path.insert(0, LIBDIR)
    try:
        return [importlib.import_module("ganeti." + name) for name in names]
    except ImportError as exc:
        sys.stderr.write(
            "cannot import Ganeti's library from %s (%s): install Debian's package "
            "ganeti (apt-get install --no-install-recommends ganeti, or run "
            "source scripts/setup.d/peers.sh ganeti) and run this with /usr/bin/python3\n"
            % (LIBDIR, exc))
        sys.exit(MISSING)
