/* --wait-claim FILE: a pooled gateway.  adr makes it, with its network,
 * before any sandbox exists; it waits, holding nothing but its address,
 * until adr claims it for one sandbox by writing FILE: the rest of its
 * command line, NUL-separated (policy, log, sandbox name, ports, relay).
 * Then it runs as if it had been started with those options.  --ready-file
 * here names the file it writes once it waits (the claim names its own);
 * SIGTERM while it waits ends it quietly.
 *
 * --exec-claim FILE: a warm sandbox's first process (adr's ADR_WARM).  It
 * waits the same way, then runs the program FILE names in its place. */
#include "gwd.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define CLAIM_MAX GW_CLAIM_MAX /* a claim is a few hundred bytes */

/* 1: FILE is there; 0: a signal asked it to end; -1 with err. */
static int wait_for(const char *path, const char *waiting, adr_err *err)
{
  sigset_t set;
  if (gwd_block_signals(&set) < 0)
    return adr_err_sys(err, errno, "sigprocmask");
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  int ifd = inotify_init1(IN_CLOEXEC);
  cleanup_free char *dcopy = xstrdup(path);
  int r = -1;
  if (sfd < 0 || ifd < 0) {
    adr_err_sys(err, errno, "wait for the claim");
    goto out;
  }
  if (inotify_add_watch(ifd, dirname(dcopy), IN_CREATE | IN_MOVED_TO) < 0) {
    adr_err_sys(err, errno, "watch '%s'", path);
    goto out;
  }
  if (waiting && gw_write_ready(waiting, err) < 0)
    goto out;
  for (;;) {
    if (access(path, F_OK) == 0) { /* after the watch is set: no claim is missed */
      r = 1;
      break;
    }
    struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ifd, .events = POLLIN } };
    if (poll(p, 2, -1) < 0 && errno != EINTR) {
      adr_err_sys(err, errno, "poll");
      break;
    }
    if (p[0].revents) {
      r = 0;
      break;
    }
    if (p[1].revents) {
      char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
      if (read(ifd, ev, sizeof(ev)) < 0 && errno != EAGAIN && errno != EINTR) {
        adr_err_sys(err, errno, "inotify");
        break;
      }
    }
  }
out:
  if (sfd >= 0)
    close(sfd);
  if (ifd >= 0)
    close(ifd);
  return r;
}

/* The claim at path, split: *buf holds the arguments *argv points into
 * ((*argv)[0] is "adr-gateway", then the claim's, NULL-terminated). */
static int read_claim(const char *path, char **bufp, char ***argv, size_t *k, adr_err *err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return adr_err_sys(err, errno, "open claim '%s'", path);
  char *buf = xmalloc(CLAIM_MAX + 1);
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, CLAIM_MAX + 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
    if (len > CLAIM_MAX)
      break;
  }
  close(fd);
  if (len > CLAIM_MAX) {
    free(buf);
    return adr_err_set(err, EINVAL, "claim '%s': too large", path);
  }
  if (gw_claim_split(buf, len, argv, k) < 0) {
    free(buf);
    return adr_err_set(err, EINVAL, "claim '%s': %s", path, len ? "not NUL-separated arguments" : "empty");
  }
  *bufp = buf;
  return 0;
}

/* wait_for, then read_claim: 0, 1 when a signal ended the wait, -1. */
static int wait_read(const char *path, const char *waiting, char **buf, char ***argv, size_t *k, adr_err *err)
{
  int w = wait_for(path, waiting, err);
  if (w <= 0)
    return w < 0 ? -1 : 1;
  return read_claim(path, buf, argv, k, err);
}

int gwd_wait_claim(struct opts *o, adr_err *err)
{
  cleanup_free char *path = xstrdup(o->wait_claim);
  cleanup_free char *waiting = o->ready ? xstrdup(o->ready) : NULL;
  char *buf = NULL, **argv = NULL;
  size_t k = 0;
  int w = wait_read(path, waiting, &buf, &argv, &k, err);
  if (w != 0)
    return w;
  gwd_opts_free(o);
  optind = 0; /* getopt_long again, from the start */
  int r = gwd_opts_parse((int)k, argv, o, err);
  free(argv); /* the options point into buf, which o keeps */
  o->claim_buf = buf;
  if (r == 0 && (o->hold || o->wait_claim))
    r = adr_err_set(err, EINVAL, "claim '%s': " GW_OPT_HOLD " and " GW_OPT_WAIT_CLAIM " cannot be claimed", path);
  if (r != 0)
    return r < 0 ? -1 : adr_err_set(err, EINVAL, "claim '%s': " GW_OPT_HELP " is no claim", path);
  return 0;
}

int gwd_exec_claim(const char *path, adr_err *err)
{
  char *buf = NULL, **argv = NULL;
  size_t k = 0;
  int w = wait_read(path, NULL, &buf, &argv, &k, err);
  if (w != 0)
    return w;
  if (k < 2 || argv[1][0] != '/') {
    adr_err_set(err, EINVAL, "claim '%s': the program is not an absolute path", path);
  } else {
    /* what wait_for blocked would stay blocked in the program */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[1], argv + 1);
    adr_err_sys(err, errno, "run '%s'", argv[1]);
  }
  free(argv);
  free(buf);
  return -1;
}
