/* In-memory ustar archives for build contexts.
 *
 * Written by hand rather than with libarchive: a build context is a few
 * small regular files and directories, ustar covers that in a page of
 * code, and linking libarchive (libxml2, ICU, ...) cost ~1.8 ms of CPU on
 * every adr start, measured against the < 10 ms budget of `adr run`. */
#include "tarball.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>

struct adr_tar {
  struct buf out;
};

struct adr_tar *adr_tar_new(void)
{
  struct adr_tar *t = xcalloc(1, sizeof(*t));
  buf_init(&t->out, 0);
  return t;
}

static void octal(char *dst, size_t width, unsigned long long v)
{
  /* width includes the terminating NUL */
  snprintf(dst, width, "%0*llo", (int)(width - 1), v);
}

static int header(struct adr_tar *t, const char *name, size_t len, unsigned mode, char type, adr_err *err)
{
  unsigned char h[512];
  memset(h, 0, sizeof(h));
  size_t nl = strlen(name);
  if (nl > 100) {
    /* split into prefix (155) and name (100) at a '/' */
    const char *slash = NULL;
    for (const char *p = name; *p; p++)
      if (*p == '/' && (size_t)(p - name) <= 155 && nl - (size_t)(p - name) - 1 <= 100)
        slash = p;
    if (slash == NULL)
      return adr_err_set(err, ENAMETOOLONG, "build context: name too long: %s", name);
    memcpy(h + 345, name, (size_t)(slash - name));
    memcpy(h, slash + 1, nl - (size_t)(slash - name) - 1);
  } else {
    memcpy(h, name, nl);
  }
  octal((char *)h + 100, 8, mode & 07777);
  octal((char *)h + 108, 8, 0);
  octal((char *)h + 116, 8, 0);
  octal((char *)h + 124, 12, len);
  octal((char *)h + 136, 12, 0);
  memset(h + 148, ' ', 8);
  h[156] = (unsigned char)type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof(h); i++)
    sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  h[155] = ' ';
  buf_append(&t->out, h, sizeof(h));
  return 0;
}

static void pad(struct adr_tar *t, size_t len)
{
  static const char zeros[512];
  if (len % 512)
    buf_append(&t->out, zeros, 512 - len % 512);
}

int adr_tar_add(struct adr_tar *t, const char *name, const void *data, size_t len, unsigned mode, adr_err *err)
{
  if (header(t, name, len, mode, '0', err) < 0)
    return -1;
  buf_append(&t->out, data, len);
  pad(t, len);
  return 0;
}

int adr_tar_add_dir(struct adr_tar *t, const char *name, adr_err *err)
{
  cleanup_free char *n = str_has_suffix(name, "/") ? xstrdup(name) : xasprintf("%s/", name);
  return header(t, n, 0, 0755, '5', err);
}

int adr_tar_finish(struct adr_tar *t, struct buf *out, adr_err *err)
{
  (void)err;
  static const char zeros[1024];
  buf_append(&t->out, zeros, sizeof(zeros));
  *out = t->out;
  buf_init(&t->out, 0);
  return 0;
}

void adr_tar_free(struct adr_tar *t)
{
  if (!t)
    return;
  buf_free(&t->out);
  free(t);
}
