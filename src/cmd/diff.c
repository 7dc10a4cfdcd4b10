/* adr diff: what a persistent agent changed against the commit it started
 * from, committed and uncommitted, new files included. */
#include "cmd.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
static const struct option diff_options[] = {
  { "stat", no_argument, NULL, 's' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char diff_help[] =
  "Shows what the agent NAME changed in its worktree against the commit its\n"
  "branch started from: its commits and its uncommitted changes, and new\n"
  "files it has not added.  git runs with hooks, external diff and textconv\n"
  "programs, pagers and fsmonitor switched off: nothing the agent wrote runs\n"
  "on your machine.\n\n"
  "Options:\n"
  "      --stat    a summary (files and lines) instead of the patch\n";

static int write_out(const struct buf *b)
{
  size_t off = 0;
  while (b->data && off < b->len) {
    ssize_t w = write(STDOUT_FILENO, b->data + off, b->len - off);
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  return 0;
}

static int diff_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  bool stat = args_has(args, 's');
  const char *name = args->argv[0];
  struct adr_pagent a;
  int bad = find_agent(ctx, name, &a);
  if (bad)
    return bad;
  cleanup_err adr_err err = NULL;
  int ret = EXIT_FAIL;
  const char *color = isatty(STDOUT_FILENO) ? "--color=always" : "--color=never";
  cleanup_buf struct buf out, files, tip, part;
  buf_init(&out, 0);
  buf_init(&files, 0);
  buf_init(&tip, 4096);
  buf_init(&part, 0);
  cleanup_free char *ref = NULL;
  if (!a.has_worktree) {
    errorf("'%s' works directly in %s (no branch of its own): nothing to compare", name,
           a.workspace ? a.workspace : "its workspace");
    goto done;
  }
  /* 1. the branch: exactly what adr merge brings in */
  ref = xasprintf("refs/heads/%s^{commit}", a.wt.branch);
  if (adr_git_repo(&a.repo, false, &tip, &err, "rev-parse", "--verify", "--quiet", ref, NULL) != 0 ||
      !*adr_git_trim(&tip)) {
    adr_err_set(&err, ENOENT, "its branch %s no longer exists", a.wt.branch);
    goto fail;
  }
  if (adr_git_wt(&a.repo, a.wt.gitdir, a.wt.path, true, &part, &err, "diff", "--no-ext-diff", "--no-textconv", color,
                 stat ? "--stat" : "--patch", a.wt.base, tip.data, "--", NULL) < 0)
    goto fail;
  if (part.len) {
    buf_printf(&out, "### committed on %s (what 'adr merge %s' brings in)\n", a.wt.branch, name);
    buf_append(&out, part.data, part.len);
  }
  /* 2. the worktree against the branch: not committed, not merged */
  buf_reset(&part);
  if (adr_git_wt(&a.repo, a.wt.gitdir, a.wt.path, true, &part, &err, "diff", "--no-ext-diff", "--no-textconv",
                 "--ignore-submodules=dirty", color, stat ? "--stat" : "--patch", tip.data, "--", NULL) < 0)
    goto fail;
  bool header = false;
  if (part.len) {
    buf_printf(&out, "### in its worktree, not committed (not merged)\n");
    header = true;
    buf_append(&out, part.data, part.len);
  }
  /* new files the agent did not add: shown as additions */
  if (adr_git_wt(&a.repo, a.wt.gitdir, a.wt.path, true, &files, &err, "ls-files", "--others", "--exclude-standard",
                 "-z", NULL) < 0)
    goto fail;
  buf_reset(&part);
  for (size_t off = 0; files.data && off < files.len;) {
    const char *f = files.data + off;
    size_t fl = strlen(f);
    off += fl + 1;
    if (!fl)
      continue;
    int st = adr_git_wt(&a.repo, a.wt.gitdir, a.wt.path, false, &part, &err, "diff", "--no-index", "--no-ext-diff",
                        "--no-textconv", color, stat ? "--stat" : "--patch", "--", "/dev/null", f, NULL);
    if (st < 0 || st > 1)
      goto fail;
  }
  if (part.len) {
    if (!header)
      buf_printf(&out, "### in its worktree, not committed (not merged)\n");
    buf_append(&out, part.data, part.len);
  }
  if (write_out(&out) < 0) {
    errorf("write: %s", strerror(errno));
    goto done;
  }
  ret = EXIT_OK;
  goto done;
fail:
  adr_err_prefix(&err, "diff '%s'", name);
  ret = report(&err);
done:
  adr_pagent_free(&a);
  return ret;
}

const struct adr_cmd_entry cmd_diff_entry = {
  .name = "diff",
  .summary = "show what a persistent agent changed",
  .usage = "adr diff [--stat] NAME",
  .help = diff_help,
  .options = diff_options,
  .shortopts = "h",
  .complete = "names",
  .flags = CMD_ONE_AGENT | CMD_ENGINE,
  .exec = diff_exec,
};
