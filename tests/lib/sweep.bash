# The canary sweep (tests/e2e): a script an agent runs with its own shell
# tool inside its sandbox, and the reading of what it wrote.
# The sweep an agent runs with its own shell tool, inside its sandbox: the
# real key (written here in two halves, joined only in a file the sweep
# skips) must be in no file, no environment, no /proc/*/environ or cmdline;
# the sentinel, looked for the same way, must be found (the control); the
# host's secret paths and the agents' login files must be absent (the
# staged copies; an agent may make its own empty ones in HOME, which the
# canary scan covers).
write_sweep() { # key...
  local key half tail pat=""
  # the pattern file: each key, and its last 20 characters (how claude
  # remembers an approved key), each written in two halves
  for key in "$@"; do
    half=$(( ${#key} / 2 )) tail=${key: -20}
    pat+="a='${key:0:$half}'; b='${key:$half}'; c='${tail:0:10}'; d='${tail:10}'
printf '%s%s\\n%s%s\\n' \"\$a\" \"\$b\" \"\$c\" \"\$d\" >>/tmp/.sweep-pat
"
  done
  cat >"$WS/sweep.sh" <<EOF
: >/tmp/.sweep-pat
$pat
printf 'adr-sentinel-' >/tmp/.sweep-sen
scan() {
  grep -rlsF -f "\$1" /home /tmp /run /etc /workspace /var /opt /srv /mnt /root 2>/dev/null | grep -v -e '^/tmp/.sweep-' -e '^/workspace/sweep'
  for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do grep -qsF -f "\$1" "\$f" && echo "\$f"; done
  env | grep -qF -f "\$1" && echo env
}
{ echo '== canary'; scan /tmp/.sweep-pat; echo '== sentinel'; scan /tmp/.sweep-sen; echo '== present'
  for p in ~/.ssh ~/.aws ~/.docker/config.json ~/.git-credentials ~/.netrc \\
    /run/adr-stage/.claude/.credentials.json /run/adr-stage/.codex/auth.json /run/adr-stage/.pi/agent/auth.json \\
    /run/adr-stage/.gemini/oauth_creds.json /run/adr-stage/.local/share/opencode/auth.json; do [ -e "\$p" ] && echo "\$p"; done
  echo '== claude.json'; grep -o '"theme": *"[a-z-]*"' ~/.claude.json 2>/dev/null
  echo '== end'; } >/workspace/sweep.out 2>&1
EOF
}

# section NAME: the lines of sweep.out's section NAME
section() {
  awk -v s="== $1" '$0 == s { on = 1; next } /^== / { on = 0 } on' "$WS/sweep.out"
}

