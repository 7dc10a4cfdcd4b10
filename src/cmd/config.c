/* adr config: show the merged configuration with origins; get/set/unset. */
#include "cmd.h"
#include "fmt.h"
#include "parse.h"

#include <jansson.h>

/* clang-format off */
static const struct option config_options[] = {
  { "project", no_argument, NULL, 'p' },
  { "json", no_argument, NULL, 'j' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char config_help[] =
  "Configuration is read from, in increasing precedence: built-in defaults,\n"
  "${XDG_CONFIG_HOME:-~/.config}/adr/config, the nearest .adr file walking\n"
  "up from the current directory, then command-line flags.  Files hold\n"
  "KEY=VALUE lines; '#' starts a comment; values may be 'single' or\n"
  "\"double\" quoted.\n\n"
  "Subcommands:\n"
  "  show            every value with where it came from (the default)\n"
  "  get KEY         print one value (exit 1 when unset)\n"
  "  set KEY=VALUE   set in the global file (--project: the nearest .adr,\n"
  "                  created in the current directory when there is none)\n"
  "  unset KEY       remove from the global file (or --project)\n"
  "  path            print the files that are read\n\n"
  "Options:\n"
  "  --project   edit the project's .adr instead of the global file\n"
  "  --json      (show) machine-readable output\n";

static void print_keys_help(FILE *out)
{
  size_t n;
  const struct adr_config_key *k = adr_config_keys(&n);
  fprintf(out, "Keys:\n");
  for (size_t i = 0; i < n; i++)
    fprintf(out, "  %-18s %s%s%s%s\n", k[i].name, k[i].help, k[i].def ? " (default: " : "", k[i].def ? k[i].def : "",
            k[i].def ? ")" : "");
}

static int show(struct adr_ctx *ctx, bool json)
{
  size_t n;
  const struct adr_config_key *keys = adr_config_keys(&n);
  json_t *arr = json_array();
  struct adr_table t;
  static const char *const hdr[] = { "KEY", "VALUE", "ORIGIN" };
  adr_table_init(&t, 3, hdr);
  /* known keys in table order, then pattern keys that are set */
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(keys[i].name);
    if (keys[i].name[l - 1] == '*') {
      for (size_t e = 0; e < ctx->s.config.n; e++) {
        const struct adr_config_entry *en = &ctx->s.config.e[e];
        if (strncmp(en->key, keys[i].name, l - 1) == 0) {
          const char *row[] = { en->key, en->value, en->origin };
          adr_table_add(&t, row);
          json_array_append_new(arr,
                                json_pack("{s:s, s:s, s:s}", "key", en->key, "value", en->value, "origin", en->origin));
        }
      }
      continue;
    }
    const struct adr_config_entry *en = adr_config_entry(&ctx->s.config, keys[i].name);
    const char *row[] = { keys[i].name, en ? en->value : "", en ? en->origin : "unset" };
    adr_table_add(&t, row);
    json_array_append_new(arr,
                          json_pack("{s:s, s:o, s:s}", "key", keys[i].name, "value",
                                    en ? json_string(en->value) : json_null(), "origin", en ? en->origin : "unset"));
  }
  if (json) {
    char *s = json_dumps(arr, JSON_INDENT(2));
    puts(s);
    free(s);
  } else {
    adr_table_print(&t, stdout);
  }
  json_decref(arr);
  adr_table_free(&t);
  return EXIT_OK;
}

static char *project_file(struct adr_ctx *ctx)
{
  char *p = ctx->s.cwd ? adr_config_find_project(ctx->s.cwd) : NULL;
  if (p)
    return p;
  return xasprintf("%s/.adr", ctx->s.cwd ? ctx->s.cwd : ".");
}

static int config_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  /* options may come before or after the subcommand */
  bool project = args_has(a, 'p'), json = args_has(a, 'j');
  char **args = a->argv;
  int nargs = a->argc;
  const char *sub = nargs > 0 ? args[0] : "show";
  cleanup_err adr_err err = NULL;

  if (streq(sub, "show") || streq(sub, "list")) {
    if (nargs > 1)
      return usage_error(self, "unexpected argument '%s'", args[1]);
    if (ctx_config(ctx, &err) < 0)
      return report(&err);
    return show(ctx, json);
  }
  if (streq(sub, "path")) {
    if (ctx_config(ctx, &err) < 0)
      return report(&err);
    printf("global:  %s\nproject: %s\n", ctx->s.config.global_path,
           ctx->s.config.project_path ? ctx->s.config.project_path : "(none)");
    return EXIT_OK;
  }
  if (streq(sub, "get")) {
    if (nargs != 2)
      return usage_error(self, "get takes exactly one KEY");
    if (ctx_config(ctx, &err) < 0)
      return report(&err);
    if (adr_config_key_find(args[1]) == NULL)
      return errorf("unknown config key '%s' (see 'adr config --help')", args[1]);
    const char *v = adr_config_get(&ctx->s.config, args[1]);
    if (v == NULL)
      return EXIT_FAIL;
    puts(v);
    return EXIT_OK;
  }
  if (streq(sub, "set")) {
    if (nargs < 2)
      return usage_error(self, "set needs KEY=VALUE");
    cleanup_free char *path = project ? project_file(ctx) : adr_config_global_path();
    for (int i = 1; i < nargs; i++) {
      const char *eq = strchr(args[i], '=');
      if (eq == NULL)
        return errorf("config set '%s': Expected KEY=VALUE format", args[i]);
      cleanup_free char *key = xstrndup(args[i], (size_t)(eq - args[i]));
      if (!adr_valid_env_name(key, strlen(key)))
        return errorf("config set '%s': Expected KEY=VALUE format (invalid key '%s')", args[i], key);
      if (adr_config_key_find(key) == NULL)
        return errorf("config set: unknown key '%s' (see 'adr config --help')", key);
      if (project && adr_config_key_find(key)->host_only)
        return errorf(
          "config set --project %s: not in a project file (an agent can write one); set it globally "
          "or with a flag",
          key);
      if (adr_config_validate(key, eq + 1, &err) < 0) {
        adr_err_prefix(&err, "config set %s", key);
        return report(&err);
      }
    }
    for (int i = 1; i < nargs; i++) {
      const char *eq = strchr(args[i], '=');
      cleanup_free char *key = xstrndup(args[i], (size_t)(eq - args[i]));
      if (adr_config_file_set(path, key, eq + 1, &err) < 0)
        return report(&err);
      fprintf(stderr, "%s set in %s\n", key, path);
    }
    return EXIT_OK;
  }
  if (streq(sub, "unset")) {
    if (nargs < 2)
      return usage_error(self, "unset needs KEY");
    cleanup_free char *path =
      project ? (ctx->s.cwd ? adr_config_find_project(ctx->s.cwd) : NULL) : adr_config_global_path();
    if (path == NULL)
      return errorf("config unset: no .adr file found from '%s' upwards", ctx->s.cwd ? ctx->s.cwd : ".");
    for (int i = 1; i < nargs; i++) {
      if (access(path, F_OK) != 0)
        break;
      if (adr_config_file_unset(path, args[i], &err) < 0)
        return report(&err);
    }
    return EXIT_OK;
  }
  return usage_error(self, "unknown subcommand '%s'", sub);
}

const struct adr_cmd_entry cmd_config_entry = {
  .name = "config",
  .summary = "show or change configuration",
  .usage =
    "adr config [show] [--json]\n       adr config get KEY\n       adr config set [--project] KEY=VALUE\n"
    "       adr config unset [--project] KEY\n       adr config path",
  .help = config_help,
  .options = config_options,
  .shortopts = "hpj",
  .complete = "config",
  .exec = config_exec,
  .more_help = print_keys_help,
};
