/* Debug logging.  The library never writes to stdout/stderr itself; it
 * calls adr_debug(), which does nothing unless the command layer installed
 * a sink (adr does so when ADR_DEBUG=1). */
#ifndef ADR_LOG_H
#define ADR_LOG_H

typedef void (*adr_log_sink)(const char *msg);
void adr_log_set_sink(adr_log_sink sink);
void adr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
