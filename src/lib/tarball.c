#include "tarball.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

struct adr_tar {
  struct archive *a;
  struct buf out;
  bool finished;
};

static la_ssize_t on_write(struct archive *a, void *ud, const void *p, size_t n)
{
  (void)a;
  struct adr_tar *t = ud;
  if (buf_append(&t->out, p, n) < 0)
    return -1;
  return (la_ssize_t)n;
}

struct adr_tar *adr_tar_new(void)
{
  struct adr_tar *t = xcalloc(1, sizeof(*t));
  buf_init(&t->out, 0);
  t->a = archive_write_new();
  archive_write_set_format_pax_restricted(t->a);
  archive_write_set_bytes_in_last_block(t->a, 1);
  archive_write_open(t->a, t, NULL, on_write, NULL);
  return t;
}

static int add_entry(struct adr_tar *t, const char *name, const void *data, size_t len, unsigned mode,
                     bool dir, adr_err *err)
{
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_size(e, dir ? 0 : (la_int64_t)len);
  archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e, mode);
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(t->a, e);
  if (r == ARCHIVE_OK && !dir && len)
    r = archive_write_data(t->a, data, len) == (la_ssize_t)len ? ARCHIVE_OK : ARCHIVE_FATAL;
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return adr_err_set(err, EIO, "build context: add '%s': %s", name, archive_error_string(t->a));
  return 0;
}

int adr_tar_add(struct adr_tar *t, const char *name, const void *data, size_t len, unsigned mode, adr_err *err)
{
  return add_entry(t, name, data, len, mode, false, err);
}

int adr_tar_add_dir(struct adr_tar *t, const char *name, adr_err *err)
{
  return add_entry(t, name, NULL, 0, 0755, true, err);
}

int adr_tar_finish(struct adr_tar *t, struct buf *out, adr_err *err)
{
  if (archive_write_close(t->a) != ARCHIVE_OK)
    return adr_err_set(err, EIO, "build context: %s", archive_error_string(t->a));
  t->finished = true;
  *out = t->out;
  buf_init(&t->out, 0);
  return 0;
}

void adr_tar_free(struct adr_tar *t)
{
  if (!t)
    return;
  archive_write_free(t->a);
  buf_free(&t->out);
  free(t);
}
