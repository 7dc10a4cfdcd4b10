/* adr run: one agent, one sandbox, on the current directory.
 *
 * argv + config + agent definition -> adr_run_opts -> adr_spec (runspec.c)
 * -> engine: create, attach (hijacked stream), start, wait, remove. */
#include "buf.h"
#include "builtin.h"
#include "cmd.h"
#include "idmap.h"
#include "parse.h"
#include "paths.h"
#include "runspec.h"
#include "creds.h"
#include "egress.h"
#include "image.h"
#include "secret.h"
#include "netpolicy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <termios.h>

#define ADR_TIMEOUT_MIN 5u /* seconds: less cannot even start an agent */

enum {
  OPT_CONFIG_FILE = 256, OPT_PROMPT, OPT_HEADLESS, OPT_SHELL, OPT_TAG, OPT_MODEL, OPT_ENV_FILE,
  OPT_TIMEOUT, OPT_MEMORY, OPT_CPUS, OPT_PIDS, OPT_UNSAFE, OPT_NAME, OPT_YES, OPT_BRANCH, OPT_NO_WORKTREE,
  OPT_NETWORK, OPT_ALLOW, OPT_ALLOW_PRESET, OPT_NO_RELAY,
};

/* The options adr run and adr start share (one macro, two tables). */
#define SANDBOX_OPTIONS \
  { "workspace", required_argument, NULL, 'w' }, \
  { "config", required_argument, NULL, 'c' }, \
  { "config-file", required_argument, NULL, OPT_CONFIG_FILE }, \
  { "prompt", required_argument, NULL, OPT_PROMPT }, \
  { "headless", no_argument, NULL, OPT_HEADLESS }, \
  { "shell", no_argument, NULL, OPT_SHELL }, \
  { "tag", required_argument, NULL, OPT_TAG }, \
  { "model", required_argument, NULL, OPT_MODEL }, \
  { "env", required_argument, NULL, 'e' }, \
  { "env-file", required_argument, NULL, OPT_ENV_FILE }, \
  { "mount", required_argument, NULL, 'm' }, \
  { "memory", required_argument, NULL, OPT_MEMORY }, \
  { "cpus", required_argument, NULL, OPT_CPUS }, \
  { "pids", required_argument, NULL, OPT_PIDS }, \
  { "unsafe", required_argument, NULL, OPT_UNSAFE }, \
  { "name", required_argument, NULL, OPT_NAME }, \
  { "network", required_argument, NULL, OPT_NETWORK }, \
  { "allow", required_argument, NULL, OPT_ALLOW }, \
  { "allow-preset", required_argument, NULL, OPT_ALLOW_PRESET }, \
  { "no-relay", no_argument, NULL, OPT_NO_RELAY }, \
  { "yes", no_argument, NULL, OPT_YES }, \
  { "help", no_argument, NULL, 'h' }

const struct option run_options[] = {
  SANDBOX_OPTIONS,
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { 0 },
};

/* adr start: no --timeout (nobody stays to enforce it); --branch and
 * --no-worktree */
const struct option start_options[] = {
  SANDBOX_OPTIONS,
  { "branch", required_argument, NULL, OPT_BRANCH },
  { "no-worktree", no_argument, NULL, OPT_NO_WORKTREE },
  { 0 },
};

const char run_help[] =
  "Runs AGENT (default: ADR_AGENT) in a hardened sandbox with the workspace\n"
  "mounted at /workspace and the agent's own configuration (e.g. ~/.claude)\n"
  "staged read-only and copied into the sandbox's HOME at start.  Arguments\n"
  "after '--' go to the agent.  The agent's exit status becomes adr's.\n\n"
  "Options:\n"
  "  -w, --workspace DIR      directory mounted at /workspace (default: .)\n"
  "  -c, --config DIR         stage DIR instead of the agent's config home\n"
  "      --config-file FILE   stage FILE as the agent's config file (claude)\n"
  "      --prompt TEXT        run headless with this prompt, then exit\n"
  "      --headless           run without a terminal (needs --prompt)\n"
  "      --shell              a bash shell in the agent's sandbox instead\n"
  "      --tag TAG            image tag (default: ADR_TAG)\n"
  "      --model MODEL        model (default: ADR_MODEL_<AGENT>); pi takes\n"
  "                           PROVIDER/MODEL\n"
  "  -e, --env KEY=VALUE      set a variable in the sandbox (repeatable)\n"
  "      --env-file FILE      KEY=VALUE lines (same syntax as config files)\n"
  "  -m, --mount HOST:CONTAINER[:ro|rw]\n"
  "                           extra mount, read-only unless ':rw' (repeatable;\n"
  "                           after ADR_MOUNTS from config)\n"
  "      --timeout DURATION   stop a headless run after 30s, 15m, 2h, 1d (a bare\n"
  "                           number is seconds; at least 5s): SIGTERM, 10 s\n"
  "                           grace, SIGKILL; exit status 124.  ADR_TIMEOUT\n"
  "                           applies to headless runs only; an interactive\n"
  "                           session is stopped only with --timeout (warned)\n"
  "      --memory SIZE        memory limit (default: ADR_MEMORY, 4g)\n"
  "      --cpus N             CPU limit (default: ADR_CPUS, 2)\n"
  "      --pids N             process limit (default: ADR_PIDS, 1024)\n"
  "      --name NAME          sandbox name (default: adr-AGENT-RANDOM)\n"
  "      --network MODE       allowlist (default: egress only through adr's\n"
  "                           gateway to allowed hosts), none, or open (all but\n"
  "                           the metadata address); ADR_NETWORK\n"
  "      --allow HOST[:PORT]  allow a host (*.example.com: its subdomains; an\n"
  "                           address or CIDR; no port: 80 and 443; repeatable;\n"
  "                           after ADR_ALLOW and the agent's API hosts)\n"
  "      --allow-preset NAME  packages: this host's package sources (apt, npm,\n"
  "                           pip, the workspace's git remotes)\n"
  "      --no-relay           no credential relay: the agent's config is staged\n"
  "                           whole and -e keys enter the sandbox (ADR_RELAY=off)\n"
  "      --unsafe WHAT        turn one protection off: writable-root,\n"
  "                           no-seccomp, new-privileges, no-limits\n"
  "      --yes                build a missing image without asking\n\n"
  "Hardening (always): no capabilities, no-new-privileges, read-only root,\n"
  "tmpfs HOME and /tmp, adr's seccomp profile, memory/cpu/pids limits, runs as\n"
  "your uid:gid (as ADR_SANDBOX_UID with an idmapped workspace when adr runs\n"
  "as root) so files in the workspace stay yours.\n\n"
  "Credentials: the agent's API keys (from -e, 'adr secret', the environment,\n"
  "or its own config files) never enter the sandbox.  It gets a sentinel and\n"
  "the relay's URL as its API base URL; the relay, in the egress gateway,\n"
  "swaps the sentinel for the key and talks TLS to the real API, on its\n"
  "declared paths only.  Login files (~/.claude/.credentials.json,\n"
  "~/.codex/auth.json, ...) are not staged.\n\n"
  "Examples:\n"
  "  adr run claude\n"
  "  adr run pi --prompt 'fix the failing test' --model anthropic/claude-sonnet-4-5\n"
  "  adr run codex -m ~/datasets:/data -e DEBUG=1 --timeout 30m\n"
  "  adr run claude --allow-preset packages --allow '*.internal.example:8443'\n";

