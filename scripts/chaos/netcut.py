"""Cuts the network between two strata nodes on 127.0.0.1 and heals it.

All nodes share the loopback, so a cut cannot be a separate interface. Instead
every node runs in a cgroup v2 of its own (scripts/cluster-up.sh --cgroup) and
iptables drops the packets that travel between the two nodes' processes, in
both directions, while everything else on the loopback flows:

  * OUTPUT marks each packet that a node's cgroup sends to the other node's
    cluster port (`-m cgroup --path`): that covers every packet of the
    connections each node opens towards the other, and every new attempt;
  * INPUT drops marked packets, and both directions of the connections that
    already exist between the two processes (their 4-tuples, from `ss -tnp`,
    read after the marking rules are in, so no connection slips between).

Dropping on INPUT, not OUTPUT, makes the cut look like a dead link: a sender's
packets leave without an error and are never answered (an OUTPUT drop would
fail the sender's send with EPERM at once). Healing deletes exactly the rules
of that cut. The rules live in two chains named after the cluster's base port,
so a run never touches anything else, and a leftover of a killed run is removed
by the next run on that port.
"""
import os
import re
import shutil
import subprocess

MARK = "0x5c1a0000/0xffff0000"


def cgroup2_root():
    """The cgroup v2 mount point, or None."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                return parts[1]
    return None


def unavailable_reason():
    """Why cuts cannot be made here (None when they can)."""
    if os.geteuid() != 0:
        return "not running as root (iptables and cgroups need root)"
    if shutil.which("iptables") is None:
        return "iptables is not installed (apt-get install iptables, or scripts/setup.sh)"
    if cgroup2_root() is None:
        return "no cgroup2 mount (mount -t cgroup2 none /sys/fs/cgroup/unified)"
    probe = subprocess.run(["iptables", "-w", "-L", "INPUT", "-n"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "iptables does not work here: " + probe.stderr.strip()
    return None


def _ipt(*args, check=True):
    r = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("iptables %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.returncode == 0


def connections(pid_a, port_b, pid_b, port_a):
    """4-tuples (local port, peer port) of the TCP sockets of process pid_a
    whose peer is port_b, and of process pid_b whose peer is port_a."""
    out = subprocess.run(["ss", "-Htnp", "state", "all"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        m = re.search(r"127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:(\d+)\s.*pid=(\d+),", line)
        if not m:
            continue
        local, peer, pid = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if (pid == pid_a and peer == port_b) or (pid == pid_b and peer == port_a):
            found.add((local, peer))
    return sorted(found)


class Netcut:
    """The cuts of one cluster (named by its base port), one at a time."""

    def __init__(self, base_port, cgroup):
        self.chain_out = "STRATA-CHAOS-%d-O" % base_port
        self.chain_in = "STRATA-CHAOS-%d-I" % base_port
        self.cgroup = cgroup
        self.clear()
        for chain, hook in ((self.chain_out, "OUTPUT"), (self.chain_in, "INPUT")):
            _ipt("-N", chain)
            _ipt("-I", hook, "-j", chain)

    def cut(self, a, b):
        """a, b: (node index, pid, cluster port). Returns the number of
        existing connections cut."""
        for (i, _, _), (_, _, port) in ((a, b), (b, a)):
            _ipt("-A", self.chain_out, "-p", "tcp", "-m", "cgroup", "--path", "%s/node-%d" % (self.cgroup, i),
                 "--dport", str(port), "-j", "MARK", "--set-xmark", MARK)
        _ipt("-A", self.chain_in, "-p", "tcp", "-m", "mark", "--mark", MARK, "-j", "DROP")
        tuples = connections(a[1], b[2], b[1], a[2])
        for local, peer in tuples:
            for s, d in ((local, peer), (peer, local)):
                _ipt("-A", self.chain_in, "-p", "tcp", "-s", "127.0.0.1", "--sport", str(s),
                     "-d", "127.0.0.1", "--dport", str(d), "-j", "DROP")
        return len(tuples)

    def heal(self):
        for chain in (self.chain_out, self.chain_in):
            _ipt("-F", chain, check=False)

    def clear(self):
        """Removes both chains and their jumps (idempotent)."""
        for chain, hook in ((self.chain_out, "OUTPUT"), (self.chain_in, "INPUT")):
            while _ipt("-D", hook, "-j", chain, check=False):
                pass
            _ipt("-F", chain, check=False)
            _ipt("-X", chain, check=False)
