/* Build contexts from directories (context.h). */
#include "context.h"
#include "spec.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ .dockerignore */

void adr_ignore_free(struct adr_ignore *ig)
{
  strv_free(&ig->pats);
  free(ig->negate);
  memset(ig, 0, sizeof(*ig));
}

/* "./a//b/", "/a/b" -> "a/b" */
static char *clean(const char *p)
{
  struct strv segs = { 0 };
  cleanup_free char *copy = xstrdup(p);
  char *save = NULL;
  for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
    if (streq(s, "."))
      continue;
    if (streq(s, "..")) {
      if (segs.n) {
        free(segs.v[--segs.n]);
        segs.v[segs.n] = NULL;
      }
      continue;
    }
    strv_push(&segs, s);
  }
  char *r = strv_join(&segs, "/");
  strv_free(&segs);
  return r;
}

void adr_ignore_parse(const char *text, struct adr_ignore *ig)
{
  memset(ig, 0, sizeof(*ig));
  cleanup_free char *copy = xstrdup(text ? text : "");
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    size_t n = strlen(line);
    while (n && strchr(" \t\r", line[n - 1]))
      line[--n] = '\0';
    while (*line == ' ' || *line == '\t')
      line++;
    if (!*line || *line == '#')
      continue;
    bool neg = *line == '!';
    if (neg)
      line++;
    char *c = clean(line);
    if (!*c) {
      free(c);
      continue;
    }
    ig->negate = xrealloc(ig->negate, (ig->pats.n + 1) * sizeof(bool));
    ig->negate[ig->pats.n] = neg;
    strv_push_take(&ig->pats, c);
  }
}

/* segments of pat against segments of path; "**" takes any number */
static bool seg_match(char **pat, size_t np, char **path, size_t nq)
{
  if (np == 0)
    return nq == 0;
  if (streq(pat[0], "**")) {
    for (size_t k = 0; k <= nq; k++)
      if (seg_match(pat + 1, np - 1, path + k, nq - k))
        return true;
    return false;
  }
  return nq > 0 && fnmatch(pat[0], path[0], 0) == 0 && seg_match(pat + 1, np - 1, path + 1, nq - 1);
}

static bool glob_path(const char *pat, const char *path)
{
  struct strv p = { 0 }, q = { 0 };
  cleanup_free char *pc = xstrdup(pat), *qc = xstrdup(path);
  char *save = NULL;
  for (char *s = strtok_r(pc, "/", &save); s; s = strtok_r(NULL, "/", &save))
    strv_push(&p, s);
  for (char *s = strtok_r(qc, "/", &save); s; s = strtok_r(NULL, "/", &save))
    strv_push(&q, s);
  bool m = seg_match(p.v, p.n, q.v, q.n);
  strv_free(&p);
  strv_free(&q);
  return m;
}

bool adr_ignore_match(const struct adr_ignore *ig, const char *rel)
{
  bool ex = false;
  for (size_t i = 0; i < ig->pats.n; i++) {
    /* the path, or one of its parents */
    bool m = false;
    cleanup_free char *pre = xstrdup(rel);
    for (;;) {
      if (glob_path(ig->pats.v[i], pre)) {
        m = true;
        break;
      }
      char *sl = strrchr(pre, '/');
      if (!sl)
        break;
      *sl = '\0';
    }
    if (m)
      ex = !ig->negate[i];
  }
  return ex;
}

/* ------------------------------------------------------------ the archive */

struct sink {
  struct buf *b;
  bool full;
};

static la_ssize_t sink_write(struct archive *a, void *ud, const void *data, size_t n)
{
  (void)a;
  struct sink *s = ud;
  if (buf_append(s->b, data, n) < 0) {
    s->full = true;
    return -1;
  }
  return (la_ssize_t)n;
}

