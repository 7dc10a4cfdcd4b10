/* adr-gateway --hold: open mode's holder.  It owns the network namespace
 * the sandbox joins: blackhole routes for the cloud metadata addresses,
 * then nothing but waiting for SIGTERM; with --relay, the credential relay
 * on 127.0.0.1 of that namespace. */
#include "gwd.h"
#include "relay.h"
#include "sys.h"

#include <arpa/inet.h>
#include <signal.h>

int gwd_run_hold(struct opts *o, adr_err *err)
{
  sigset_t set;
  gwd_block_signals(&set);
  for (size_t i = 0; i < o->blackholes.n; i++) {
    bool skipped;
    if (adr_blackhole(GW_OPT_BLACKHOLE, o->blackholes.v[i], &skipped, err) < 0)
      return -1;
  }
  if (o->relay) {
    if (gwd_log_open(o->log, o->log_max, err) < 0)
      return -1;
    struct in_addr lo;
    inet_pton(AF_INET, GW_HOLD_RELAY_ADDR, &lo);
    gwd.sandbox = o->sandbox;
    if (gwd_relay_init(o, lo, err) < 0)
      return -1;
  }
  if (gw_drop_privileges(err) < 0)
    return -1;
  if (o->relay && gw_relay_start(err) < 0)
    return -1;
  if (o->ready && gw_write_ready(o->ready, err) < 0)
    return -1;
  for (;;) {
    int s = sigwaitinfo(&set, NULL);
    if (s == SIGTERM || s == SIGINT)
      break;
  }
  if (o->relay) {
    gw_relay_stop();
    gwd_log_close();
  }
  return 0;
}