/* ------------------------------------------------------------ signals */

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
  int saved = errno;
  unsigned char c = (unsigned char)sig;
  ssize_t r = write(sig_pipe[1], &c, 1);
  (void)r;
  errno = saved;
}

struct run_state {
  struct adr_ctx *ctx;
  const char *id;
  bool tty;
  uint64_t timeout;
  bool timed_out;
  int stop_phase;       /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
  int interrupted;      /* signal that stopped us */
  struct termios saved_tio;
  bool raw;
};

static void resize(struct run_state *st)
{
  struct winsize ws;
  if (st->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
    cleanup_err adr_err e = NULL;
    adr_engine_container_resize(st->ctx->engine, st->id, ws.ws_row, ws.ws_col, &e);
  }
}

static void escalate(struct run_state *st)
{
  cleanup_err adr_err e = NULL;
  if (st->stop_phase == 0) {
    st->stop_phase = 1;
    adr_engine_container_kill(st->ctx->engine, st->id, SIGTERM, &e);
    alarm(10);
  } else if (st->stop_phase == 1) {
    st->stop_phase = 2;
    adr_engine_container_kill(st->ctx->engine, st->id, SIGKILL, &e);
  }
}

static int on_wake(void *ud)
{
  struct run_state *st = ud;
  unsigned char sigs[64];
  ssize_t n = read(sig_pipe[0], sigs, sizeof(sigs));
  for (ssize_t i = 0; i < n; i++) {
    switch (sigs[i]) {
    case SIGWINCH:
      resize(st);
      break;
    case SIGALRM:
      if (st->stop_phase == 0 && st->timeout) {
        st->timed_out = true;
      }
      escalate(st);
      break;
    default: /* SIGINT, SIGTERM, SIGHUP */
      if (!st->interrupted)
        st->interrupted = sigs[i];
      escalate(st);
    }
  }
  return 0;
}

static int on_ready(void *ud, adr_err *err)
{
  struct run_state *st = ud;
  if (adr_engine_container_start(st->ctx->engine, st->id, err) < 0)
    return adr_err_prefix(err, "start sandbox");
  if (st->tty) {
    if (tcgetattr(STDIN_FILENO, &st->saved_tio) == 0) {
      struct termios raw = st->saved_tio;
      cfmakeraw(&raw);
      if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
        st->raw = true;
    }
    resize(st);
  }
  if (st->timeout)
    alarm((unsigned)st->timeout);
  return 0;
}

/* -------------------------------------------------------------- helpers */

/* Splits argv at the first "--" that is not an option's value. */
static int find_dashdash(const struct option *opts, int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (streq(a, "--"))
      return i;
    if (a[0] != '-' || a[1] == '\0')
      continue;
    if (a[1] == '-') {
      if (strchr(a, '='))
        continue;
      for (const struct option *o = opts; o->name; o++)
        if (streq(o->name, a + 2) && o->has_arg == required_argument)
          i++;
    } else if (strchr("wcem", a[1]) && a[2] == '\0') {
      i++;
    }
  }
  return argc;
}

