/* The dispatcher: a command's arguments parsed against its entry's
 * options (getopt, errors in adr's style), its positional arguments
 * checked, what it needs loaded, then the command run. */
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

bool args_has(const struct cmd_args *a, int id)
{
  for (size_t i = 0; i < a->n_opts; i++)
    if (a->opts[i].id == id)
      return true;
  return false;
}

const char *args_get(const struct cmd_args *a, int id)
{
  const char *v = NULL;
  for (size_t i = 0; i < a->n_opts; i++)
    if (a->opts[i].id == id)
      v = a->opts[i].value;
  return v;
}

void args_all(const struct cmd_args *a, int id, struct strv *out)
{
  for (size_t i = 0; i < a->n_opts; i++)
    if (a->opts[i].id == id && a->opts[i].value)
      strv_push(out, a->opts[i].value);
}

void args_free(struct cmd_args *a)
{
  free(a->opts);
  memset(a, 0, sizeof(*a));
}

/* Names a bad option as the user wrote it: getopt_long sets optopt to a
 * long option's short equivalent, which the user may never have typed. */
static void bad_option(const struct adr_cmd_entry *cmd, int argc, char **argv, const char *shortopts)
{
  const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
  if (bad && str_has_prefix(bad, "--") && bad[2]) {
    size_t n = strcspn(bad + 2, "=");
    const struct option *hit = NULL;
    size_t prefixes = 0; /* getopt_long takes an unambiguous prefix too */
    for (const struct option *o = cmd->options; o && o->name; o++)
      if (strncmp(o->name, bad + 2, n) == 0) {
        if (strlen(o->name) == n) {
          hit = o;
          prefixes = 1;
          break;
        }
        hit = o;
        prefixes++;
      }
    if (prefixes > 1)
      usage_error(cmd, "option '%.*s' is ambiguous", (int)(n + 2), bad);
    else if (hit && bad[2 + n] == '=' && hit->has_arg == no_argument)
      usage_error(cmd, "option '--%s' takes no value", hit->name);
    else if (hit)
      usage_error(cmd, "option '--%s' needs a value", hit->name);
    else
      usage_error(cmd, "unknown option '%.*s'", (int)(n + 2), bad);
  } else if (optopt && optopt < 256 && strchr(shortopts, optopt) && strchr(shortopts, optopt)[1] == ':') {
    usage_error(cmd, "option '-%c' needs a value", optopt);
  } else if (optopt && optopt < 256 && optopt != '?') {
    usage_error(cmd, "unknown option '-%c'", optopt);
  } else {
    usage_error(cmd, "unknown option '%s'", bad ? bad : "?");
  }
}

/* The first "--" that is not an option's value. */
static int find_dashdash(const struct adr_cmd_entry *cmd, int argc, char **argv)
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
      for (const struct option *o = cmd->options; o->name; o++)
        if (streq(o->name, a + 2) && o->has_arg == required_argument)
          i++;
    } else {
      const char *s = a[1] != ':' && a[1] != '+' ? strchr(cmd->shortopts, a[1]) : NULL;
      if (s && s[1] == ':' && a[2] == '\0')
        i++;
    }
  }
  return argc;
}

/* argv[0] is the command.  true: run it; false: *status is the exit
 * status (help printed, or a usage error reported). */
static bool parse(const struct adr_cmd_entry *cmd, int argc, char **argv, struct cmd_args *a, int *status)
{
  memset(a, 0, sizeof(*a));
  int end = cmd->flags & CMD_DASHDASH ? find_dashdash(cmd, argc, argv) : argc;
  opterr = 0;
  optind = 0; /* glibc: a full reset, the '+' of shortopts included */
  int c;
  while ((c = getopt_long(end, argv, cmd->shortopts, cmd->options, NULL)) != -1) {
    if (c == '?' || c == ':') {
      bad_option(cmd, end, argv, cmd->shortopts);
      *status = EXIT_USAGE;
      args_free(a);
      return false;
    }
    if (c == 'h') {
      print_cmd_help(cmd, stdout);
      if (cmd->more_help)
        cmd->more_help(stdout);
      *status = EXIT_OK;
      args_free(a);
      return false;
    }
    a->opts = xrealloc(a->opts, (a->n_opts + 1) * sizeof(*a->opts));
    a->opts[a->n_opts++] = (struct cmd_opt){ c, optarg };
  }
  a->argv = argv + optind;
  a->argc = end - optind;
  if (end < argc) {
    a->rest = argv + end + 1;
    a->n_rest = argc - end - 1;
  }
  return true;
}

static int check_args(const struct adr_cmd_entry *cmd, const struct cmd_args *a)
{
  if ((cmd->flags & CMD_NO_ARGS) && a->argc > 0)
    return usage_error(cmd, "unexpected argument '%s'", a->argv[0]);
  if ((cmd->flags & (CMD_ONE_AGENT | CMD_SOME_AGENTS)) && a->argc == 0)
    return usage_error(cmd, "which agent? (see 'adr ls')");
  if ((cmd->flags & CMD_ONE_AGENT) && a->argc > 1)
    return usage_error(cmd, "unexpected argument '%s'", a->argv[1]);
  return 0;
}

int cmd_dispatch(struct adr_ctx *ctx, const struct adr_cmd_entry *e, int argc, char **argv)
{
  struct cmd_args a;
  int status;
  if (!parse(e, argc, argv, &a, &status))
    return status;
  cleanup_err adr_err err = NULL;
  if ((status = check_args(e, &a)) != 0)
    ;
  else if (((e->flags & CMD_CONFIG) && ctx_config(ctx, &err) < 0) ||
           ((e->flags & CMD_AGENTS) && ctx_agents(ctx, &err) < 0) ||
           ((e->flags & CMD_ENGINE) && ctx_engine(ctx, &err) < 0))
    status = report(&err);
  else
    status = e->exec(ctx, e, &a);
  args_free(&a);
  return status;
}
