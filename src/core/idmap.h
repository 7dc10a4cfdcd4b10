/* Idmapped bind mounts, used when adr itself runs as root: the agent runs
 * as an unprivileged uid U, and the host paths it gets (workspace, staged
 * config, extra mounts) are bound through a mount whose idmapping swaps
 * 0 <-> U.  Inside, root's files appear as U's; what the agent writes lands
 * on the host owned by root, the invoking user.  Needs Linux >= 5.12 and a
 * filesystem with idmapped-mount support (ext4, xfs, btrfs, tmpfs >= 6.3). */
#ifndef ADR_IDMAP_H
#define ADR_IDMAP_H

#include "err.h"

#include <sys/types.h>

/* Creates dst (a directory or an empty file, like src) and mounts an
 * idmapped clone of src (recursively) on it. */
int adr_idmap_mount(const char *src, const char *dst, uid_t uid, gid_t gid, adr_err *err);
/* Detaches the mount at dst and removes dst. Missing dst is fine. */
int adr_idmap_umount(const char *dst, adr_err *err);

/* Unmounts and removes every entry of dir, then dir itself. */
int adr_idmap_umount_dir(const char *dir, adr_err *err);

/* A file in a sandbox's mounts directory: its teardown began (the sandbox
 * may be gone), so the reaper unmounts them without waiting. */
#define ADR_IDMAP_TORN ".torn"

#endif
