#!/usr/bin/env python3
"""Runs a command and prints "WALL_US CPU_US SETTLED_US", output discarded.

WALL: until the command exits.  CPU: user+sys of the command and of every
process it left behind (this script is their subreaper and waits for them
all: adr's detached teardown counts).  SETTLED: until the last of them
exited."""
import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
t0 = time.monotonic_ns()
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
t1 = time.monotonic_ns()
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
t2 = time.monotonic_ns()
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print((t1 - t0) // 1000, int(cpu * 1e6), (t2 - t0) // 1000)
sys.exit(rc)
