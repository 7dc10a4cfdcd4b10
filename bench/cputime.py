#!/usr/bin/env python3
"""Runs a command and prints "WALL_US CPU_US" (CPU = user+sys of the
command and its waited-for children, from getrusage), output discarded."""
import os
import resource
import subprocess
import sys
import time

t0 = time.monotonic_ns()
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
t1 = time.monotonic_ns()
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print((t1 - t0) // 1000, int(cpu * 1e6))
sys.exit(rc)
