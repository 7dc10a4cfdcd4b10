/* adr serve: the coordinator of queued headless runs (core/coord.h): the
 * HTTP/JSON API clients submit runs to (adr submit, adr runs) and runners
 * claim them from.  'adr serve token add ROLE NAME' makes a token. */
#include "cmd.h"
#include "fs.h"
#include "coord.h"
#include "parse.h"
#include "paths.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum {
  OPT_LISTEN = 0x100,
  OPT_STORE,
  OPT_TOKENS,
  OPT_NO_AUTH,
  OPT_TLS_CERT,
  OPT_TLS_KEY,
  OPT_PROFILES,
  OPT_LEASE,
  OPT_ATTEMPTS
};

/* clang-format off */
static const struct option serve_options[] = {
  { "listen", required_argument, NULL, OPT_LISTEN },
  { "store", required_argument, NULL, OPT_STORE },
  { "tokens", required_argument, NULL, OPT_TOKENS },
  { "no-auth", no_argument, NULL, OPT_NO_AUTH },
  { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
  { "tls-key", required_argument, NULL, OPT_TLS_KEY },
  { "profiles", required_argument, NULL, OPT_PROFILES },
  { "lease", required_argument, NULL, OPT_LEASE },
  { "max-attempts", required_argument, NULL, OPT_ATTEMPTS },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char serve_help[] =
  "Serves the queue of headless runs: clients submit runs ('adr submit'),\n"
  "runners claim them ('adr runner'), over HTTP/JSON (docs/api.md).\n\n"
  "  --listen HOST:PORT     where (default 127.0.0.1:7878; port 0: any free one)\n"
  "  --store STORE          sqlite:PATH (default: sqlite:STATE/coordinator.db) or\n"
  "                         postgresql://... (several coordinators may share it)\n"
  "  --tokens FILE          the hashed tokens (default: CONFIG/coordinator.tokens)\n"
  "  --no-auth              no tokens at all: only with a loopback --listen\n"
  "  --tls-cert FILE, --tls-key FILE   HTTPS with this certificate and key (PEM)\n"
  "  --profiles DIR         NAME.json run profiles (default: CONFIG/profiles)\n"
  "  --lease DURATION       a claim's lease; a runner heartbeats within it (default 60s)\n"
  "  --max-attempts N       claims of a run before it counts as lost (default 3)\n\n"
  "  adr serve token add client|runner NAME   makes a token, prints it once\n\n"
  "Examples:\n"
  "  adr serve --no-auth\n"
  "  adr serve token add client alice\n"
  "  adr serve --listen 0.0.0.0:7878 --tls-cert cert.pem --tls-key key.pem\n";

static void on_ready(const char *addr, void *ud)
{
  const char *store = ud;
  printf("adr serve: listening on %s (store %s)\n", addr, store);
  fflush(stdout);
}

static int token_add(const struct adr_cmd_entry *self, struct cmd_args *a, const char *tokens)
{
  if (a->argc != 4 || !streq(a->argv[1], "add"))
    return usage_error(self, "adr serve token add client|runner NAME");
  cleanup_err adr_err err = NULL;
  cleanup_free char *tok = NULL;
  if (adr_coord_token_add(tokens, a->argv[2], a->argv[3], &tok, &err) < 0)
    return report(&err);
  printf("%s\n", tok);
  hintf("a %s token for '%s', stored hashed in %s; it is shown only now", a->argv[2], a->argv[3], tokens);
  explicit_bzero(tok, strlen(tok));
  return EXIT_OK;
}

static int serve_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  (void)ctx;
  cleanup_free char *cfg = adr_config_dir(), *state = adr_state_dir();
  cleanup_free char *dtokens = xasprintf("%s/coordinator.tokens", cfg);
  cleanup_free char *dprofiles = xasprintf("%s/profiles", cfg);
  cleanup_free char *dstore = xasprintf("sqlite:%s/coordinator.db", state);
  const char *tokens = args_get(a, OPT_TOKENS) ? args_get(a, OPT_TOKENS) : dtokens;
  cleanup_err adr_err err = NULL;
  if (a->argc > 0) {
    if (!streq(a->argv[0], "token"))
      return usage_error(self, "unexpected argument '%s'", a->argv[0]);
    if (!args_get(a, OPT_TOKENS) && adr_mkdir_p(cfg, 0700, &err) < 0)
      return report(&err);
    return token_add(self, a, tokens);
  }
  if (!args_get(a, OPT_STORE) && adr_mkdir_p(state, 0700, &err) < 0)
    return report(&err);
  struct adr_coord_opts o = {
    .store = args_get(a, OPT_STORE) ? args_get(a, OPT_STORE) : dstore,
    .no_auth = args_has(a, OPT_NO_AUTH),
    .profiles_dir = args_get(a, OPT_PROFILES) ? args_get(a, OPT_PROFILES) : dprofiles,
  };
  o.tokens_file = o.no_auth ? NULL : tokens;
  const char *listen = args_get(a, OPT_LISTEN) ? args_get(a, OPT_LISTEN) : "127.0.0.1:7878";
  if (o.no_auth && !adr_coord_loopback(listen))
    return usage_error(self, "--no-auth: only with a loopback --listen (127.0.0.1, ::1), not '%s'", listen);
  if (o.no_auth && args_get(a, OPT_TOKENS))
    return usage_error(self, "--no-auth and --tokens cannot be combined");
  if (args_get(a, OPT_LEASE)) {
    uint64_t s = 0;
    if (adr_parse_duration(args_get(a, OPT_LEASE), &s, &err) < 0 || s < 5 || s > 3600) {
      adr_err_free(&err);
      return usage_error(self, "--lease '%s': 5s to 1h", args_get(a, OPT_LEASE));
    }
    o.lease_ms = (int64_t)s * 1000;
  }
  if (args_get(a, OPT_ATTEMPTS)) {
    uint64_t n = 0;
    if (adr_parse_uint(args_get(a, OPT_ATTEMPTS), 100, &n) < 0 || n == 0)
      return usage_error(self, "--max-attempts '%s': 1 to 100", args_get(a, OPT_ATTEMPTS));
    o.max_attempts = (int)n;
  }
  if (!o.no_auth && access(tokens, R_OK) != 0)
    return errorf("no tokens in '%s': make one with 'adr serve token add client NAME' (or --no-auth on loopback)",
                  tokens);
  /* the signals go to a descriptor, in every thread the server starts */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0)
    return errorf("signalfd: %s", strerror(errno));
  struct adr_coord *c = NULL;
  int ret = EXIT_OK;
  if (adr_coord_open(&o, &c, &err) < 0 ||
      adr_coord_serve(c, listen, args_get(a, OPT_TLS_CERT), args_get(a, OPT_TLS_KEY), sfd, on_ready, (void *)o.store,
                      &err) < 0)
    ret = report(&err);
  adr_coord_close(c);
  close(sfd);
  return ret;
}

const struct adr_cmd_entry cmd_serve_entry = {
  .name = "serve",
  .summary = "serve the queue of headless runs (the coordinator)",
  .usage =
    "adr serve [--listen HOST:PORT] [--store STORE] [--tokens FILE | --no-auth] [--tls-cert F --tls-key F]\n"
    "adr serve token add client|runner NAME",
  .help = serve_help,
  .options = serve_options,
  .shortopts = "h",
  .complete = "",
  .flags = CMD_CONFIG,
  .exec = serve_exec,
};
