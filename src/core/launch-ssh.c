/* adr start --ssh: what sshd -i needs in the sandbox, in its identity
 * directory (mounted read-only at /run/adr): a host key made here, the
 * user's public keys, and a configuration that lets only those keys in, as
 * the sandbox user, with the sandbox's environment.  sshd never listens:
 * adr ssh runs it through the engine's exec (ssh's ProxyCommand), so no
 * port is opened and the network policy is untouched. */
#include "launch-int.h"
#include "buf.h"
#include "fs.h"
#include "proc.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sandbox's environment an ssh session gets too (sshd gives sessions
 * a clean one): all but what sshd sets itself, values sshd_config can
 * hold. */
static void set_env(struct buf *b, const struct strv *env)
{
  static const char *const own[] = { "HOME=", "USER=", "LOGNAME=", "SHELL=", "PATH=", "TERM=", "MAIL=" };
  bool any = false;
  for (size_t i = 0; i < env->n; i++) {
    const char *kv = env->v[i];
    bool skip = strchr(kv, '=') == NULL || strpbrk(kv, "\"\\\n\r") != NULL;
    for (size_t k = 0; !skip && k < ARRAY_SIZE(own); k++)
      skip = str_has_prefix(kv, own[k]);
    if (!skip) /* one line: sshd takes the first SetEnv only */
      buf_printf(b, "%s\"%s\"", any ? " " : "SetEnv ", kv);
    any |= !skip;
  }
  if (any)
    buf_puts(b, "\n");
}

int launch_ssh_files(struct adr_launch *l, adr_err *err)
{
  cleanup_free char *dir = xasprintf("%s/ssh", l->identity_dir);
  if (adr_mkdir_p(dir, 0755, err) < 0)
    return -1;
  /* the user's public keys */
  cleanup_free char *pat = xasprintf("%s/.ssh/id_*.pub", l->home);
  glob_t g = { 0 };
  struct buf keys;
  buf_init(&keys, 1 << 20);
  if (glob(pat, 0, NULL, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++)
      if (buf_read_file(&keys, g.gl_pathv[i]) == 0 && keys.len && keys.data[keys.len - 1] != '\n')
        buf_append(&keys, "\n", 1);
  globfree(&g);
  if (!keys.len) {
    buf_free(&keys);
    return adr_err_set(err, ENOENT, "--ssh: no public key in %s/.ssh (id_*.pub); make one with ssh-keygen", l->home);
  }
  cleanup_free char *ak = xasprintf("%s/authorized_keys", dir);
  int r = write_file_atomic(ak, keys.data, keys.len, 0644);
  buf_free(&keys);
  if (r < 0)
    return adr_err_sys(err, errno, "write '%s'", ak);
  /* its host key, once per agent (a restart keeps it: known_hosts stays right) */
  cleanup_free char *hk = xasprintf("%s/host_ed25519_key", dir);
  if (access(hk, F_OK) != 0) {
    cleanup_free char *comment = xasprintf("adr-%s", l->pname ? l->pname : l->cname);
    const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", hk, NULL };
    struct buf e;
    buf_init(&e, 4096);
    struct adr_proc p = { .argv = argv, .errout = &e };
    int rc = adr_proc_run(&p, err);
    buf_free(&e);
    if (rc < 0)
      return adr_err_prefix(err, "--ssh: ssh-keygen is needed on the host (apt-get install openssh-client)");
    if (rc > 0)
      return adr_err_set(err, EIO, "--ssh: ssh-keygen failed (exit %d)", rc);
  }
  /* what the client is to trust: that key, under the alias adr ssh uses */
  cleanup_free char *pub = xasprintf("%s.pub", hk), *kh = xasprintf("%s/known_hosts", dir);
  struct buf pk;
  buf_init(&pk, 64 << 10);
  if (buf_read_file(&pk, pub) < 0 || !pk.data) {
    buf_free(&pk);
    return adr_err_sys(err, errno, "read '%s'", pub);
  }
  pk.data[strcspn(pk.data, "\n")] = '\0';
  char *sp = strchr(pk.data, ' ');
  sp = sp ? strchr(sp + 1, ' ') : NULL;
  if (sp)
    *sp = '\0'; /* type and key, without the comment */
  cleanup_free char *line = xasprintf("adr-%s %s\n", l->pname ? l->pname : l->cname, pk.data);
  buf_free(&pk);
  if (write_file_atomic(kh, line, strlen(line), 0644) < 0)
    return adr_err_sys(err, errno, "write '%s'", kh);
  struct buf c;
  buf_init(&c, 0);
  buf_puts(&c,
           "# adr start --ssh: sshd -i as the sandbox user, through adr ssh\n"
           "HostKey /run/adr/ssh/host_ed25519_key\n"
           "AuthorizedKeysFile /run/adr/ssh/authorized_keys\n"
           "PubkeyAuthentication yes\n"
           "PasswordAuthentication no\n"
           "KbdInteractiveAuthentication no\n"
           "UsePAM no\n"
           "StrictModes no\n"
           "PermitRootLogin no\n"
           "AllowUsers agent\n"
           "PidFile none\n"
           "X11Forwarding no\n"
           "PermitTunnel no\n"
           "AllowAgentForwarding no\n"
           "AllowTcpForwarding local\n" /* an editor's server inside, reached from the client */
           "GatewayPorts no\n"
           "PrintMotd no\n"
           "LogLevel ERROR\n"
           "Subsystem sftp internal-sftp\n");
  set_env(&c, &l->spec.env);
  cleanup_free char *cf = xasprintf("%s/sshd_config", dir);
  r = write_file_atomic(cf, c.data, c.len, 0644);
  buf_free(&c);
  if (r < 0)
    return adr_err_sys(err, errno, "write '%s'", cf);
  adr_spec_set_label(&l->spec, ADR_LABEL_SSH, "1");
  return 0;
}
