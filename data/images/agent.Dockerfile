# One generic Dockerfile for every agent image: agents are data, their npm
# package, version and binary come in as build arguments from the agent's
# definition file.  Built by `adr build` on top of adr/base.
# Build context: this file, adr-entry.sh, certs/ (extra CA *.crt, may be empty).
# Build args:
#   BASE_IMAGE    the adr base image (default adr/base:latest)
#   NPM_PACKAGE   npm package of the agent, e.g. @openai/codex
#   NPM_VERSION   exact version (or tag) to install
#   AGENT_BINARY  command the package must put on PATH, e.g. codex
#   AGENT_NAME    adr's name for the agent (image label adr.agent)
#   NPM_REGISTRY  npm registry ("" = npm's default)
ARG BASE_IMAGE=adr/base:latest
FROM ${BASE_IMAGE}
ARG NPM_PACKAGE
ARG NPM_VERSION
ARG AGENT_BINARY
ARG AGENT_NAME=
ARG NPM_REGISTRY=
LABEL adr.agent="${AGENT_NAME}" adr.npm-package="${NPM_PACKAGE}" adr.npm-version="${NPM_VERSION}"
# The sandbox's passwd/group are symlinks to files adr-entry writes at start
# into /run/adr (a tmpfs owned by the sandbox user).
# The base trusts these CAs already; repeated so that CAs added since the base
# was built are trusted too, before npm touches the network.
COPY certs/ /usr/local/share/ca-certificates/adr/
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN set -eu; update-ca-certificates >/dev/null 2>&1; \
    [ -z "$NPM_REGISTRY" ] || export npm_config_registry="$NPM_REGISTRY"; \
    export npm_config_update_notifier=false; \
    test -n "$NPM_PACKAGE" && test -n "$NPM_VERSION" && test -n "$AGENT_BINARY"; \
    npm install -g --omit=dev --no-fund --no-audit --loglevel=error "${NPM_PACKAGE}@${NPM_VERSION}"; \
    command -v "$AGENT_BINARY" >/dev/null || { echo "no '$AGENT_BINARY' on PATH after installing $NPM_PACKAGE" >&2; exit 1; }; \
    npm cache clean --force --loglevel=error; \
    rm -rf /root/.npm /root/.cache /root/.config /tmp/* /tmp/.[!.]*; \
    for b in su mount umount passwd chsh chfn newgrp gpasswd sudo; do \
      rm -f "/bin/$b" "/usr/bin/$b" "/sbin/$b" "/usr/sbin/$b"; \
    done; \
    find / -xdev -perm /6000 -type f -exec chmod a-s {} +; \
    test -z "$(find / -xdev -perm /6000 -type f)"; \
    if [ ! -L /etc/passwd ]; then \
      cp /etc/passwd /etc/passwd.adr-base; cp /etc/group /etc/group.adr-base; \
      ln -sf /run/adr/passwd /etc/passwd; ln -sf /run/adr/group /etc/group; \
    fi
WORKDIR /workspace
