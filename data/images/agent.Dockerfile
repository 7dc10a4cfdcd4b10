# One generic Dockerfile for every agent image: agents are data, their npm
# package, version and binary come in as build arguments from the agent's
# definition file.  Built by `adr build` on top of adr/base.
ARG BASE_IMAGE=adr/base:latest
FROM ${BASE_IMAGE}
ARG NPM_PACKAGE
ARG NPM_VERSION
ARG AGENT_BINARY
ARG AGENT_NAME
ARG NPM_REGISTRY=
RUN set -eu; [ -z "$NPM_REGISTRY" ] || export npm_config_registry="$NPM_REGISTRY"; \
    test -n "$NPM_PACKAGE" && test -n "$NPM_VERSION" && test -n "$AGENT_BINARY"; \
    npm install -g --omit=dev --no-fund --no-audit --loglevel=error "${NPM_PACKAGE}@${NPM_VERSION}"; \
    command -v "$AGENT_BINARY" >/dev/null || { echo "no '$AGENT_BINARY' after installing $NPM_PACKAGE" >&2; exit 1; }; \
    rm -rf /root/.npm /root/.cache /tmp/* /tmp/.[!.]*; \
    find / -xdev \( -perm -4000 -o -perm -2000 \) -type f -exec chmod ug-s {} +; \
    cp /etc/passwd /etc/passwd.adr-base; cp /etc/group /etc/group.adr-base; \
    ln -sf /run/adr/passwd /etc/passwd; ln -sf /run/adr/group /etc/group
