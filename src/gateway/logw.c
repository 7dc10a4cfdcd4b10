/* adr-gateway's decision log: one JSON line per connection, DNS query and
 * relayed request (gw_log_format), appended to --log.
 *
 * The log is capped (--log-max): a sandbox flooding the gateway with
 * requests must not fill the host's disk.  One last line says so.  The
 * relay's threads write here too: one line at a time, under the mutex. */
#include "gwd.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  int fd;
  uint64_t size, max;
  bool full;
} L = { .fd = -1 };

int gwd_log_open(const char *path, uint64_t max, adr_err *err)
{
  L.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (L.fd < 0)
    return adr_err_sys(err, errno, "log %s", path);
  L.max = max;
  struct stat st;
  if (fstat(L.fd, &st) == 0)
    L.size = (uint64_t)st.st_size; /* a restarted gateway appends */
  return 0;
}

void gwd_log_close(void)
{
  if (L.fd >= 0)
    close(L.fd);
  L.fd = -1;
}

void gwd_write_log(const struct gw_logrec *r)
{
  char line[GW_LOG_LINE_MAX];
  size_t n = gw_log_format(r, line, sizeof(line));
  pthread_mutex_lock(&log_mu);
  if (L.full) {
    pthread_mutex_unlock(&log_mu);
    return;
  }
  if (L.size + n > L.max) {
    struct gw_logrec full = *r;
    full.rule = "log-full";
    full.error = "decision log reached " GW_OPT_LOG_MAX "; later decisions are not logged";
    n = gw_log_format(&full, line, sizeof(line));
    L.full = true;
  }
  L.size += n;
  ssize_t w;
  do
    w = write(L.fd, line, n);
  while (w < 0 && errno == EINTR);
  pthread_mutex_unlock(&log_mu);
}

void gwd_log_conn(struct conn *c)
{
  if (c->logged)
    return;
  c->logged = true;
  struct gw_logrec r = {
    .sandbox = gwd.sandbox,
    .client = c->client,
    .via = c->via,
    .method = c->has_method ? c->method : NULL,
    .host = c->has_host ? c->host : NULL,
    .port = c->port,
    .sni = c->has_sni ? c->sni : NULL,
    .allow = c->allow,
    .rule = c->rule,
    .bytes_up = c->bytes_up,
    .bytes_down = c->bytes_down,
    .duration_ms = gw_mono_ms() - c->t0,
    .upstream = c->has_upstream ? c->upstream : NULL,
    .error = c->error[0] ? c->error : NULL,
  };
  clock_gettime(CLOCK_REALTIME, &r.time);
  gwd_write_log(&r);
}
