#!/usr/bin/python3
"""Merge two config.data files with Ganeti 3.0's own library (comparison benchmark).

Usage: ganeti_merge.py OURS THEIRS OUTPUT [--port-last N]

This is the merge of Ganeti's design doc ("Automated Ganeti Cluster Merger",
doc/design-2.1) done offline on the 3.0 library, the way tools/cluster-merge
would do it if it still worked: our config is opened with an offline
ConfigWriter and held in one exclusive config lock (read once, written
once); the other cluster's config is loaded with the same loader. Node groups
use the `rename` strategy; nodes go through ConfigWriter.AddNode (offline,
not candidates); networks through AddNetwork. WConfd's allocatePort and
addInstance cannot run offline, so they are re-implemented here as Ganeti's
Haskell code does them (pool head, else highest_used_port + 1 up to
--port-last; MAC and UUID uniqueness with sets); top-level disks are copied.
Every DRBD logical_id[2] and every instance network_port is reallocated.

Prints one JSON line with the timings (seconds). Run it with Debian's
/usr/bin/python3; the library is taken from $BOUTURE_GANETI_LIBDIR
(default /usr/share/ganeti/3.0).
"""

import json
import logging
import os
import shutil
import sys
import tempfile
import time

T_START = time.time()
sys.path.insert(0, os.environ.get("BOUTURE_GANETI_LIBDIR", "/usr/share/ganeti/3.0"))

from ganeti import config  # noqa: E402
from ganeti import constants  # noqa: E402
from ganeti import errors  # noqa: E402


class _Ents(object):
    def __init__(self):
        self.confd_gid = os.getgid()


def main(argv):
    logging.disable(logging.CRITICAL)
    port_last = constants.LAST_DRBD_PORT
    if "--port-last" in argv:
        index = argv.index("--port-last")
        port_last = int(argv[index + 1])
        del argv[index:index + 2]
    ours, theirs, output = [os.path.abspath(arg) for arg in argv]
    t_import = time.time()
    workdir = tempfile.mkdtemp(prefix="ganeti-merge.")
    try:
        shutil.copyfile(ours, output)
        their_copy = os.path.join(workdir, "theirs.data")
        shutil.copyfile(theirs, their_copy)
        timings = {"imports": t_import - T_START}

        start = time.time()
        other = config.ConfigWriter(cfg_file=their_copy, offline=True,
                                    accept_foreign=True, _getents=_Ents)
        with other.GetConfigManager(shared=True):
            other_data = other._ConfigData()  # pylint: disable=W0212
        timings["load_other"] = time.time() - start

        start = time.time()
        mine = config.ConfigWriter(cfg_file=output, offline=True,
                                   accept_foreign=True, _getents=_Ents)
        with mine.GetConfigManager(shared=False):
            data = mine._ConfigData()  # pylint: disable=W0212
            cluster = data.cluster
            timings["load_ours"] = time.time() - start
            ec_id = "clustermerge-ecid"

            start = time.time()
            for network in list(other_data.networks.values()):
                mine._UnlockedAddNetwork(network, ec_id, True)  # pylint: disable=W0212
            my_names = dict((g.name, g.uuid) for g in data.nodegroups.values())
            for group in list(other_data.nodegroups.values()):
                if group.name in my_names:
                    group.name = "%s-%s" % (group.name, other_data.cluster.cluster_name)
                group.members = []
                mine._UnlockedAddNodeGroup(group, ec_id, True)  # pylint: disable=W0212
            timings["add_groups_networks"] = time.time() - start

            start = time.time()
            for node in list(other_data.nodes.values()):
                node.master_candidate = False
                node.drained = False
                node.offline = True
                mine._UnlockedAddNode(node, ec_id)  # pylint: disable=W0212
            timings["add_nodes"] = time.time() - start

            start = time.time()
            pool = list(cluster.tcpudp_port_pool)

            def allocate_port():
                if pool:
                    return pool.pop(0)
                if cluster.highest_used_port >= port_last:
                    raise errors.ConfigurationError(
                        "The highest used port is greater than %s. Aborting." % port_last)
                cluster.highest_used_port += 1
                return cluster.highest_used_port

            ids = mine._AllIDs(False)  # pylint: disable=W0212
            macs = set(nic.mac for inst in data.instances.values() for nic in inst.nics)
            moved = 0
            now = time.time()
            for instance in list(other_data.instances.values()):
                for disk_uuid in instance.disks:
                    disk = other_data.disks[disk_uuid]
                    if disk.dev_type in constants.DTS_DRBD:
                        logical_id = list(disk.logical_id)
                        logical_id[2] = allocate_port()
                        disk.logical_id = tuple(logical_id)
                        moved += 1
                    if disk.uuid in ids:
                        raise errors.ConfigurationError("UUID %s already in use" % disk.uuid)
                    ids.add(disk.uuid)
                    disk.serial_no = 1
                    disk.ctime = disk.mtime = now
                    data.disks[disk.uuid] = disk
                if instance.network_port is not None:
                    instance.network_port = allocate_port()
                    moved += 1
                if instance.uuid in ids:
                    raise errors.ConfigurationError("UUID %s already in use" % instance.uuid)
                for nic in instance.nics:
                    if nic.mac in macs:
                        raise errors.ConfigurationError(
                            "Cannot add instance %s; MAC addresses %s already in use"
                            % (instance.name, nic.mac))
                    macs.add(nic.mac)
                ids.add(instance.uuid)
                instance.serial_no = 1
                instance.ctime = instance.mtime = now
                data.instances[instance.uuid] = instance
            cluster.tcpudp_port_pool = set(pool)
            cluster.serial_no += 1
            timings["add_instances_ports"] = time.time() - start
            start = time.time()
        timings["write"] = time.time() - start
        timings["ports_reallocated"] = moved
        timings["total_wall"] = time.time() - T_START
        print(json.dumps(timings))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