static char *random_suffix(void)
{
  unsigned char b[4];
  if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
    unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);
    memcpy(b, &v, sizeof(b));
  }
  return xasprintf("%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

static const char *env_lookup(const char *key) { return getenv(key); }

static char *model_key(const char *agent)
{
  char *k = xasprintf("ADR_MODEL_%s", agent);
  for (char *p = k; *p; p++)
    *p = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
  return k;
}

struct mounts {
  struct adr_mount *v;
  size_t n;
};

static void mounts_free(struct mounts *m)
{
  for (size_t i = 0; i < m->n; i++)
    adr_mount_free(&m->v[i]);
  free(m->v);
}

static int add_mount(struct mounts *m, const char *spec, const char *cwd, const char *home, adr_err *err)
{
  struct adr_mount mt;
  if (adr_parse_mount(spec, cwd, home, &mt, err) < 0)
    return -1;
  for (size_t i = 0; i < m->n; i++)
    if (streq(m->v[i].container, mt.container)) {
      adr_err_set(err, EINVAL, "invalid mount '%s': '%s' is already mounted", spec, mt.container);
      adr_mount_free(&mt);
      return -1;
    }
  m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
  m->v[m->n++] = mt;
  return 0;
}

/* When adr runs as root, bind sources go through idmapped mounts so that
 * the unprivileged sandbox uid owns what root owns. */
static int idmap_spec(struct adr_spec *s, const char *dir, uid_t uid, gid_t gid, struct strv *made, adr_err *err)
{
  if (adr_mkdir_p(dir, 0700, err) < 0)
    return -1;
  for (size_t i = 0; i < s->n_mounts; i++) {
    struct adr_spec_mount *m = &s->mounts[i];
    if (m->type != ADR_MOUNT_BIND)
      continue;
    char *dst = xasprintf("%s/%zu", dir, i);
    if (adr_idmap_mount(m->source, dst, uid, gid, err) < 0) {
      free(dst);
      return -1;
    }
    strv_push_take(made, dst);
    free(m->source);
    m->source = xstrdup(made->v[made->n - 1]);
  }
  return 0;
}

static void idmap_cleanup(const char *dir)
{
  cleanup_err adr_err e = NULL;
  if (dir && adr_idmap_umount_dir(dir, &e) < 0)
    warnf("%s", e->msg);
}

/* No agent named and no ADR_AGENT: the one agent whose image is built,
 * said in one line; none or several is an error that lists them. */
static int pick_built_agent(struct adr_ctx *ctx, const char *tag, char **out, adr_err *err)
{
  if (ctx_engine(ctx, err) < 0)
    return -1;
  cleanup_strv struct strv built = { 0 };
  for (size_t i = 0; i < ctx->agents.n; i++) {
    cleanup_free char *img = agent_image(ctx, ctx->agents.v[i].name, tag);
    int r = adr_engine_image_inspect(ctx->engine, img, NULL, err);
    if (r < 0)
      return -1;
    if (r == 0)
      strv_push(&built, ctx->agents.v[i].name);
  }
  if (built.n == 1) {
    fprintf(stderr, "adr: no agent named; using '%s', the only one built (name one, or set ADR_AGENT)\n",
            built.v[0]);
    *out = xstrdup(built.v[0]);
    return 0;
  }
  struct buf list;
  buf_init(&list, 0);
  const struct strv *names = &built;
  struct strv all = { 0 };
  if (built.n == 0) {
    for (size_t i = 0; i < ctx->agents.n; i++)
      strv_push(&all, ctx->agents.v[i].name);
    names = &all;
  }
  for (size_t i = 0; i < names->n; i++)
    buf_printf(&list, "%s%s", i ? ", " : "", names->v[i]);
  if (built.n == 0)
    adr_err_set(err, EINVAL, "no agent named, ADR_AGENT is not set and no agent is built; build one with 'adr build "
                             "AGENT' (%s)", list.data ? list.data : "none defined");
  else
    adr_err_set(err, EINVAL, "no agent named and ADR_AGENT is not set; built: %s (name one, or 'adr config set "
                             "ADR_AGENT NAME')", list.data);
  buf_free(&list);
  strv_free(&all);
  return -1;
}

/* ------------------------------------------------------------------ run */

int cmd_run(struct adr_ctx *ctx, int argc, char **argv) { return run_main(ctx, argc, argv, false, NULL); }

/* ".NAME.starting" holding our pid while a start makes the worktree and the
 * sandbox: created exclusively, so two starts of one name cannot both get
 * here; a marker of a dead adr is taken over. */
static int start_marker(const char *path, const char *name, adr_err *err)
{
  cleanup_free char *pid = xasprintf("%ld\n", (long)getpid());
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ssize_t w = write(fd, pid, strlen(pid));
      close(fd);
      if (w != (ssize_t)strlen(pid)) {
        unlink(path);
        return adr_err_sys(err, EIO, "write '%s'", path);
      }
      return 0;
    }
    if (errno != EEXIST)
      return adr_err_sys(err, errno, "create '%s'", path);
    cleanup_buf struct buf b;
    buf_init(&b, 64);
    long other = buf_read_file(&b, path) == 0 && b.data ? strtol(b.data, NULL, 10) : 0;
    if (other > 0 && (kill((pid_t)other, 0) == 0 || errno == EPERM))
      return adr_err_set(err, EEXIST, "an agent named '%s' is being started by another adr (pid %ld)", name, other);
    unlink(path); /* left by a killed adr */
  }
  return adr_err_set(err, EEXIST, "an agent named '%s' is being started by another adr", name);
}

/* Picks the first free default name: AGENT, AGENT-2, AGENT-3, ... */
static char *free_name(struct adr_ctx *ctx, const char *scope, const char *agent, adr_err *err)
{
  struct pagent *v;
  size_t n;
  if (pagent_list(ctx, scope, &v, &n, err) < 0)
    return NULL;
  char *name = NULL;
  for (unsigned i = 1; i < 1000 && !name; i++) {
    char *cand = i == 1 ? xstrdup(agent) : xasprintf("%s-%u", agent, i);
    bool taken = false;
    for (size_t k = 0; k < n && !taken; k++)
      taken = streq(v[k].name, cand);
    if (taken)
      free(cand);
    else
      name = cand;
  }
  pagents_free(v, n);
  if (!name)
    adr_err_set(err, EEXIST, "no free name for another '%s' agent: use --name", agent);
  return name;
}

/* The relay found no key for the agent: say so before anything starts,
 * with the three ways to give one, and whether the agent can log in by
 * itself (its login hosts are allowlisted then; not with no network). */
static void warn_no_key(const struct adr_agent *agent, const struct adr_creds_plan *plan,
                        const struct adr_netpolicy *pol, bool headless)
{
  cleanup_free char *names = strv_join(&plan->key_names, ", ");
  cleanup_free char *hosts = strv_join(&agent->login_hosts, ", ");
  const char *what;
  cleanup_free char *own = NULL;
  if (headless)
    what = ": the run will fail at its first request";
  else if (pol->mode == ADR_NET_NONE)
    what = "; with no network it cannot log in by itself either";
  else if (agent->login_hosts.n)
    what = own = xasprintf("; it can only log in by itself (its login hosts are allowed: %s)", hosts);
  else
    what = "; it can only log in by itself";
  warnf("no API key found for %s (%s)%s", agent->name, names, what);
  hintf("give it one with 'adr secret set %s', in the host environment (%s=...), or use --no-relay to stage "
        "%s's own login",
        plan->key_names.v[0], plan->key_names.v[0], agent->name);
}

