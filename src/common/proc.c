#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static bool env_dropped(const char *kv, const struct adr_proc *p)
{
  const char *eq = strchr(kv, '=');
  size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
  for (const char *const *u = p->unset; u && *u; u++)
    if (strlen(*u) == n && strncmp(kv, *u, n) == 0)
      return true;
  for (const char *const *e = p->env; e && *e; e++) {
    const char *q = strchr(*e, '=');
    if (q && (size_t)(q - *e) == n && strncmp(kv, *e, n) == 0)
      return true; /* replaced */
  }
  return false;
}

int adr_proc_run(const struct adr_proc *p, adr_err *err)
{
  struct strv envv = { 0 };
  for (char **e = environ; e && *e; e++)
    if (!env_dropped(*e, p))
      strv_push(&envv, *e);
  for (const char *const *e = p->env; e && *e; e++)
    strv_push(&envv, *e);

  int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, in = -1;
  int ret = -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  if ((p->out && pipe2(outp, O_CLOEXEC) < 0) || (p->errout && pipe2(errp, O_CLOEXEC) < 0)) {
    adr_err_sys(err, errno, "pipe");
    goto out;
  }
  if (p->input) {
    size_t il = strlen(p->input);
    in = memfd_create("adr-proc-in", MFD_CLOEXEC);
    if (in < 0 || write(in, p->input, il) != (ssize_t)il || lseek(in, 0, SEEK_SET) < 0) {
      adr_err_sys(err, errno, "input for %s", p->argv[0]);
      goto out;
    }
    posix_spawn_file_actions_adddup2(&fa, in, 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (p->out)
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  if (p->errout)
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  if (p->dir)
    posix_spawn_file_actions_addchdir_np(&fa, p->dir);

  pid_t pid;
  int rc = posix_spawnp(&pid, p->argv[0], &fa, &at, (char *const *)p->argv, envv.v ? envv.v : (char *[]){ NULL });
  if (rc != 0) {
    adr_err_sys(err, rc, "run %s", p->argv[0]);
    goto out;
  }
  if (outp[1] >= 0) {
    close(outp[1]);
    outp[1] = -1;
  }
  if (errp[1] >= 0) {
    close(errp[1]);
    errp[1] = -1;
  }

  bool too_much = false;
  struct pollfd fds[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !fds[i].revents)
        continue;
      char chunk[16384];
      ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        fds[i].fd = -1;
        continue;
      }
      struct buf *b = i == 0 ? p->out : p->errout;
      if (i == 0 && b->len + (size_t)n > ADR_PROC_MAX_OUT)
        too_much = true;
      else if (i == 1 && b->len + (size_t)n > ADR_PROC_MAX_ERR)
        ; /* keep the beginning of stderr, drop the rest */
      else
        buf_append(b, chunk, (size_t)n);
    }
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      adr_err_sys(err, errno, "wait for %s", p->argv[0]);
      goto out;
    }
  }
  if (too_much) {
    adr_err_set(err, EFBIG, "%s: output larger than %u MiB", p->argv[0], ADR_PROC_MAX_OUT >> 20);
    goto out;
  }
  ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (ret == 127 && p->errout && p->errout->len == 0)
    buf_puts(p->errout, "command not found");
out:
  if (in >= 0)
    close(in);
  for (int i = 0; i < 2; i++) {
    if (outp[i] >= 0)
      close(outp[i]);
    if (errp[i] >= 0)
      close(errp[i]);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  strv_free(&envv);
  return ret;
}

/* start time of a process in clock ticks since boot (field 22), 0 if gone
 * or a zombie (dead, not yet waited for: whatever it held is free) */
unsigned long long adr_proc_start_time(pid_t pid)
{
  char p[64];
  snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
  struct buf b;
  buf_init(&b, 8192);
  unsigned long long st = 0;
  if (buf_read_file(&b, p) == 0) {
    const char *rp = strrchr(b.data, ')');
    if (rp && (rp[2] == 'Z' || rp[2] == 'X'))
      rp = NULL;
    if (rp) {
      /* after ") " comes field 3 (the state); start time is field 22 */
      const char *q = rp + 2;
      for (int f = 3; f < 22 && q; f++) {
        q = strchr(q, ' ');
        if (q)
          q++;
      }
      if (q)
        st = strtoull(q, NULL, 10);
    }
  }
  buf_free(&b);
  return st;
}
