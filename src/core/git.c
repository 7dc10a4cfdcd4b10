#include "git.h"
#include "paths.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void adr_repo_free(struct adr_repo *r)
{
  free(r->top);
  free(r->common_dir);
  r->top = r->common_dir = NULL;
}

/* Variables that would redirect git away from what we name explicitly. */
static const char *const git_unset[] = {
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_CONFIG",
  "GIT_CONFIG_PARAMETERS",
  "GIT_CONFIG_COUNT",
  "GIT_EXTERNAL_DIFF",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_ASKPASS",
  "GIT_EDITOR",
  "GIT_SEQUENCE_EDITOR",
  "GIT_PAGER",
  "GIT_EXEC_PATH",
  "GIT_NAMESPACE",
  "GIT_CEILING_DIRECTORIES",
  "GIT_DISCOVERY_ACROSS_FILESYSTEM",
  NULL,
};
static const char *const git_env[] = {
  "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "PAGER=cat", "GIT_EDITOR=true", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C", NULL,
};

/* Everything that can make git start a program, off. */
static const char *const wt_hardening[] = {
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "-c",
  "core.sshCommand=false",
  "-c",
  "core.pager=cat",
  "-c",
  "core.editor=true",
  "-c",
  "sequence.editor=true",
  "-c",
  "core.askPass=true",
  "-c",
  "credential.helper=",
  "-c",
  "core.gitProxy=",
  "-c",
  "diff.external=",
  "-c",
  "commit.gpgSign=false",
  "-c",
  "tag.gpgSign=false",
  "-c",
  "gpg.program=false",
  "-c",
  "core.alternateRefsCommand=",
  "-c",
  "protocol.allow=never",
  "-c",
  "uploadpack.packObjectsHook=",
  "-c",
  "core.untrackedCache=false",
  "-c",
  "advice.detachedHead=false",
  /* never look inside submodules: their config is the agent's */
  "-c",
  "diff.ignoreSubmodules=dirty",
  "-c",
  "submodule.recurse=false",
  "-c",
  "status.submoduleSummary=false",
  NULL,
};

static int run_git(const char *dir, struct strv *args, bool check, struct buf *out, adr_err *err)
{
  struct buf eb, sink;
  buf_init(&eb, 0);
  buf_init(&sink, 0);
  struct adr_proc p = {
    .argv = (const char *const *)args->v,
    .dir = dir,
    .env = git_env,
    .unset = git_unset,
    .out = out ? out : &sink,
    .errout = &eb,
  };
  int st = adr_proc_run(&p, err);
  buf_free(&sink);
  if (st < 0) {
    buf_free(&eb);
    return -1;
  }
  if (st != 0 && check) {
    /* the subcommand and git's first error line */
    const char *sub = "";
    for (size_t i = 1; i < args->n; i++)
      if (args->v[i][0] != '-' && !(i > 1 && streq(args->v[i - 1], "-c"))) {
        sub = args->v[i];
        break;
      }
    char *msg = eb.data ? eb.data : xstrdup("");
    if (!eb.data)
      eb.data = msg;
    char *nl = strchr(msg, '\n');
    while (nl && nl[1] && (strncmp(msg, "hint:", 5) == 0 || *msg == '\0')) {
      msg = nl + 1;
      nl = strchr(msg, '\n');
    }
    if (nl)
      *nl = '\0';
    if (str_has_prefix(msg, "fatal: "))
      msg += 7;
    else if (str_has_prefix(msg, "error: "))
      msg += 7;
    adr_err_set(err, EIO, "git %s: %s", sub, *msg ? msg : "failed");
    buf_free(&eb);
    return -1;
  }
  buf_free(&eb);
  return st;
}

int adr_git_repo(const struct adr_repo *r, bool check, struct buf *out, adr_err *err, const char *arg, ...)
{
  struct strv a = { 0 };
  strv_push(&a, "git");
  strv_push(&a, "--no-pager");
  va_list ap;
  va_start(ap, arg);
  for (const char *s = arg; s; s = va_arg(ap, const char *))
    strv_push(&a, s);
  va_end(ap);
  int st = run_git(r->top, &a, check, out, err);
  strv_free(&a);
  return st;
}

