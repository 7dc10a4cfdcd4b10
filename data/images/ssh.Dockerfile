# adr start --ssh: sshd added to the sandbox's image (an agent's, or a
# project layer), built by adr once per image.  sshd never listens: `adr
# ssh` (or an ssh_config's ProxyCommand) runs `sshd -i` through the
# engine's exec as the sandbox user, over that process's stdin/stdout.
# Build context: this file, adr-entry.sh, certs/.
# Build args:
#   BASE_IMAGE  the image to add it to (its ID)
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
USER 0
COPY certs/ /usr/local/share/ca-certificates/adr/
RUN set -eu; fail() { echo "adr-layer-error: $*"; exit 3; }; \
    command -v apt-get >/dev/null 2>&1 || fail "the image has no apt-get: adr installs sshd with Debian's package"; \
    update-ca-certificates >/dev/null 2>&1 || true; \
    linked=0; if [ -L /etc/passwd ]; then linked=1; rm -f /etc/passwd /etc/group; \
      cp /etc/passwd.adr-base /etc/passwd; cp /etc/group.adr-base /etc/group; fi; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; mkdir -p /var/lib/apt/lists/partial; \
    rm -f /etc/ssh/ssh_host_*; \
    if [ "$linked" = 1 ]; then cp /etc/passwd /etc/passwd.adr-base; cp /etc/group /etc/group.adr-base; \
      ln -sf /run/adr/passwd /etc/passwd; ln -sf /run/adr/group /etc/group; fi; \
    find / -xdev -perm /6000 -type f -exec chmod a-s {} + 2>/dev/null || true; \
    test -z "$(find / -xdev -perm /6000 -type f 2>/dev/null)" || fail "setuid files are left"; \
    /usr/sbin/sshd -V 2>&1 | head -1 || true
