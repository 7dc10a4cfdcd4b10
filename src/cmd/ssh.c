/* adr ssh: an ssh session in a persistent agent's sandbox (adr start
 * --ssh), or the ssh_config entry for one.  The connection is sshd -i run
 * through the engine's exec (ssh's ProxyCommand: 'adr exec'), so the
 * sandbox opens no port; the host key is the one adr made for the agent. */
#include "cmd.h"
#include "buf.h"
#include "fs.h"

#include <errno.h>
#include <glob.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
static const struct option ssh_options[] = {
  { "config", no_argument, NULL, 'c' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char ssh_help[] =
  "Opens an ssh session, as the sandbox user, in the sandbox of NAME, an agent\n"
  "started with 'adr start --ssh'; a COMMAND after '--' runs instead of a shell.\n"
  "Your keys (~/.ssh/id_*) are the ones let in; the sandbox's host key is\n"
  "checked.  No port is opened: ssh reaches sshd through the engine.\n\n"
  "  -c, --config   print an ssh_config entry (Host adr-NAME) for ssh, scp,\n"
  "                 rsync and editors' remote modes (VS Code Remote-SSH)\n\n"
  "Examples:\n"
  "  adr start claude --name fixer --ssh\n"
  "  adr ssh fixer\n"
  "  adr ssh fixer -- git -C /workspace log -1\n"
  "  adr ssh --config fixer >> ~/.ssh/config && ssh adr-fixer\n";

static int ssh_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  if (a->argc < 1)
    return usage_error(self, "which agent? (see 'adr ls')");
  const char *name = a->argv[0];
  int first = 1;
  if (first < a->argc && streq(a->argv[first], "--"))
    first++;
  bool config = args_has(a, 'c');
  if (config && first < a->argc)
    return usage_error(self, "--config takes no command");
  cleanup_pagent struct adr_pagent ag = { 0 };
  int bad = find_agent(ctx, name, &ag);
  if (bad)
    return bad;
  const char *on = adr_labels_get(&ag.c.labels, ADR_LABEL_SSH);
  const char *idir = adr_labels_get(&ag.c.labels, ADR_LABEL_IDENTITY);
  if (!on || !streq(on, "1") || !idir)
    return errorf("'%s' was not started with --ssh (adr start %s --name %s --ssh)", name, ag.agent ? ag.agent : "AGENT",
                  name);
  if (!config && !adr_pagent_running(&ag))
    return errorf("'%s' is not running (%s); see 'adr logs %s'", name, ag.c.state, name);
  char self_path[4096];
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
  if (n <= 0)
    return errorf("where is adr itself: %s", strerror(errno));
  self_path[n] = '\0';
  /* from the agent's repository: the name is unique there */
  struct buf pc;
  buf_init(&pc, 0);
  /* ssh runs it as "exec COMMAND" with sh: one program, the paths as its
   * arguments (the name is [a-z0-9._-]) */
  buf_printf(&pc, "/bin/sh -c 'cd \"$0\" && exec \"$1\" exec %s -- /usr/sbin/sshd -i -e -f /run/adr/ssh/sshd_config' ",
             name);
  buf_put_sh_word(&pc, ag.scope ? ag.scope : "/");
  buf_puts(&pc, " ");
  buf_put_sh_word(&pc, self_path);
  cleanup_free char *kh = xasprintf("%s/ssh/known_hosts", idir), *alias = xasprintf("adr-%s", name);
  /* the keys adr let in: ~/.ssh/id_* with a .pub (ssh's own defaults
   * follow the passwd entry's home, not $HOME) */
  cleanup_free char *home = adr_home_dir(), *pat = xasprintf("%s/.ssh/id_*.pub", home);
  cleanup_strv struct strv ids = { 0 };
  glob_t g = { 0 };
  if (glob(pat, 0, NULL, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++) {
      cleanup_free char *priv = xstrndup(g.gl_pathv[i], strlen(g.gl_pathv[i]) - 4);
      if (access(priv, R_OK) == 0)
        strv_push(&ids, priv);
    }
  globfree(&g);
  if (config) {
    printf(
      "Host %s\n  HostName %s\n  User agent\n  HostKeyAlias %s\n  UserKnownHostsFile %s\n"
      "  StrictHostKeyChecking yes\n",
      alias, alias, alias, kh);
    for (size_t i = 0; i < ids.n; i++)
      printf("  IdentityFile %s\n", ids.v[i]);
    printf("  ProxyCommand %s\n", pc.data);
    buf_free(&pc);
    return EXIT_OK;
  }
  cleanup_free char *o_pc = xasprintf("ProxyCommand=%s", pc.data), *o_kh = xasprintf("UserKnownHostsFile=%s", kh);
  cleanup_free char *o_alias = xasprintf("HostKeyAlias=%s", alias);
  buf_free(&pc);
  struct strv argv = { 0 };
  strv_push(&argv, "ssh");
  const char *opts[] = { o_pc, o_kh, o_alias, "StrictHostKeyChecking=yes", "User=agent", "LogLevel=ERROR" };
  for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
    strv_push(&argv, "-o");
    strv_push(&argv, opts[i]);
  }
  for (size_t i = 0; i < ids.n; i++) {
    strv_push(&argv, "-i");
    strv_push(&argv, ids.v[i]);
  }
  if (first < a->argc || !isatty(STDIN_FILENO))
    strv_push(&argv, "-T");
  strv_push(&argv, alias);
  for (int i = first; i < a->argc; i++)
    strv_push(&argv, a->argv[i]);
  fflush(NULL);
  execvp("ssh", argv.v);
  int e = errno;
  strv_free(&argv);
  return errorf("run ssh: %s%s", strerror(e), e == ENOENT ? " (apt-get install openssh-client)" : "");
}

const struct adr_cmd_entry cmd_ssh_entry = {
  .name = "ssh",
  .summary = "an ssh session in an agent started with --ssh",
  .usage = "adr ssh [--config] NAME [-- COMMAND...]",
  .help = ssh_help,
  .options = ssh_options,
  .shortopts = "hc",
  .complete = "names",
  .flags = CMD_ENGINE,
  .exec = ssh_exec,
};