static int add_file(struct archive *w, struct archive_entry *e, const char *src, adr_err *err)
{
  if (archive_write_header(w, e) != ARCHIVE_OK)
    return adr_err_set(err, EIO, "archive '%s': %s", src, archive_error_string(w));
  if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) == 0)
    return 0;
  int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return adr_err_sys(err, errno, "read '%s'", src);
  char buf[65536];
  ssize_t n;
  int ret = 0;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    if (archive_write_data(w, buf, (size_t)n) < 0) {
      ret = adr_err_set(err, EIO, "archive '%s': %s", src, archive_error_string(w));
      break;
    }
  if (n < 0)
    ret = adr_err_sys(err, errno, "read '%s'", src);
  close(fd);
  return ret;
}

/* What stamp mode records of an entry: everything a change of the file
 * changes (ctime too, which no one sets back), none of its bytes. */
static void stamp_entry(struct buf *stamp, const char *rel, struct archive_entry *e)
{
  const char *ln = archive_entry_symlink(e);
  buf_printf(stamp, "%s%c%o %lld %lld.%09ld %lld.%09ld %llu %s\n", rel, 0, (unsigned)archive_entry_mode(e),
             (long long)archive_entry_size(e), (long long)archive_entry_mtime(e), archive_entry_mtime_nsec(e),
             (long long)archive_entry_ctime(e), archive_entry_ctime_nsec(e), (unsigned long long)archive_entry_ino64(e),
             ln ? ln : "");
}

/* The walk of the context: into the archive tar, or, when stamp is set,
 * only the entries' metadata into stamp (then tar is NULL). */
