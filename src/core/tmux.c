#include "tmux.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int adr_tmuxv(struct buf *out, adr_err *err, const char *const *args)
{
  struct strv a = { 0 };
  strv_push(&a, "tmux");
  const char *sock = getenv("ADR_TMUX_SOCKET");
  if (sock && *sock) {
    strv_push(&a, "-S");
    strv_push(&a, sock);
  }
  for (const char *const *p = args; *p; p++)
    strv_push(&a, *p);
  struct buf eb, sink;
  buf_init(&eb, 0);
  buf_init(&sink, 0);
  struct adr_proc p = { .argv = (const char *const *)a.v, .out = out ? out : &sink, .errout = &eb };
  int st = adr_proc_run(&p, err);
  int ret = 0;
  if (st < 0) {
    adr_err_prefix(err, "tmux");
    ret = -1;
  } else if (st != 0) {
    char *m = eb.data ? eb.data : (char *)"";
    char *nl = strchr(m, '\n');
    if (nl)
      *nl = '\0';
    adr_err_set(err, EIO, "tmux %s: %s", args[0] ? args[0] : "", *m ? m : "failed");
    ret = -1;
  }
  buf_free(&eb);
  buf_free(&sink);
  strv_free(&a);
  return ret;
}

int adr_tmux(struct buf *out, adr_err *err, const char *arg, ...)
{
  const char *v[64];
  size_t n = 0;
  va_list ap;
  va_start(ap, arg);
  for (const char *s = arg; s && n < 63; s = va_arg(ap, const char *))
    v[n++] = s;
  va_end(ap);
  v[n] = NULL;
  return adr_tmuxv(out, err, v);
}

int adr_tmux_version(adr_err *err)
{
  cleanup_buf struct buf b;
  buf_init(&b, 4096);
  if (adr_tmux(&b, err, "-V", NULL) < 0)
    return adr_err_prefix(err, "tmux is needed (apt-get install tmux)");
  int maj = 0, min = 0;
  const char *v = b.data ? strchr(b.data, ' ') : NULL;
  if (!v || sscanf(v + 1, "%d.%d", &maj, &min) < 1) {
    /* "tmux next-3.4", "tmux master": a development build, assume new */
    return 9999;
  }
  return maj * 100 + min;
}
