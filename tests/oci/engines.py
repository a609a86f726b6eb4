# SPDX-License-Identifier: Apache-2.0
"""Engines for capsule-oci's tests and benchmarks (tests/oci/run.py, bench/oci.py), each
started with its own state under a temporary directory, never the host's."""
import json
import os
import subprocess
import sys
import tempfile
import time


def udp_ask(enter, text, addr, timeout=20):
    """Send text over UDP to addr from the namespace that the command prefix enter runs in,
    again every half second until an answer comes: the answer, or None."""
    code = ("import socket,sys,time\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.5)\n"
            "end=time.time()+%d\n"
            "while time.time()<end:\n"
            "  s.sendto(sys.argv[1].encode(),(sys.argv[2],int(sys.argv[3])))\n"
            "  try:\n"
            "    print(s.recv(2048).decode());break\n"
            "  except OSError: pass\n" % timeout)
    p = subprocess.run(enter + [sys.executable, "-c", code, text, addr[0], str(addr[1])],
                       capture_output=True, text=True, timeout=timeout + 10)
    return p.stdout.strip() or None


def end_daemon(proc, log):
    """SIGTERM (the engine stops what it runs), SIGKILL after 30 s; its log closed."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


class Containerd:
    def __init__(self, tmp, oci):
        self.oci = oci
        self.dir = os.path.join(tmp, "containerd")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "containerd.sock")
        cfg = os.path.join(self.dir, "config.toml")
        with open(cfg, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                    '[debug]\n  address = "%s/debug.sock"\n[metrics]\n  address = ""\n'
                    '[plugins."io.containerd.internal.v1.opt"]\n  path = "%s/opt"\n'
                    % (self.dir, self.dir, self.sock, self.sock, self.dir, self.dir))
        self.log = open(os.path.join(self.dir, "containerd.log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.ns = "capsule-oci-%d" % os.getpid()
        self.runc_root = os.path.join(self.dir, "runc")
        deadline = time.time() + 30
        while time.time() < deadline and self.ctr("version")[0] != 0:
            time.sleep(0.1)

    def ctr(self, *args, timeout=60, stdout=None):
        p = subprocess.run(["timeout", "-k", "5", str(timeout), "ctr", "--address", self.sock,
                            "-n", self.ns] + list(args), stdout=stdout or subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout if stdout is None else "", p.stderr

    def run_args(self):
        return ["--runc-binary", self.oci, "--runc-root", self.runc_root]

    def stop(self):
        end_daemon(self.proc, self.log)


DOCKER, DOCKERD = "/usr/bin/docker", "/usr/sbin/dockerd"  # Debian's docker.io, not /usr/local


class Dockerd:
    """A dockerd of the test's own: data, exec root (with the containerd it starts there),
    pid file, socket and configuration under TMP, in a network namespace of its own (its
    bridge, its veths and docker-proxy stay in there; no iptables), capsule-oci added as
    the runtime "capsule"."""

    def __init__(self, tmp, oci, default_runtime=False, name="docker"):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.netns = "capsule-oci-%s-%d" % (name, os.getpid())
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        # lo, and an address to advertise for Swarm (a veth looped in the namespace).
        self.addr = "10.215.0.1"
        for c in (["link", "set", "lo", "up"],
                  ["link", "add", "adv0", "type", "veth", "peer", "name", "adv1"],
                  ["addr", "add", self.addr + "/24", "dev", "adv0"],
                  ["link", "set", "adv0", "up"], ["link", "set", "adv1", "up"]):
            subprocess.run(["ip", "-n", self.netns] + c, check=True, capture_output=True)
        # nsenter, not ip netns exec: that one remounts /sys, hiding the cgroups.
        self.enter = ["nsenter", "--net=/var/run/netns/" + self.netns]
        self.sock = os.path.join(self.dir, "docker.sock")
        cfg = os.path.join(self.dir, "daemon.json")
        with open(cfg, "w") as f:
            cfg_json = {"runtimes": {"capsule": {"path": oci}}}
            if default_runtime:  # a Swarm node's: every task a domain
                cfg_json["default-runtime"] = "capsule"
            json.dump(cfg_json, f)
        self.log = open(os.path.join(self.dir, "dockerd.log"), "w")
        self.proc = subprocess.Popen(
            self.enter + [DOCKERD, "--config-file", cfg, "--data-root", self.dir + "/data",
             "--exec-root", self.dir + "/exec", "--pidfile", self.dir + "/docker.pid",
             "-H", "unix://" + self.sock, "--iptables=false", "--ip6tables=false",
             "--bip", "10.214.0.1/24", "--storage-driver=vfs"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline and self.docker("version")[0] != 0:
            time.sleep(0.2)

    def docker(self, *args, timeout=60):
        with tempfile.TemporaryFile("w+") as o, tempfile.TemporaryFile("w+") as e:
            rc = subprocess.run(["timeout", "-k", "5", str(timeout), DOCKER, "-H",
                                 "unix://" + self.sock] + list(args), stdout=o, stderr=e,
                                stdin=subprocess.DEVNULL).returncode
            o.seek(0)
            e.seek(0)
            return rc, o.read(), e.read()

    def stop(self):
        end_daemon(self.proc, self.log)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)

    def udp(self, text, addr):
        """From dockerd's namespace (the host of its bridge), text to addr: the answer."""
        return udp_ask(self.enter, text, addr)
