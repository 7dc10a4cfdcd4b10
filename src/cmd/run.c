/* wip */
#include "cmd.h"
const struct option run_options[] = { { 0 } };
const char run_help[] = "";
int cmd_run(struct adr_ctx *ctx, int argc, char **argv);
int cmd_run(struct adr_ctx *ctx, int argc, char **argv) { (void)ctx; (void)argc; (void)argv; return errorf("run: not yet"); }