int run_main(struct adr_ctx *ctx, int argc, char **argv, bool persistent, const char *team)
{
  const struct adr_cmd *self = adr_cmd_find(persistent ? "start" : "run");
  int dd = find_dashdash(self->options, argc, argv);
  char *const *agent_args = dd < argc ? argv + dd + 1 : NULL;
  size_t n_agent_args = dd < argc ? (size_t)(argc - dd - 1) : 0;
  int pargc = dd;

  const char *workspace = NULL, *config_dir = NULL, *config_file = NULL, *prompt = NULL, *tag = NULL,
             *model = NULL, *timeout_s = NULL, *memory_s = NULL, *cpus_s = NULL, *pids_s = NULL,
             *name = NULL, *branch = NULL, *network = NULL;
  bool headless = false, shell = false, yes = false, no_worktree = false, no_relay = false;
  unsigned unsafe = 0;
  cleanup_strv struct strv env_flags = { 0 }, env_files = { 0 }, mount_flags = { 0 }, allow_flags = { 0 },
                           preset_flags = { 0 };
  cleanup_err adr_err err = NULL;
  int c;
  while ((c = next_opt(self, pargc, argv, "hw:c:e:m:", NULL)) != -1) {
    switch (c) {
    case 'w': workspace = optarg; break;
    case 'c': config_dir = optarg; break;
    case OPT_CONFIG_FILE: config_file = optarg; break;
    case OPT_PROMPT: prompt = optarg; break;
    case OPT_HEADLESS: headless = true; break;
    case OPT_SHELL: shell = true; break;
    case OPT_TAG: tag = optarg; break;
    case OPT_MODEL: model = optarg; break;
    case 'e': strv_push(&env_flags, optarg); break;
    case OPT_ENV_FILE: strv_push(&env_files, optarg); break;
    case 'm': strv_push(&mount_flags, optarg); break;
    case OPT_TIMEOUT: timeout_s = optarg; break;
    case OPT_MEMORY: memory_s = optarg; break;
    case OPT_CPUS: cpus_s = optarg; break;
    case OPT_PIDS: pids_s = optarg; break;
    case OPT_NAME: name = optarg; break;
    case OPT_BRANCH: branch = optarg; break;
    case OPT_NO_WORKTREE: no_worktree = true; break;
    case OPT_NETWORK: network = optarg; break;
    case OPT_ALLOW: strv_push(&allow_flags, optarg); break;
    case OPT_ALLOW_PRESET: strv_push(&preset_flags, optarg); break;
    case OPT_YES: yes = true; break;
    case OPT_NO_RELAY: no_relay = true; break;
    case OPT_UNSAFE:
      if (adr_unsafe_parse(optarg, &unsafe, &err) < 0)
        return usage_error(self, "%s", err->msg);
      break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (pargc - optind > 1)
    return usage_error(self, "unexpected argument '%s' (agent arguments go after '--')", argv[optind + 1]);
  if (prompt && shell)
    return usage_error(self, "--prompt and --shell cannot be combined");
  if (headless && !prompt)
    return usage_error(self, "--headless needs --prompt");
  if (prompt && *prompt == '\0')
    return usage_error(self, "--prompt is empty");
  if (prompt)
    headless = true;

  if (ctx_config(ctx, &err) < 0 || ctx_agents(ctx, &err) < 0)
    return report(&err);
  const char *agent_name = optind < pargc ? argv[optind] : adr_config_get(&ctx->config, "ADR_AGENT");
  cleanup_free char *picked = NULL;
  if (!agent_name) { /* none named, none configured: the only one built, said */
    if (pick_built_agent(ctx, tag, &picked, &err) < 0)
      return report(&err);
    agent_name = picked;
  }
  const struct adr_agent *agent = adr_agents_find(&ctx->agents, agent_name);
  if (agent == NULL) {
    adr_agents_unknown(&ctx->agents, agent_name, &err);
    return report(&err);
  }
  if (tag && adr_config_validate("ADR_TAG", tag, &err) < 0)
    return usage_error(self, "--tag: %s", err->msg);
  if (name && !adr_agent_name_valid(name))
    return usage_error(self, "--name '%s': use lowercase letters, digits, '-', '_', '.'", name);

  /* limits: flag > config */
  uint64_t timeout = 0, home_size = 0, tmp_size = 0, u = 0;
  int64_t nanocpus = 0;
  /* a timeout is for headless runs; an interactive session gets one only
   * when --timeout asks for it on the command line */
  const char *ts = timeout_s ? timeout_s : adr_config_get(&ctx->config, "ADR_TIMEOUT");
  cleanup_free char *tsrc = timeout_s ? xstrdup("--timeout")
                            : xasprintf("ADR_TIMEOUT (%s)", ts ? adr_config_entry(&ctx->config, "ADR_TIMEOUT")->origin : "");
  if (ts && *ts) {
    if (adr_parse_duration(ts, &timeout, &err) < 0) {
      adr_err_prefix(&err, "%s", tsrc);
      return report(&err);
    }
    if (timeout < ADR_TIMEOUT_MIN)
      return errorf("%s '%s': must be at least %us", tsrc, ts, ADR_TIMEOUT_MIN);
  }
  if (!headless && !persistent && timeout) {
    if (timeout_s)
      warnf("this interactive session will be stopped after %s (--timeout)", ts);
    else
      timeout = 0;
  }
  uint64_t memory = 0;
  if (adr_parse_size(memory_s ? memory_s : adr_config_get(&ctx->config, "ADR_MEMORY"), &memory, &err) < 0 ||
      adr_parse_cpus(cpus_s ? cpus_s : adr_config_get(&ctx->config, "ADR_CPUS"), &nanocpus, &err) < 0 ||
      adr_parse_size(adr_config_get(&ctx->config, "ADR_HOME_SIZE"), &home_size, &err) < 0 ||
      adr_parse_size(adr_config_get(&ctx->config, "ADR_TMP_SIZE"), &tmp_size, &err) < 0)
    return report(&err);
  if (memory && memory < (6u << 20))
    return errorf("--memory %s: at least 6m", memory_s ? memory_s : "");
  const char *pids_v = pids_s ? pids_s : adr_config_get(&ctx->config, "ADR_PIDS");
  if (adr_parse_uint(pids_v, 1u << 22, &u) < 0 || u == 0)
    return errorf("invalid process limit '%s'", pids_v);
  int64_t pids = (int64_t)u;

  /* network policy: flag > config > agent definition > allowlist */
  cleanup_netpolicy struct adr_netpolicy pol = { 0 };
  {
    const char *ms = network ? network : adr_config_get(&ctx->config, "ADR_NETWORK");
    if (!ms || !*ms)
      ms = agent->network ? agent->network : "allowlist";
    if (adr_netmode_parse(ms, &pol.mode, &err) < 0)
      return network ? usage_error(self, "--network: %s", err->msg) : report(&err);
    if (pol.mode != ADR_NET_ALLOWLIST && (allow_flags.n || preset_flags.n))
      return usage_error(self, "--allow and --allow-preset need --network allowlist (not %s)",
                         adr_netmode_name(pol.mode));
    adr_netpolicy_add_list(&pol, adr_config_get(&ctx->config, "ADR_ALLOW"), "ADR_ALLOW", &err);
    for (size_t i = 0; !err && i < allow_flags.n; i++)
      if (adr_netpolicy_add(&pol, allow_flags.v[i], "--allow", &err) < 0)
        adr_err_prefix(&err, "--allow");
    if (err)
      return report(&err);
    const char *cp = adr_config_get(&ctx->config, "ADR_ALLOW_PRESETS");
    if (pol.mode == ADR_NET_ALLOWLIST && cp && *cp) {
      cleanup_free char *c2 = xstrdup(cp);
      char *save = NULL;
      for (char *t = strtok_r(c2, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
        strv_push(&preset_flags, t);
    }
    for (size_t i = 0; i < preset_flags.n; i++) {
      bool ok = false;
      for (const char *const *pn = adr_netpolicy_preset_names(); *pn; pn++)
        ok = ok || streq(*pn, preset_flags.v[i]);
      if (!ok)
        return usage_error(self, "--allow-preset '%s': unknown preset (packages)", preset_flags.v[i]);
    }
  }

  /* workspace, mounts, env */
  cleanup_free char *home = adr_home_dir();
  cleanup_free char *ws = realpath(workspace ? workspace : (ctx->cwd ? ctx->cwd : "."), NULL);
  if (ws == NULL)
    return errorf("workspace '%s': %s", workspace ? workspace : ".", strerror(errno));
  struct stat st;
  if (stat(ws, &st) < 0 || !S_ISDIR(st.st_mode))
    return errorf("workspace '%s': not a directory", workspace ? workspace : ws);
  if (streq(ws, "/") || streq(ws, home))
    return errorf("workspace '%s': refusing to give an agent your whole %s", ws, streq(ws, "/") ? "filesystem" : "home directory");
  cleanup_free char *cfgdir = config_dir ? realpath(config_dir, NULL) : NULL;
  if (config_dir && cfgdir == NULL)
    return errorf("config directory '%s': %s", config_dir, strerror(errno));
  cleanup_free char *cfgfile = config_file ? realpath(config_file, NULL) : NULL;
  if (config_file && cfgfile == NULL)
    return errorf("config file '%s': %s", config_file, strerror(errno));

  struct mounts mounts = { 0 };
  const char *cfg_mounts = adr_config_get(&ctx->config, "ADR_MOUNTS");
  if (cfg_mounts) {
    cleanup_free char *copy = xstrdup(cfg_mounts);
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
      if (add_mount(&mounts, tok, ctx->cwd ? ctx->cwd : ws, home, &err) < 0) {
        mounts_free(&mounts);
        adr_err_prefix(&err, "ADR_MOUNTS (%s)", adr_config_entry(&ctx->config, "ADR_MOUNTS")->origin);
        return report(&err);
      }
  }
  for (size_t i = 0; i < mount_flags.n; i++)
    if (add_mount(&mounts, mount_flags.v[i], ctx->cwd ? ctx->cwd : ws, home, &err) < 0) {
      mounts_free(&mounts);
      return report(&err);
    }

  struct adr_run_opts o = { 0 };
  cleanup_strv struct strv unset = { 0 };
  for (size_t i = 0; i < env_files.n; i++)
    if (adr_parse_env_file(env_files.v[i], env_lookup, &o.env, &unset, &err) < 0) {
      mounts_free(&mounts);
      strv_free(&o.env);
      return report(&err);
    }
  for (size_t i = 0; i < unset.n; i++)
    warnf("--env-file %s is not set on the host; not passed", unset.v[i]);
  for (size_t i = 0; i < env_flags.n; i++) {
    const char *kv = env_flags.v[i];
    if (strchr(kv, '=') == NULL && adr_valid_env_name(kv, strlen(kv))) {
      const char *v = getenv(kv);
      if (v)
        strv_pushf(&o.env, "%s=%s", kv, v);
      else
        warnf("-e %s: %s is not set on the host; not passed", kv, kv);
      continue;
    }
    cleanup_free char *k = NULL, *v = NULL;
    if (adr_parse_env(kv, &k, &v, &err) < 0) {
      mounts_free(&mounts);
      strv_free(&o.env);
      return usage_error(self, "-e: %s", err->msg);
    }
    strv_push(&o.env, kv);
  }

  /* credentials: the agent's keys stay on the host; the sandbox gets
   * sentinels, and the relay in its egress gateway swaps them */
  cleanup_creds_plan struct adr_creds_plan plan = { 0 };
  bool relay = !no_relay && !streq(adr_config_get(&ctx->config, "ADR_RELAY"), "off");
  if (!relay)
    warnf("credential relay off (%s): the agent's config is staged whole and -e keys enter the sandbox",
          no_relay ? "--no-relay" : adr_config_entry(&ctx->config, "ADR_RELAY")->origin);
  {
    /* no mount (nor the workspace) reaches credentials past the planner */
    cleanup_free char *sdir0 = adr_state_dir(), *cdir0 = adr_config_dir();
    struct adr_creds_guard g = {
      .agents = &ctx->agents, .agent = agent, .home = home, .state_dir = sdir0, .config_dir = cdir0, .relay = relay,
    };
    cleanup_strv struct strv mnotes = { 0 };
    struct adr_mount wsm = { .host = ws, .container = (char *)ADR_SANDBOX_WORKSPACE };
    if (adr_creds_mount_check(&wsm, &g, &mnotes, &err) < 0) {
      mounts_free(&mounts);
      strv_free(&o.env);
      adr_err_prefix(&err, "workspace");
      return report(&err);
    }
    for (size_t i = 0; i < mounts.n; i++)
      if (adr_creds_mount_check(&mounts.v[i], &g, &mnotes, &err) < 0) {
        mounts_free(&mounts);
        strv_free(&o.env);
        return report(&err);
      }
    for (size_t i = 0; i < mnotes.n; i++)
      warnf("%s", mnotes.v[i]);
  }
  if (relay) {
    cleanup_free char *sdir = adr_secret_dir();
    struct adr_creds_in ci = {
      .agent = agent, .host_home = home, .config_dir = cfgdir, .config_file = cfgfile, .user_env = &o.env,
      .secrets_dir = sdir, .getenv = env_lookup,
    };
    if (adr_creds_plan(&ci, &plan, &err) < 0) {
      mounts_free(&mounts);
      strv_free(&o.env);
      return report(&err);
    }
    for (size_t i = 0; i < plan.notes.n; i++)
      warnf("%s: %s", agent->name, plan.notes.v[i]);
    /* what the planner took (keys, base URLs, configs it rewrote) never
     * goes in as the user passed it */
    struct strv kept = { 0 };
    for (size_t i = 0; i < o.env.n; i++) {
      size_t n = strcspn(o.env.v[i], "=");
      bool taken = false;
      for (size_t k = 0; k < plan.drop_env.n && !taken; k++)
        taken = strlen(plan.drop_env.v[k]) == n && strncmp(plan.drop_env.v[k], o.env.v[i], n) == 0;
      if (!taken)
        strv_push(&kept, o.env.v[i]);
    }
    for (size_t i = 0; i < kept.n; i++) {
      size_t n = strcspn(kept.v[i], "=");
      cleanup_free char *k = xstrndup(kept.v[i], n);
      if (adr_creds_secret_name(k)) {
        for (size_t j = 0; j < kept.n; j++)
          explicit_bzero(kept.v[j], strlen(kept.v[j]));
        strv_free(&kept);
        mounts_free(&mounts);
        strv_free(&o.env);
        return errorf("-e %s: looks like a credential, and %s's relay does not carry it: keys do not enter the "
                      "sandbox (name it in the agent's config, see 'man adr-run' CREDENTIALS, or use --no-relay)",
                      k, agent->name);
      }
    }
    for (size_t i = 0; i < plan.env.n; i++)
      strv_push(&kept, plan.env.v[i]);
    for (size_t i = 0; i < o.env.n; i++)
      explicit_bzero(o.env.v[i], strlen(o.env.v[i]));
    strv_free(&o.env);
    o.env = kept;
    o.stage_hide = &plan.hide;
    o.pre_args = &plan.args;
    if (plan.n_routes && pol.mode == ADR_NET_NONE)
      hintf("no network: the credential relay is off, the agent cannot reach its API");
  }
  cleanup_strv struct strv overlay_rels = { 0 };
  for (size_t i = 0; i < plan.n_overlays; i++)
    strv_push(&overlay_rels, plan.overlays[i].rel);
  o.stage_overlays = &overlay_rels;
  /* the agent's API hosts: reached through the relay when it carries the
   * agent's keys, else directly, with its login hosts (the agent logs in
   * by itself) */
  if (!plan.n_routes) {
    cleanup_free char *asrc = xasprintf("agent %s:", agent->name);
    const struct strv *hl[] = { &agent->api_hosts, &agent->login_hosts };
    for (size_t k = 0; k < ARRAY_SIZE(hl); k++)
      for (size_t i = 0; i < hl[k]->n; i++)
        if (adr_netpolicy_add(&pol, hl[k]->v[i], asrc, &err) < 0) {
          mounts_free(&mounts);
          strv_free(&o.env);
          return report(&err);
        }
  }
  if (relay && !plan.n_routes && plan.key_names.n && !shell)
    warn_no_key(agent, &plan, &pol, headless);

  cleanup_free char *mkey = model_key(agent->name);
  if (model == NULL)
    model = adr_config_get(&ctx->config, mkey);

  /* engine and image */
  int ret = EXIT_FAIL;
  cleanup_free char *image = agent_image(ctx, agent->name, tag);
  cleanup_free char *suffix = random_suffix();
  cleanup_free char *cname = persistent ? NULL : name ? xstrdup(name) : xasprintf("adr-%s-%s", agent->name, suffix);
  /* persistent agents: their repository (or workspace) and worktree */
  struct adr_repo repo = { 0 };
  struct adr_worktree wt = { 0 };
  bool made_wt = false, started = false;
  cleanup_free char *scope = NULL, *pname = NULL, *lock = NULL;
  cleanup_free char *idmap_dir = NULL;
  cleanup_free char *identity_dir = NULL, *overlay_dir = NULL;
  cleanup_free char *egress_dir = NULL;
  bool egress_made = false;
  cleanup_strv struct strv idmapped = { 0 };
  cleanup_free char *id = NULL;
  struct adr_spec spec;
  adr_spec_init(&spec);
  struct run_state rs = { .ctx = ctx };

  if (ctx_engine(ctx, &err) < 0)
    goto fail;
  ctx_reap(ctx);
  int have = adr_engine_image_inspect(ctx->engine, image, NULL, &err);
  if (have < 0)
    goto fail;
  if (have == 1) {
    cleanup_free char *q = xasprintf("Image %s is not built. Build it now?", image);
    if (!yes && !(isatty(STDIN_FILENO) && ask_yes(q, true))) {
      adr_err_set(&err, ENOENT, "image '%s' not found; build it with 'adr build %s%s%s'", image, agent->name,
                  tag ? " --tag " : "", tag ? tag : "");
      goto fail;
    }
    const struct adr_agent *one[] = { agent };
    if (build_images(ctx, one, 1, tag ? tag : adr_config_get(&ctx->config, "ADR_TAG"), false) != 0)
      goto out;
  }

  if (persistent) {
    int rr = adr_repo_find(ws, &repo, &err);
    if (rr < 0)
      goto fail;
    if (rr == 0)
      pagent_reap_starts(ctx, &repo);
    if (rr == 1 && branch) {
      adr_err_set(&err, EINVAL, "--branch: '%s' is not in a git repository", ws);
      goto fail;
    }
    if (branch && (!str_has_prefix(branch, "adr/") || !branch[4])) {
      adr_err_set(&err, EINVAL, "--branch '%s': an agent's branch must start with 'adr/' (the only refs it can write)",
                  branch);
      goto fail;
    }
    if (no_worktree && branch) {
      adr_err_set(&err, EINVAL, "--branch and --no-worktree cannot be combined");
      goto fail;
    }
    scope = xstrdup(rr == 0 ? repo.top : ws);
    pname = name ? xstrdup(name) : free_name(ctx, scope, agent->name, &err);
    if (!pname)
      goto fail;
    cleanup_free char *key = pagent_key(scope);
    cname = xasprintf("adr-%s-%s", pname, key);
    struct pagent *v;
    size_t n;
    if (pagent_list(ctx, scope, &v, &n, &err) < 0)
      goto fail;
    bool taken = false;
    for (size_t i = 0; i < n; i++)
      taken = taken || streq(v[i].name, pname);
    pagents_free(v, n);
    if (taken) {
      adr_err_set(&err, EEXIST, "an agent named '%s' already exists in %s (see 'adr ls')", pname, scope);
      goto fail;
    }
    if (rr == 0 && !no_worktree) {
      cleanup_free char *state = adr_state_dir();
      cleanup_free char *br = branch ? xstrdup(branch) : xasprintf("adr/%s", pname);
      /* a marker that a start is under way, so that no other adr takes the
       * half-made worktree for an orphan */
      cleanup_free char *ldir0 = xasprintf("%s/worktrees/%s", state, key);
      if (adr_mkdir_p(ldir0, 0700, &err) < 0)
        goto fail;
      /* the path without symlinks: git records it so in the worktree's
       * metadata, which adr checks before every git call */
      cleanup_free char *ldir = realpath(ldir0, NULL);
      if (!ldir) {
        adr_err_sys(&err, errno, "'%s'", ldir0);
        goto fail;
      }
      cleanup_free char *wtpath = xasprintf("%s/%s", ldir, pname);
      lock = xasprintf("%s/.%s.starting", ldir, pname);
      if (start_marker(lock, pname, &err) < 0) {
        free(lock);
        lock = NULL; /* not ours: never remove it */
        goto fail;
      }
      if (adr_worktree_add(&repo, wtpath, br, &wt, &err) < 0) {
        adr_err_prefix(&err, "start '%s'", pname);
        goto fail;
      }
      made_wt = true;
      free(ws);
      ws = xstrdup(wt.path);
    }
  }

  /* the name is free before anything is made under it: the identity files,
   * idmapped mounts, NAME-gw and NAME-net of a live sandbox of that name are
   * not ours to replace */
  {
    struct adr_container live = { 0 };
    int lr = adr_engine_container_inspect(ctx->engine, cname, &live, &err);
    adr_container_free(&live);
    if (lr < 0)
      goto fail;
    if (lr == 0) {
      if (persistent)
        adr_err_set(&err, EEXIST, "an agent named '%s' already exists in %s (see 'adr ls')", pname, scope);
      else
        adr_err_set(&err, EEXIST, "create sandbox '%s': name in use", cname);
      goto fail;
    }
  }

  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  bool root = getuid() == 0;
  uint64_t sbx = 1000;
  adr_parse_uint(adr_config_get(&ctx->config, "ADR_SANDBOX_UID"), UINT32_MAX - 1, &sbx);
  o.name = cname;
  o.image = image;
  o.workspace = ws;
  o.host_home = home;
  o.config_dir = cfgdir;
  o.config_file = cfgfile;
  o.prompt = prompt;
  o.headless = headless;
  o.shell = shell;
  o.interactive = !headless;
  /* a persistent agent gets a terminal whether or not adr start has one:
   * adr attach brings one later */
  o.tty = !headless && (persistent || (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)));
  o.model = model;
  o.term = getenv("TERM");
  o.mounts = mounts.v;
  o.n_mounts = mounts.n;
  o.agent_args = agent_args;
  o.n_agent_args = n_agent_args;
  o.uid = root ? (uid_t)sbx : getuid();
  o.gid = root ? (gid_t)sbx : getgid();
  o.memory = (int64_t)memory;
  o.nano_cpus = nanocpus;
  o.pids = pids;
  o.home_size = home_size;
  o.tmp_size = tmp_size;
  o.unsafe = unsafe;
  o.seccomp_profile = sc && sc->len > 2 ? (const char *)sc->data : NULL;
  {
    /* passwd/group made here and mounted read-only: the agent cannot edit
     * its own identity (the image's /etc/passwd points into /run/adr) */
    cleanup_free char *state = adr_state_dir();
    identity_dir = xasprintf("%s/run/%s", state, cname);
    if (adr_identity_write(identity_dir, o.uid, o.gid, &err) < 0)
      goto fail;
    o.identity_dir = identity_dir;
    overlay_dir = xasprintf("%s/stage", identity_dir);
    o.overlay_dir = overlay_dir;
  }
  if (adr_run_spec(&o, agent, &spec, &err) < 0)
    goto fail;
  /* the staged copies exist before their mounts are made (idmapped ones
   * too); the relay's address goes in once the network is up */
  for (size_t i = 0; i < plan.n_overlays; i++)
    if (adr_stage_overlay_write(identity_dir, plan.overlays[i].rel, plan.overlays[i].content, &err) < 0)
      goto fail;
  adr_spec_set_label(&spec, ADR_LABEL_IDENTITY, identity_dir);
  if (persistent) {
    spec.detachable = true;
    adr_spec_set_label(&spec, ADR_LABEL_KIND, "agent");
    adr_spec_set_label(&spec, ADR_LABEL_NAME, pname);
    adr_spec_set_label(&spec, ADR_LABEL_SCOPE, scope);
    if (team)
      adr_spec_set_label(&spec, ADR_LABEL_TEAM, team);
    if (made_wt) {
      adr_spec_set_label(&spec, ADR_LABEL_BRANCH, wt.branch);
      adr_spec_set_label(&spec, ADR_LABEL_WORKTREE, wt.path);
      adr_spec_set_label(&spec, ADR_LABEL_GITDIR, wt.gitdir);
      adr_spec_set_label(&spec, ADR_LABEL_BASE, wt.base);
      if (adr_worktree_mounts(&repo, &wt, &spec, &err) < 0)
        goto fail;
      /* no background gc inside: packed-refs is read-only there */
      strv_push(&spec.env, "GIT_CONFIG_COUNT=2");
      strv_push(&spec.env, "GIT_CONFIG_KEY_0=gc.auto");
      strv_push(&spec.env, "GIT_CONFIG_VALUE_0=0");
      strv_push(&spec.env, "GIT_CONFIG_KEY_1=maintenance.auto");
      strv_push(&spec.env, "GIT_CONFIG_VALUE_1=false");
    }
  } else {
    ctx_owner_labels(&spec.labels);
    adr_spec_set_label(&spec, ADR_LABEL_KIND, "run");
  }

  if (root) {
    cleanup_free char *state = adr_state_dir();
    idmap_dir = xasprintf("%s/mnt/%s", state, cname);
    adr_spec_set_label(&spec, ADR_LABEL_IDMAP, idmap_dir);
    if (idmap_spec(&spec, idmap_dir, o.uid, o.gid, &idmapped, &err) < 0)
      goto fail;
  }

  /* the network the policy allows: made before the sandbox, which joins it */
  {
    for (size_t i = 0; pol.mode == ADR_NET_ALLOWLIST && i < preset_flags.n; i++)
      if (adr_netpolicy_preset(&pol, preset_flags.v[i], ws, &err) < 0)
        goto fail;
    /* the workspace's git config is the agent's to write (in a plain run):
     * say which hosts it contributed, so a poisoned remote is seen */
    {
      struct buf gb;
      buf_init(&gb, 0);
      for (size_t i = 0; i < pol.n; i++)
        if (str_has_prefix(pol.v[i].label, "preset packages (git remote):"))
          buf_printf(&gb, "%s%s:%s", gb.len ? ", " : "", pol.v[i].pattern, pol.v[i].ports);
      if (gb.len) {
        cleanup_free char *shown = adr_str_escape(gb.data, 400);
        hintf("allowed from the workspace's git remotes: %s", shown);
      }
      buf_free(&gb);
    }
    cleanup_free char *state = adr_state_dir();
    egress_dir = xasprintf("%s/egress/%s", state, cname);
    cleanup_free char *gwbin = pol.mode == ADR_NET_NONE ? NULL : adr_gateway_bin(&err);
    if (pol.mode != ADR_NET_NONE && !gwbin)
      goto fail;
    cleanup_strv struct strv resolvers = { 0 }, glabels = { 0 };
    const char *dns = adr_config_get(&ctx->config, "ADR_DNS");
    if (dns && *dns) {
      cleanup_free char *c2 = xstrdup(dns);
      char *save = NULL;
      for (char *t = strtok_r(c2, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
        strv_push(&resolvers, t);
    }
    if (!persistent)
      ctx_owner_labels(&glabels);
    struct adr_egress_req er = {
      .sandbox = cname,
      .policy = &pol,
      .image = image,
      .gateway_bin = gwbin,
      .dir = egress_dir,
      .pool = adr_config_get(&ctx->config, "ADR_NETWORK_POOL"),
      .resolvers = &resolvers,
      .labels = &glabels,
      .uid = getuid(),
      .gid = getgid(),
    };
    cleanup_free char *routes = NULL;
    struct buf ca;
    buf_init(&ca, 0);
    if (plan.n_routes && pol.mode != ADR_NET_NONE) {
      cleanup_strv struct strv cas = { 0 };
      if (adr_extra_ca_files(adr_config_get(&ctx->config, "ADR_EXTRA_CA"), "/usr/local/share/ca-certificates", &cas,
                             &err) < 0 ||
          adr_ca_bundle(&cas, &ca, &err) < 0) {
        buf_free(&ca);
        goto fail;
      }
      routes = adr_creds_route_file(&plan);
      er.relay = routes;
      er.ca_pem = ca.data;
    }
    int up = adr_egress_up(ctx->engine, &er, &spec, &err);
    if (routes)
      explicit_bzero(routes, strlen(routes));
    buf_free(&ca);
    if (up < 0)
      goto fail;
    egress_made = pol.mode != ADR_NET_NONE;
  }

  /* the relay's address, now known, where the plan left a placeholder */
  if (plan.n_routes || plan.n_overlays) {
    cleanup_free char *url = adr_egress_relay_url(&spec);
    if (!url)
      url = xstrdup("http://127.0.0.1:9"); /* no network: nothing answers */
    for (size_t i = 0; i < spec.env.n; i++)
      if (strstr(spec.env.v[i], ADR_RELAY_PLACEHOLDER)) {
        char *v = adr_creds_subst(spec.env.v[i], url);
        free(spec.env.v[i]);
        spec.env.v[i] = v;
      }
    for (size_t i = 0; i < spec.cmd.n; i++)
      if (strstr(spec.cmd.v[i], ADR_RELAY_PLACEHOLDER)) {
        char *v = adr_creds_subst(spec.cmd.v[i], url);
        free(spec.cmd.v[i]);
        spec.cmd.v[i] = v;
      }
    for (size_t i = 0; i < plan.n_overlays; i++) {
      cleanup_free char *c2 = adr_creds_subst(plan.overlays[i].content, url);
      if (adr_stage_overlay_write(identity_dir, plan.overlays[i].rel, c2, &err) < 0)
        goto fail;
    }
  }

  if (adr_engine_container_create(ctx->engine, &spec, &id, &err) < 0) {
    if (persistent && err->errnum == EEXIST)
      adr_err_set(&err, EEXIST, "an agent named '%s' already exists in %s (see 'adr ls')", pname, scope);
    else
      adr_err_prefix(&err, "create sandbox '%s'", cname);
    goto fail;
  }

  if (persistent) {
    if (adr_engine_container_start(ctx->engine, id, &err) < 0) {
      adr_err_prefix(&err, "start sandbox '%s'", cname);
      goto fail;
    }
    started = true;
    if (lock)
      unlink(lock);
    if (!team) { /* adr team says it all at once */
      printf("started '%s' (%s%s%s)\n", pname, agent->name, made_wt ? ", branch " : "", made_wt ? wt.branch : "");
      if (headless)
        hintf("follow it with 'adr logs -f %s'", pname);
      else
        hintf("'adr attach %s' to talk to it (detach with Ctrl-P Ctrl-Q)", pname);
    }
    ret = EXIT_OK;
    goto out;
  }

  /* signals arrive through a pipe the attach loop watches */
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    adr_err_sys(&err, errno, "pipe");
    goto fail;
  }
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset(&sa.sa_mask);
  int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGWINCH, SIGQUIT };
  for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
    sigaction(sigs[i], &sa, NULL);

  rs.id = id;
  rs.tty = o.tty;
  rs.timeout = timeout;
  struct adr_attach at = {
    .in_fd = o.interactive ? STDIN_FILENO : -1,
    .out_fd = STDOUT_FILENO,
    .err_fd = STDERR_FILENO,
    .tty = o.tty,
    .on_ready = on_ready,
    .wake_fd = sig_pipe[0],
    .on_wake = on_wake,
    .ud = &rs,
  };
  int ar = adr_engine_container_attach(ctx->engine, id, &at, &err);
  alarm(0);
  if (rs.raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &rs.saved_tio);
  if (ar < 0)
    goto fail;
  int code = 0;
  if (adr_engine_container_wait(ctx->engine, id, &code, &err) < 0)
    goto fail;
  if (rs.timed_out) {
    fprintf(stderr, "Error: Task terminated due to timeout (max %s exceeded)\n", ts);
    ret = 124;
  } else if (rs.interrupted) {
    ret = 128 + rs.interrupted;
  } else {
    ret = code;
  }
  goto out;

fail:
  ret = report(&err);
out:
  if (started) { /* a persistent agent keeps its sandbox, mounts and worktree */
    adr_worktree_free(&wt);
    adr_repo_free(&repo);
    adr_spec_free(&spec);
    mounts_free(&mounts);
    strv_free(&o.env);
    return ret;
  }
  if (id) {
    cleanup_err adr_err e2 = NULL;
    if (adr_engine_container_remove(ctx->engine, id, true, &e2) < 0)
      warnf("remove sandbox '%s': %s", cname, e2->msg);
  }
  if (egress_made) {
    cleanup_err adr_err e5 = NULL;
    if (adr_egress_down(ctx->engine, cname, egress_dir, &e5) < 0)
      warnf("%s", e5->msg);
    if (id && pol.mode == ADR_NET_ALLOWLIST) { /* what the run was refused, in one line */
      cleanup_free char *logp = adr_egress_log_path(egress_dir);
      cleanup_free char *top = NULL;
      size_t nd = 0;
      if (adr_egress_denials(logp, &nd, &top, &e5) == 0 && nd)
        hintf("egress: %zu request%s denied (%s); see 'adr logs --egress %s'", nd, nd == 1 ? "" : "s", top, cname);
    }
  }
  if (made_wt) { /* fresh: no commits of the agent's to lose */
    cleanup_err adr_err e4 = NULL;
    if (adr_worktree_remove(&repo, &wt, true, &e4) < 0)
      warnf("remove worktree '%s': %s", wt.path, e4->msg);
  }
  if (lock)
    unlink(lock);
  adr_worktree_free(&wt);
  adr_repo_free(&repo);
  idmap_cleanup(idmap_dir);
  if (identity_dir) {
    cleanup_err adr_err e3 = NULL;
    if (adr_identity_remove(identity_dir, &e3) < 0)
      warnf("%s", e3->msg);
  }
  adr_spec_free(&spec);
  mounts_free(&mounts);
  strv_free(&o.env);
  return ret;
}
