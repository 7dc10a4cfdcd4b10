# An agent in the project's own image (adr run --image IMAGE,
# ADR_PROJECT_IMAGE): the project's image with the agent added under
# /opt/adr, and the sandbox's identity files and hardening as in an agent
# image.  Built by adr on first use and kept (tagged by the two images' IDs:
# a new project image or a rebuilt agent makes a new one).
# Build context: this file, adr-entry.sh, certs/.
# Build args:
#   PROJECT_IMAGE  the project's image (its ID)
#   AGENT_IMAGE    the agent's adr image (its ID): node and the agent come from it
#   NPM_PACKAGE    the agent's npm package ("none": the agent is a program of the image)
#   AGENT_BINARY   the command adr runs
ARG PROJECT_IMAGE
ARG AGENT_IMAGE
FROM ${AGENT_IMAGE} AS agent
FROM ${PROJECT_IMAGE}
ARG NPM_PACKAGE
ARG AGENT_BINARY
USER 0
# node and the agent's package, apart from the project's own (its node,
# whatever version, stays on PATH before them)
COPY --from=agent /usr/local/bin/node /opt/adr/node/bin/node
COPY --from=agent /usr/local/lib/node_modules/ /opt/adr/node/lib/node_modules/
COPY adr-entry.sh /usr/local/bin/adr-entry
RUN set -eu; \
    fail() { echo "adr-layer-error: $*"; exit 3; }; \
    chmod 0755 /usr/local/bin/adr-entry; \
    for t in id cat cp chmod; do command -v "$t" >/dev/null 2>&1 || fail "the image has no '$t' (adr's entry script needs a POSIX userland)"; done; \
    mkdir -p /opt/adr/bin; \
    if [ "$NPM_PACKAGE" != none ]; then \
      /opt/adr/node/bin/node -e 0 >/dev/null 2>&1 || \
        fail "node (from the agent's image) cannot run in this image: it needs glibc >= 2.28 and libstdc++ (musl images such as Alpine are not supported for npm agents)"; \
      pkg=/opt/adr/node/lib/node_modules/$NPM_PACKAGE; \
      [ -f "$pkg/package.json" ] || fail "the agent image has no $NPM_PACKAGE"; \
      rel=$(/opt/adr/node/bin/node -e 'const p=require(process.argv[1]); const b=p.bin; const n=process.argv[2]; process.stdout.write(typeof b==="string"?b:(b&&b[n])||"")' "$pkg/package.json" "$AGENT_BINARY"); \
      [ -n "$rel" ] || fail "$NPM_PACKAGE has no '$AGENT_BINARY' command"; \
      printf '#!/bin/sh\nexec /opt/adr/node/bin/node %s "$@"\n' "$pkg/$rel" > "/opt/adr/bin/$AGENT_BINARY"; \
      chmod 0755 "/opt/adr/bin/$AGENT_BINARY"; \
      "/opt/adr/bin/$AGENT_BINARY" --version >/dev/null 2>&1 || fail "'$AGENT_BINARY --version' fails in this image"; \
    else \
      command -v "$AGENT_BINARY" >/dev/null 2>&1 || fail "the image has no '$AGENT_BINARY'"; \
    fi; \
    for b in su mount umount passwd chsh chfn newgrp gpasswd sudo; do \
      rm -f "/bin/$b" "/usr/bin/$b" "/sbin/$b" "/usr/sbin/$b"; \
    done; \
    find / -xdev -perm /6000 -type f -exec chmod a-s {} + 2>/dev/null || true; \
    test -z "$(find / -xdev -perm /6000 -type f 2>/dev/null)" || fail "setuid files are left"; \
    if [ ! -L /etc/passwd ]; then \
      cp /etc/passwd /etc/passwd.adr-base; cp /etc/group /etc/group.adr-base; \
      ln -sf /run/adr/passwd /etc/passwd; ln -sf /run/adr/group /etc/group; \
    fi; \
    mkdir -p /workspace
ENV PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:/opt/adr/bin
# adr runs its own first process: the project's entry point is not in the way
ENTRYPOINT []
CMD []
WORKDIR /workspace
