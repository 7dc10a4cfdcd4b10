#include "buf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void buf_init(struct buf *b, size_t limit)
{
  memset(b, 0, sizeof(*b));
  b->limit = limit;
}

static int buf_reserve(struct buf *b, size_t extra)
{
  if (b->limit && (b->len + extra > b->limit || b->len + extra < b->len)) {
    b->overflow = true;
    return -1;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
  return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
  if (buf_reserve(b, n) < 0)
    return -1;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_put_sh_word(struct buf *b, const char *s)
{
  int r = buf_puts(b, "'");
  for (const char *q; r == 0 && (q = strchr(s, '\'')); s = q + 1)
    if ((r = buf_append(b, s, (size_t)(q - s))) == 0)
      r = buf_puts(b, "'\\''");
  if (r == 0)
    r = buf_puts(b, s);
  return r ? r : buf_puts(b, "'");
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) {
    fprintf(stderr, "adr: out of memory\n");
    abort();
  }
  int r = buf_append(b, s, (size_t)n);
  free(s);
  return r;
}

void buf_consume(struct buf *b, size_t n)
{
  if (n >= b->len) {
    b->len = 0;
    if (b->data)
      b->data[0] = '\0';
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
  b->len = 0;
  b->overflow = false;
  if (b->data)
    b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *buf_steal(struct buf *b)
{
  char *d = b->data ? b->data : xstrdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}

void line_splitter_init(struct line_splitter *ls, size_t max_line, line_cb cb, void *ud)
{
  buf_init(&ls->pending, max_line);
  ls->cb = cb;
  ls->ud = ud;
}

int line_splitter_feed(struct line_splitter *ls, const char *p, size_t n)
{
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t chunk = nl ? (size_t)(nl - p) : n;
    if (buf_append(&ls->pending, p, chunk) < 0)
      return -1;
    if (!nl)
      break;
    size_t len = ls->pending.len;
    if (len && ls->pending.data[len - 1] == '\r')
      ls->pending.data[--len] = '\0';
    int r = ls->cb(ls->pending.data ? ls->pending.data : "", len, ls->ud);
    buf_reset(&ls->pending);
    if (r < 0)
      return r;
    p += chunk + 1;
    n -= chunk + 1;
  }
  return 0;
}

int line_splitter_finish(struct line_splitter *ls)
{
  if (ls->pending.len == 0)
    return 0;
  int r = ls->cb(ls->pending.data, ls->pending.len, ls->ud);
  buf_reset(&ls->pending);
  return r;
}

void line_splitter_free(struct line_splitter *ls) { buf_free(&ls->pending); }

int buf_read_file(struct buf *b, const char *path)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -1;
  char tmp[8192];
  for (;;) {
    ssize_t r = read(fd, tmp, sizeof(tmp));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0)
      break;
    if (buf_append(b, tmp, (size_t)r) < 0) {
      errno = EFBIG;
      return -1;
    }
  }
  if (b->data == NULL)
    buf_append(b, "", 0);
  return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
  cleanup_free char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return -1;
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      goto fail;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
    goto fail;
  if (close(fd) < 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (rename(tmp, path) < 0)
    goto fail;
  return 0;
fail:;
  int saved = errno;
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  errno = saved;
  return -1;
}
