/* Ports of a sandbox on the host's loopback (forward.h). */
#include "forward.h"
#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 32

/* The connector in the sandbox: stdin and stdout to HOST:PORT. node is
 * on PATH in adr's images, and in /opt/adr/node/bin in a project image. */
static const char connector[] =
  "const s=require('net').connect(+process.argv[2],process.argv[1]);"
  "process.stdin.pipe(s);s.pipe(process.stdout);"
  "s.on('error',e=>{process.stderr.write(String(e)+'\\n');process.exit(1)});"
  "s.on('close',()=>process.exit(0));";

int adr_forward_parse(const char *spec, char **host, unsigned *port, adr_err *err)
{
  *host = NULL;
  const char *colon = strrchr(spec, ':');
  uint64_t p = 0;
  if (adr_parse_uint(colon ? colon + 1 : spec, 65535, &p) < 0 || p == 0)
    return adr_err_set(err, EINVAL, "port '%s': a port (1-65535) or HOST:PORT", spec);
  if (colon) {
    if (colon == spec || colon - spec > 253)
      return adr_err_set(err, EINVAL, "port '%s': a port (1-65535) or HOST:PORT", spec);
    for (const char *c = spec; c < colon; c++)
      if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
            *c == '.' || *c == '_'))
        return adr_err_set(err, EINVAL, "port '%s': '%.*s' is not a host name", spec, (int)(colon - spec), spec);
  }
  *host = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup("127.0.0.1");
  *port = (unsigned)p;
  return 0;
}

struct fwd_port {
  int fd;
  char *host;
  unsigned port;
};

struct adr_forward {
  struct adr_engine *e; /* its own connection: the others are made from it */
  char *sandbox;
  struct fwd_port *v;
  size_t n;
  int stop[2];
  pthread_t th;
  bool started;
};

struct conn {
  struct adr_engine *e;
  char *sandbox, *host;
  unsigned port;
  int fd;
};

static void *conn_main(void *arg)
{
  struct conn *c = arg;
  cleanup_strv struct strv cmd = { 0 };
  strv_push(&cmd, "/bin/sh");
  strv_push(&cmd, "-c");
  strv_push(&cmd, "PATH=\"$PATH:/opt/adr/node/bin\" exec node -e \"$0\" \"$1\" \"$2\"");
  strv_push(&cmd, connector);
  strv_push(&cmd, c->host);
  strv_pushf(&cmd, "%u", c->port);
  struct adr_attach a = { .in_fd = c->fd, .out_fd = c->fd, .err_fd = -1, .wake_fd = -1 };
  int code = 0;
  cleanup_err adr_err err = NULL;
  adr_engine_container_exec(c->e, c->sandbox, &cmd, &a, &code, &err);
  close(c->fd);
  adr_engine_close(c->e);
  free(c->sandbox);
  free(c->host);
  free(c);
  return NULL;
}

static void *accept_main(void *arg)
{
  struct adr_forward *f = arg;
  struct pollfd pfd[MAX_PORTS + 1];
  for (;;) {
    for (size_t i = 0; i < f->n; i++)
      pfd[i] = (struct pollfd){ .fd = f->v[i].fd, .events = POLLIN };
    pfd[f->n] = (struct pollfd){ .fd = f->stop[0], .events = POLLIN };
    if (poll(pfd, f->n + 1, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfd[f->n].revents)
      break;
    for (size_t i = 0; i < f->n; i++) {
      if (!(pfd[i].revents & POLLIN))
        continue;
      int s = accept4(f->v[i].fd, NULL, NULL, SOCK_CLOEXEC);
      if (s < 0)
        continue;
      struct conn *c = xcalloc(1, sizeof(*c));
      cleanup_err adr_err err = NULL;
      if (adr_engine_reopen(f->e, &c->e, &err) < 0) {
        close(s);
        free(c);
        continue;
      }
      c->sandbox = xstrdup(f->sandbox);
      c->host = xstrdup(f->v[i].host);
      c->port = f->v[i].port;
      c->fd = s;
      pthread_t t;
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
      if (pthread_create(&t, &at, conn_main, c) != 0) {
        close(s);
        adr_engine_close(c->e);
        free(c->sandbox);
        free(c->host);
        free(c);
      }
      pthread_attr_destroy(&at);
    }
  }
  return NULL;
}

/* 127.0.0.1:port, or any free port when port is 0 */
static int listen_on(unsigned port, unsigned *bound)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  *bound = ntohs(a.sin_port);
  return fd;
}

void adr_forward_stop(struct adr_forward *f)
{
  if (!f)
    return;
  if (f->started) {
    if (write(f->stop[1], "x", 1) < 0) {
      /* the pipe is ours and empty: cannot fail */
    }
    pthread_join(f->th, NULL);
  }
  for (size_t i = 0; i < f->n; i++) {
    if (f->v[i].fd >= 0)
      close(f->v[i].fd);
    free(f->v[i].host);
  }
  free(f->v);
  close(f->stop[0]);
  close(f->stop[1]);
  adr_engine_close(f->e);
  free(f->sandbox);
  free(f);
}

int adr_forward_start(const struct adr_engine *e, const char *sandbox, const struct strv *ports, struct strv *said,
                      struct adr_forward **out, adr_err *err)
{
  *out = NULL;
  if (ports->n > MAX_PORTS)
    return adr_err_set(err, E2BIG, "at most %d forwarded ports", MAX_PORTS);
  struct adr_forward *f = xcalloc(1, sizeof(*f));
  f->stop[0] = f->stop[1] = -1;
  f->sandbox = xstrdup(sandbox);
  f->v = xcalloc(ports->n ? ports->n : 1, sizeof(*f->v));
  if (pipe2(f->stop, O_CLOEXEC) < 0) {
    adr_err_sys(err, errno, "pipe");
    adr_forward_stop(f);
    return -1;
  }
  if (adr_engine_reopen(e, &f->e, err) < 0) {
    adr_forward_stop(f);
    return -1;
  }
  for (size_t i = 0; i < ports->n; i++) {
    struct fwd_port *p = &f->v[f->n];
    if (adr_forward_parse(ports->v[i], &p->host, &p->port, err) < 0) {
      adr_forward_stop(f);
      return -1;
    }
    unsigned bound = 0;
    p->fd = listen_on(p->port, &bound);
    if (p->fd < 0 && errno == EADDRINUSE)
      p->fd = listen_on(0, &bound); /* taken here: another port, said */
    if (p->fd < 0) {
      adr_err_sys(err, errno, "listen on 127.0.0.1:%u", p->port);
      free(p->host);
      adr_forward_stop(f);
      return -1;
    }
    f->n++;
    const char *in = streq(p->host, "127.0.0.1") ? "" : p->host;
    strv_pushf(said, "127.0.0.1:%u -> %s%s%u%s", bound, in, *in ? ":" : "", p->port,
               bound != p->port ? " (that port is taken here)" : "");
  }
  /* the thread takes no signal: the caller's handlers stay the caller's */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(&f->th, NULL, accept_main, f);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    adr_err_sys(err, r, "forward thread");
    adr_forward_stop(f);
    return -1;
  }
  f->started = true;
  *out = f;
  return 0;
}
