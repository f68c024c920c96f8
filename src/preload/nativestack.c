/* Native stack capture: libunwind's unw_backtrace, or glibc's backtrace(),
 * with the preload library's own frames skipped. */
#include "nativestack.h"

#include "errors.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

#ifdef LT_HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#else
#include <execinfo.h>
#endif

/* The executable segments of this library: frames in them are ours.
 * Written once by lt_nativestack_init, before tracking starts. */
#define OWN_SEGMENTS 4
static struct {
    uintptr_t lo, hi;
} own[OWN_SEGMENTS];
static int nown;

static int find_own(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    uintptr_t probe = (uintptr_t)ctx;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && probe >= lo && probe < lo + ph->p_memsz)
            mine = 1;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && nown < OWN_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            own[nown].lo = info->dlpi_addr + ph->p_vaddr;
            own[nown].hi = own[nown].lo + ph->p_memsz;
            nown++;
        }
    }
    return 1;
}

static int is_own(uintptr_t pc)
{
    for (int i = 0; i < nown; i++)
        if (pc >= own[i].lo && pc < own[i].hi)
            return 1;
    return 0;
}

static int unwind(void **buf, int max)
{
#ifdef LT_HAVE_LIBUNWIND
    return unw_backtrace(buf, max);
#else
    return backtrace(buf, max);
#endif
}

int lt_nativestack_init(void)
{
    nown = 0;
    dl_iterate_phdr(find_own, (void *)(uintptr_t)&find_own);
    uintptr_t warm[8];
    lt_nativestack_capture(warm, 8);
    return nown > 0 ? 0 : LT_ENOENT;
}

int lt_nativestack_capture(uintptr_t *out, int max)
{
    /* A few frames more than asked for: ours come first and are dropped. */
    void *buf[LT_NATIVESTACK_MAX + 8];
    if (max > LT_NATIVESTACK_MAX)
        max = LT_NATIVESTACK_MAX;
    if (max <= 0)
        return 0;
    int n = unwind(buf, max + 8);
    int i = 0;
    while (i < n && is_own((uintptr_t)buf[i]))
        i++;
    int k = 0;
    for (; i < n && k < max; i++)
        out[k++] = (uintptr_t)buf[i];
    return k;
}

const char *lt_nativestack_unwinder(void)
{
#ifdef LT_HAVE_LIBUNWIND
    return "libunwind";
#else
    return "backtrace";
#endif
}
