/* adr secret: the credentials adr's relay may use, kept by adr itself. */
#include "cmd.h"
#include "secret.h"

#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* clang-format off */
static const struct option secret_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char secret_help[] =
  "Keeps API keys and tokens for adr's credential relay, one per NAME (the\n"
  "environment variable the agent reads, e.g. ANTHROPIC_API_KEY), in\n"
  "~/.local/state/adr/secrets/NAME with mode 0600.  A stored secret wins\n"
  "over the host environment and the agent's own config files.  Its value\n"
  "never enters a sandbox: the sandbox gets a sentinel, and the relay in\n"
  "the sandbox's egress gateway puts the real value into requests to the\n"
  "agent's API.\n"
  "\n"
  "  set NAME    read the value from the terminal (not echoed) or stdin\n"
  "  ls          list the names (never the values)\n"
  "  rm NAME...  remove\n"
  "\n"
  "Example:\n"
  "  adr secret set ANTHROPIC_API_KEY\n"
  "  printf %s \"$KEY\" | adr secret set OPENAI_API_KEY\n";

/* The value: from a terminal without echo, else all of stdin (one trailing
 * newline dropped).  Bounded. */
static int read_value(const char *name, char **out, size_t *len, adr_err *err)
{
  bool tty = isatty(STDIN_FILENO);
  struct termios saved, quiet;
  if (tty) {
    fprintf(stderr, "value for %s: ", name);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
      tty = false;
    }
  }
  size_t cap = ADR_SECRET_MAX + 2, n = 0;
  char *buf = xmalloc(cap + 1);
  for (;;) {
    ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      if (tty)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
      explicit_bzero(buf, cap);
      free(buf);
      return adr_err_sys(err, e, "read the value of '%s'", name);
    }
    n += (size_t)r;
    if (r == 0 || n == cap || (tty && n && buf[n - 1] == '\n'))
      break;
  }
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputc('\n', stderr);
  }
  if (n && buf[n - 1] == '\n')
    n--;
  if (n && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int secret_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)ctx;
  int argc = args->argc, next = 0;
  char **argv = args->argv;
  if (next >= argc)
    return usage_error(self, "which subcommand? (set, ls, rm)");
  const char *sub = argv[next++];
  cleanup_free char *dir = adr_secret_dir();
  cleanup_err adr_err err = NULL;
  if (streq(sub, "set")) {
    if (argc - next != 1)
      return usage_error(self, "set takes one NAME");
    const char *name = argv[next];
    if (!adr_secret_name_valid(name)) {
      adr_secret_set(dir, name, "x", 1, &err);
      return report(&err);
    }
    char *v = NULL;
    size_t len = 0;
    if (read_value(name, &v, &len, &err) < 0)
      return report(&err);
    int r = adr_secret_set(dir, name, v, len, &err);
    explicit_bzero(v, len);
    free(v);
    if (r < 0)
      return report(&err);
    printf("stored secret '%s'\n", name);
    return EXIT_OK;
  }
  if (streq(sub, "ls") || streq(sub, "list")) {
    if (next != argc)
      return usage_error(self, "ls takes no arguments");
    cleanup_strv struct strv names = { 0 };
    if (adr_secret_list(dir, &names, &err) < 0)
      return report(&err);
    for (size_t i = 0; i < names.n; i++)
      printf("%s\n", names.v[i]);
    return EXIT_OK;
  }
  if (streq(sub, "rm") || streq(sub, "remove")) {
    if (next >= argc)
      return usage_error(self, "rm takes one or more NAMEs");
    int ret = EXIT_OK;
    for (int i = next; i < argc; i++) {
      int r = adr_secret_remove(dir, argv[i], &err);
      if (r < 0) {
        ret = report(&err);
        err = NULL;
      } else if (r == 1) {
        ret = errorf("no secret named '%s' (see 'adr secret ls')", argv[i]);
      } else {
        printf("removed secret '%s'\n", argv[i]);
      }
    }
    return ret;
  }
  return usage_error(self, "unknown subcommand '%s' (set, ls, rm)", sub);
}

const struct adr_cmd_entry cmd_secret_entry = {
  .name = "secret",
  .summary = "keep API keys for the credential relay (never in a sandbox)",
  .usage = "adr secret set NAME\n       adr secret ls\n       adr secret rm NAME...",
  .help = secret_help,
  .options = secret_options,
  .shortopts = "+h",
  .complete = "",
  .exec = secret_exec,
};
