/* The agent skill: data/skill/adr/SKILL.md (the open agent skills format:
 * a directory with SKILL.md, YAML front matter name and description)
 * teaches a coding agent to drive adr.  Installed into each agent's
 * user-level skills directory (its definition's "skills"), as
 * DIR/adr/SKILL.md.  A file there that adr did not install (no marker
 * line) is the user's: kept unless forced. */
#ifndef ADR_SKILL_H
#define ADR_SKILL_H

#include "agent.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

#define ADR_SKILL_NAME "adr"
#define ADR_SKILL_MARKER "<!-- installed by adr"

/* The skill's text (built in). */
const char *adr_skill_text(size_t *len);

enum adr_skill_state {
  ADR_SKILL_WRITTEN,   /* installed now */
  ADR_SKILL_UPDATED,   /* an older one of adr's replaced */
  ADR_SKILL_UNCHANGED, /* already this one */
  ADR_SKILL_KEPT,      /* a file adr did not install is there: left alone */
  ADR_SKILL_REMOVED,   /* uninstall: removed */
  ADR_SKILL_ABSENT,    /* uninstall: none there */
};
const char *adr_skill_state_name(enum adr_skill_state s);

struct adr_skill_result {
  char *agent;
  char *path; /* DIR/adr/SKILL.md */
  enum adr_skill_state state;
};
void adr_skill_results_free(struct adr_skill_result *v, size_t n);

/* For each agent of agents with a skills directory (only those named in
 * only, when it has any; a named agent without one is an error), with
 * home for "~": install (force: over a file that is not adr's) or, with
 * remove, uninstall (only adr's own, unless force).  0 with the results,
 * -1 with err at the first failure (the results so far are kept). */
int adr_skill_apply(const struct adr_agents *agents, const struct strv *only, const char *home, bool remove, bool force,
                    struct adr_skill_result **out, size_t *n, adr_err *err);

#endif
