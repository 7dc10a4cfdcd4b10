/* Growable byte buffer with a hard cap.  Everything a peer sends (engine
 * responses, streamed lines, files we did not write) goes into a bounded
 * buffer: exceeding the cap is an error, never unbounded growth. */
#ifndef ADR_BUF_H
#define ADR_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
  char *data; /* always NUL-terminated when non-NULL */
  size_t len;
  size_t cap;
  size_t limit; /* 0 = no limit (only for data we produce ourselves) */
  bool overflow;
};

void buf_init(struct buf *b, size_t limit);
/* Appends; returns -1 (and sets b->overflow) when the limit would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as one word for sh: '...' with each ' written '\'' */
int buf_put_sh_word(struct buf *b, const char *s);
void buf_consume(struct buf *b, size_t n); /* drop the first n bytes */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
char *buf_steal(struct buf *b); /* returns data (never NULL), resets b */
static inline void buf_cleanup(struct buf *b) { buf_free(b); }
#define cleanup_buf __attribute__((cleanup(buf_cleanup)))

/* Splits a byte stream into lines no longer than max_line.  feed() calls
 * cb for each complete line (without '\n'); a line over the limit is an
 * error (cb gets nothing, feed returns -1). */
typedef int (*line_cb)(const char *line, size_t len, void *ud);
struct line_splitter {
  struct buf pending;
  line_cb cb;
  void *ud;
};
void line_splitter_init(struct line_splitter *ls, size_t max_line, line_cb cb, void *ud);
int line_splitter_feed(struct line_splitter *ls, const char *p, size_t n);
int line_splitter_finish(struct line_splitter *ls); /* flushes a last unterminated line */
void line_splitter_free(struct line_splitter *ls);

/* Reads a whole file into b (respecting b->limit). Sets errno on failure;
 * EFBIG when over the limit. */
int buf_read_file(struct buf *b, const char *path);
/* Writes data to path atomically (temp file + fsync + rename), mode given. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

#endif