static int context_walk(const char *dir, const char *dockerfile, struct buf *tar, struct buf *stamp, char **df_name,
                        char **digest, adr_err *err)
{
  *df_name = NULL;
  *digest = NULL;
  struct stat st;
  if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
    return adr_err_set(err, ENOTDIR, "build context '%s': not a directory", dir);
  if (stat(dockerfile, &st) < 0 || !S_ISREG(st.st_mode))
    return adr_err_set(err, ENOENT, "Dockerfile '%s': not a file", dockerfile);
  cleanup_free char *rdir = realpath(dir, NULL), *rdf = realpath(dockerfile, NULL);
  if (!rdir || !rdf)
    return adr_err_sys(err, errno, "build context '%s'", dir);
  size_t dl = strlen(rdir);
  /* the Dockerfile inside the context keeps its name, else it is added */
  bool inside = strncmp(rdf, rdir, dl) == 0 && rdf[dl] == '/';
  char *dfn = inside ? xstrdup(rdf + dl + 1) : xstrdup(".adr-dockerfile");
  struct adr_ignore ig = { 0 };
  cleanup_free char *igp = xasprintf("%s/.dockerignore", rdir);
  struct buf igt;
  buf_init(&igt, 1 << 20);
  if (buf_read_file(&igt, igp) == 0)
    adr_ignore_parse(igt.data, &ig);
  buf_free(&igt);
  bool any_neg = false;
  for (size_t i = 0; i < ig.pats.n; i++)
    any_neg |= ig.negate[i];

  struct sink sk = { .b = tar };
  struct archive *w = NULL;
  struct archive *d = archive_read_disk_new();
  int ret = -1;
  if (stamp) {
    buf_init(stamp, ADR_CONTEXT_MAX);
    buf_printf(stamp, "%s\n", rdf);
  } else {
    buf_init(tar, ADR_CONTEXT_MAX);
    w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    archive_write_set_bytes_in_last_block(w, 1);
  }
  if (w && archive_write_open2(w, &sk, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
    adr_err_set(err, EIO, "archive: %s", archive_error_string(w));
    goto out;
  }
  archive_read_disk_set_symlink_physical(d);
  if (archive_read_disk_open(d, rdir) != ARCHIVE_OK) {
    adr_err_set(err, EIO, "build context '%s': %s", dir, archive_error_string(d));
    goto out;
  }
  for (;;) {
    struct archive_entry *e = archive_entry_new();
    int r = archive_read_next_header2(d, e);
    if (r == ARCHIVE_EOF) {
      archive_entry_free(e);
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      adr_err_set(err, EIO, "build context '%s': %s", dir, archive_error_string(d));
      archive_entry_free(e);
      goto out;
    }
    cleanup_free char *src = xstrdup(archive_entry_sourcepath(e) ? archive_entry_sourcepath(e) : "");
    const char *rel = strlen(src) > dl ? src + dl + 1 : "";
    unsigned ft = archive_entry_filetype(e);
    bool isdir = ft == AE_IFDIR;
    bool skip = !*rel || (adr_ignore_match(&ig, rel) && !streq(rel, dfn) && !streq(rel, ".dockerignore")) ||
                !(ft == AE_IFREG || ft == AE_IFDIR || ft == AE_IFLNK); /* no sockets, fifos, devices */
    if (isdir && (!*rel || !skip || any_neg))
      archive_read_disk_descend(d); /* an excluded directory may hold an exception */
    if (!skip && stamp)
      stamp_entry(stamp, rel, e);
    else if (!skip) {
      archive_entry_set_pathname(e, rel);
      archive_entry_set_uid(e, 0);
      archive_entry_set_gid(e, 0);
      archive_entry_set_uname(e, "");
      archive_entry_set_gname(e, "");
      archive_entry_set_mtime(e, 0, 0); /* the digest is of the content */
      archive_entry_set_atime(e, 0, 0);
      archive_entry_set_ctime(e, 0, 0);
      if (add_file(w, e, src, err) < 0) {
        archive_entry_free(e);
        if (sk.full)
          adr_err_set(err, EFBIG, "build context '%s': over %llu bytes (a .dockerignore can leave files out)", dir,
                      (unsigned long long)ADR_CONTEXT_MAX);
        goto out;
      }
    }
    archive_entry_free(e);
  }
  if (!inside && stamp) {
    struct archive_entry *e = archive_entry_new();
    struct stat dst;
    if (stat(rdf, &dst) == 0) {
      archive_entry_copy_stat(e, &dst);
      stamp_entry(stamp, dfn, e);
    }
    archive_entry_free(e);
  } else if (!inside) {
    struct buf dft;
    buf_init(&dft, 16 << 20);
    int rr = buf_read_file(&dft, rdf);
    if (rr == 0) {
      struct archive_entry *e = archive_entry_new();
      archive_entry_set_pathname(e, dfn);
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, (la_int64_t)dft.len);
      if (archive_write_header(w, e) != ARCHIVE_OK || archive_write_data(w, dft.data, dft.len) < 0)
        rr = -1;
      archive_entry_free(e);
    }
    buf_free(&dft);
    if (rr < 0) {
      adr_err_set(err, EIO, "Dockerfile '%s': could not be added", dockerfile);
      goto out;
    }
  }
  if (stamp && stamp->overflow) {
    adr_err_set(err, EFBIG, "build context '%s': too many files", dir);
    goto out;
  }
  if (w && archive_write_close(w) != ARCHIVE_OK) {
    adr_err_set(err, EIO, "archive: %s", archive_error_string(w));
    goto out;
  }
  *digest = stamp ? adr_sha256_hex(stamp->data, stamp->len) : adr_sha256_hex(tar->data, tar->len);
  *df_name = TAKE_PTR(dfn);
  ret = 0;
out:
  archive_read_free(d);
  if (w)
    archive_write_free(w);
  adr_ignore_free(&ig);
  free(dfn);
  if (stamp)
    buf_free(stamp);
  else if (ret < 0)
    buf_free(tar);
  return ret;
}

int adr_context_from_dir(const char *dir, const char *dockerfile, struct buf *tar, char **df_name, char **digest,
                         adr_err *err)
{
  return context_walk(dir, dockerfile, tar, NULL, df_name, digest, err);
}

int adr_context_stamp(const char *dir, const char *dockerfile, char **stamp, adr_err *err)
{
  struct buf meta;
  cleanup_free char *dfn = NULL;
  return context_walk(dir, dockerfile, NULL, &meta, &dfn, stamp, err);
}
