/* Waiting for an egress gateway, for any engine: its ready file, or its
 * own last words when it ends first. */
#include "engine.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The last line a dead gateway wrote: its own reason. */
static void last_words(struct adr_engine *e, const char *id, char *why, size_t cap)
{
  why[0] = '\0';
  FILE *tf = tmpfile();
  if (!tf)
    return;
  cleanup_err adr_err le = NULL;
  if (adr_engine_container_logs(e, id, false, fileno(tf), fileno(tf), &le) == 0) {
    rewind(tf);
    char line[512];
    while (fgets(line, sizeof(line), tf))
      if (line[0] != '\n')
        snprintf(why, cap, "%s", line);
  }
  fclose(tf);
  why[strcspn(why, "\r\n")] = '\0';
}

/* Waits until the gateway wrote its ready file, or its container stopped. */
int adr_egress_wait_ready(struct adr_engine *e, const char *id, const char *ready, int timeout_ms, adr_err *err)
{
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (unsigned i = 0;; i++) {
    if (access(ready, F_OK) == 0)
      return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (i % 20 == 19 || ms > timeout_ms) {
      struct adr_container c = { 0 };
      int r = adr_engine_container_inspect(e, id, &c, err);
      if (r < 0)
        return -1;
      bool dead = r == 1 || !streq(c.state, "running");
      int code = c.exit_code;
      adr_container_free(&c);
      if (dead) {
        /* its own one-line reason, before the container goes */
        char why[512];
        last_words(e, id, why, sizeof(why));
        cleanup_free char *shown = adr_str_escape(why, 300);
        return adr_err_set(err, EIO, "egress gateway exited (status %d) before it served%s%s", code, *why ? ": " : "",
                           shown);
      }
      if (ms > timeout_ms)
        return adr_err_set(err, ETIMEDOUT, "egress gateway not ready after %d ms", timeout_ms);
    }
    struct timespec d = { 0, 2 * 1000 * 1000 };
    nanosleep(&d, NULL);
  }
}
