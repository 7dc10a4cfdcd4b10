# The runner image (adr/runner): `adr runner` in a container, for engines
# that place containers themselves: a Docker Swarm global service (one
# runner per node), a Kubernetes DaemonSet.  Built by `adr build --runner`
# on top of adr/base (git is there), with the adr binaries this adr was
# installed with.
# Build context: this file, adr-entry.sh, runner-entry.sh, certs/, bin/adr,
# bin/adr-gateway.
# Build args:
#   BASE_IMAGE    the adr base image (default adr/base:latest)
ARG BASE_IMAGE=adr/base:latest
FROM ${BASE_IMAGE}
LABEL adr.runner="1"
COPY certs/ /usr/local/share/ca-certificates/adr/
# adr's own run-time libraries (Debian's, as on the host it was built on)
RUN set -eu; update-ca-certificates >/dev/null 2>&1; apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libcurl4 libjansson4 libssl3 libmicrohttpd12 libpq5 libsqlite3-0 libarchive13 libyaml-0-2 >/dev/null; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; mkdir -p /var/lib/apt/lists/partial
COPY bin/adr /usr/local/bin/adr
COPY bin/adr-gateway /usr/local/libexec/adr/adr-gateway
COPY runner-entry.sh /usr/local/bin/adr-runner-entry
RUN set -eu; chmod 0755 /usr/local/bin/adr /usr/local/libexec/adr/adr-gateway /usr/local/bin/adr-runner-entry; \
    adr --version >/dev/null
ENV ADR_RUNNER_ROOT=/var/lib/adr-runner
ENTRYPOINT ["/usr/local/bin/adr-runner-entry"]
