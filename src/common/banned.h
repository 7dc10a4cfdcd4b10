/* Functions adr does not call (after git's banned.h): each has a bounded or
 * checked replacement.  Included by util.h, so by every adr source file;
 * the system headers that declare them come first, so that the macros below
 * only ever meet calls.
 *
 *   strcpy, strcat, strncpy, strncat -> memcpy with a known length, xstrdup,
 *                                       xasprintf, struct buf
 *   sprintf, vsprintf                -> snprintf, xasprintf, buf_printf
 *   atoi, atol, atoll                -> adr_parse_uint / strtol with checks
 *   gets                             -> fgets, getline
 *   strtok                           -> strtok_r, strsep
 *   localtime, gmtime, ctime, asctime -> the _r variants
 *   tmpnam, mktemp                   -> mkstemp, mkdtemp */
#ifndef ADR_BANNED_H
#define ADR_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADR_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(...) ADR_BANNED(strcpy)
#undef strcat
#define strcat(...) ADR_BANNED(strcat)
#undef strncpy
#define strncpy(...) ADR_BANNED(strncpy)
#undef strncat
#define strncat(...) ADR_BANNED(strncat)
#undef sprintf
#define sprintf(...) ADR_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) ADR_BANNED(vsprintf)
#undef atoi
#define atoi(...) ADR_BANNED(atoi)
#undef atol
#define atol(...) ADR_BANNED(atol)
#undef atoll
#define atoll(...) ADR_BANNED(atoll)
#undef gets
#define gets(...) ADR_BANNED(gets)
#undef strtok
#define strtok(...) ADR_BANNED(strtok)
#undef localtime
#define localtime(...) ADR_BANNED(localtime)
#undef gmtime
#define gmtime(...) ADR_BANNED(gmtime)
#undef ctime
#define ctime(...) ADR_BANNED(ctime)
#undef asctime
#define asctime(...) ADR_BANNED(asctime)
#undef tmpnam
#define tmpnam(...) ADR_BANNED(tmpnam)
#undef mktemp
#define mktemp(...) ADR_BANNED(mktemp)

#endif
