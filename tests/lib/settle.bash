# Loaded by testimage.bash and mock.bash.
# adr returns a run's status before its sandbox, gateway and network are
# removed (a detached process, adr-teardown, does that and refills the
# egress pool): wait until no such process is left (10 s at most).
adr_settle() {
  local _
  for _ in $(seq 200); do
    pgrep -x adr-teardown >/dev/null || return 0
    sleep 0.05
  done
  echo "adr_settle: adr-teardown still running after 10 s" >&2
  return 1
}
