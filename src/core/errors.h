/* Error codes shared by src/core and src/preload: functions return 0 on success
 * and a negative code on failure. Where an errno fits, the code is -errno. */
#ifndef LT_ERRORS_H
#define LT_ERRORS_H

#include <errno.h>

#define LT_OK 0
#define LT_ENOMEM (-ENOMEM)     /* an allocation failed */
#define LT_EINVAL (-EINVAL)     /* a bad argument */
#define LT_ENOENT (-ENOENT)     /* no such file, process or entry */
#define LT_EACCES (-EACCES)     /* not permitted */
#define LT_ERANGE (-ERANGE)     /* a size or count does not fit */
#define LT_EIO (-EIO)           /* a read or write failed */
/* Codes with no errno equivalent live below -4096, away from every errno. */
#define LT_EFORMAT (-4097)      /* input is not in the expected format */

/* Returns a static English description of an LT_E code (never NULL). */
const char *lt_strerror(int code);

#endif