int adr_git_repov(const struct adr_repo *r, bool check, struct buf *out, adr_err *err, const char *const *args)
{
  struct strv a = { 0 };
  strv_push(&a, "git");
  strv_push(&a, "--no-pager");
  for (const char *const *p = args; *p; p++)
    strv_push(&a, *p);
  int st = run_git(r->top, &a, check, out, err);
  strv_free(&a);
  return st;
}

int adr_git_wt_verify(const struct adr_repo *r, const char *gitdir, const char *worktree, adr_err *err)
{
  (void)r;
  static const char *const names[] = { "commondir", "gitdir" };
  cleanup_free char *want_gitdir = xasprintf("%s/.git", worktree);
  const char *want[] = { "../..", want_gitdir };
  for (size_t i = 0; i < 2; i++) {
    cleanup_free char *path = xasprintf("%s/%s", gitdir, names[i]);
    cleanup_buf struct buf b;
    buf_init(&b, 4096);
    if (buf_read_file(&b, path) < 0)
      return adr_err_sys(err, errno, "worktree metadata '%s'", path);
    if (!streq(adr_git_trim(&b), want[i]))
      return adr_err_set(err, EPERM, "worktree metadata '%s' was changed (refusing to run git on it)", path);
  }
  cleanup_free char *cw = xasprintf("%s/config.worktree", gitdir);
  cleanup_buf struct buf c;
  buf_init(&c, 1 << 20);
  if (buf_read_file(&c, cw) == 0 && c.len > 0)
    return adr_err_set(err, EPERM, "'%s' is not empty (refusing to run git with configuration the agent could write)",
                       cw);
  return 0;
}

int adr_git_wt(const struct adr_repo *r, const char *gitdir, const char *worktree, bool check, struct buf *out,
               adr_err *err, const char *arg, ...)
{
  if (adr_git_wt_verify(r, gitdir, worktree, err) < 0)
    return -1;
  struct strv a = { 0 };
  strv_push(&a, "git");
  strv_push(&a, "--no-pager");
  for (const char *const *h = wt_hardening; *h; h++)
    strv_push(&a, *h);
  strv_pushf(&a, "--git-dir=%s", gitdir);
  strv_pushf(&a, "--work-tree=%s", worktree);
  va_list ap;
  va_start(ap, arg);
  for (const char *s = arg; s; s = va_arg(ap, const char *))
    strv_push(&a, s);
  va_end(ap);
  int st = run_git(worktree, &a, check, out, err);
  strv_free(&a);
  return st;
}

char *adr_git_trim(struct buf *b)
{
  if (!b->data) {
    buf_append(b, "", 0);
    if (!b->data)
      b->data = xstrdup("");
  }
  while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
    b->data[--b->len] = '\0';
  return b->data;
}

int adr_repo_find(const char *dir, struct adr_repo *r, adr_err *err)
{
  memset(r, 0, sizeof(*r));
  struct adr_repo probe = { .top = (char *)dir };
  cleanup_buf struct buf out;
  buf_init(&out, 0);
  int st = adr_git_repo(&probe, false, &out, err, "rev-parse", "--path-format=absolute", "--git-common-dir",
                        "--show-toplevel", NULL);
  if (st < 0)
    return -1;
  if (st != 0)
    return 1; /* not a repository (or a bare one) */
  adr_git_trim(&out);
  char *nl = strchr(out.data, '\n');
  if (!nl)
    return 1;
  *nl = '\0';
  char *common = out.data, *top = nl + 1;
  if (!*top)
    return 1;
  r->common_dir = realpath(common, NULL);
  if (!r->common_dir)
    return adr_err_sys(err, errno, "git directory '%s'", common);
  /* a linked worktree's main checkout is the parent of the common dir */
  size_t cl = strlen(r->common_dir);
  if (cl > 5 && streq(r->common_dir + cl - 5, "/.git")) {
    r->top = xstrndup(r->common_dir, cl - 5);
  } else {
    r->top = realpath(top, NULL);
    if (!r->top) {
      adr_repo_free(r);
      return adr_err_sys(err, errno, "work tree '%s'", top);
    }
  }
  return 0;
}
