/* The capture file: CRC-32C and varints, the writer (delta-encoded
 * checkpoints, one write(2) per record) and the bounds-checked reader. The
 * format itself is described in docs/capture-format.md. */
#include "capture.h"
#include "errors.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Checksums and numbers --------------------------------------------- */

/* CRC-32C, reflected polynomial 0x82f63b78 (iSCSI, ext4, SSE4.2's crc32). */
static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t lt__capture_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    crc = ~crc;
    while (len-- > 0)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static const unsigned char capture_preamble[LT_CAPTURE_PREAMBLE_LEN] = {
    0x89, 'L', 'T', 'C', '\r', '\n', 0x1a, '\n',
    LT_CAPTURE_VERSION_MAJOR & 0xff, LT_CAPTURE_VERSION_MAJOR >> 8,
    LT_CAPTURE_VERSION_MINOR & 0xff, LT_CAPTURE_VERSION_MINOR >> 8,
};

/* LEB128: 7 bits per byte, least significant first, high bit = more. A
 * 64-bit value takes at most 10 bytes. */
#define VARINT_MAX 10

static size_t varint_encode(uint64_t v, unsigned char *out)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

/* Signed differences as unsigned varints: 0, -1, 1, -2, ... -> 0, 1, 2, 3.
 * Values are unsigned 64-bit and differences wrap, so old + delta gives the
 * new value back for any pair, with no overflow to worry about. */
static uint64_t zigzag(uint64_t delta) { return (delta << 1) ^ (0 - (delta >> 63)); }
static uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

const char *lt_capture_mode_name(uint64_t mode)
{
    switch (mode) {
    case LT_CAPTURE_MODE_OFF: return "off";
    case LT_CAPTURE_MODE_SAMPLED: return "sampled";
    case LT_CAPTURE_MODE_TRACE: return "trace";
    default: return NULL;
    }
}

/* ---- Row tables (both sides) ------------------------------------------- */

/* Returns a block for `need` items of `size` bytes holding the first `keep`
 * items of `old` (capacity *cap, freed here), with *cap updated; or NULL
 * with nothing changed. Capacities double from 64. */
static void *grow_block(const lt_alloc_t *a, void *old, size_t *cap, size_t need, size_t keep, size_t size)
{
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 4 / size)
            return NULL;
        c *= 2;
    }
    void *p = lt_alloc(a, c * size);
    if (p == NULL)
        return NULL;
    if (keep > 0)
        memcpy(p, old, keep * size);
    lt_free(a, old, *cap * size);
    *cap = c;
    return p;
}

/* Ensures room for `need` rows; keeps the first `keep`. 0 or LT_ENOMEM. */
static int rows_reserve(const lt_alloc_t *a, lt_capture_row_t **rows, size_t *cap, size_t need, size_t keep)
{
    if (need <= *cap)
        return 0;
    lt_capture_row_t *p = grow_block(a, *rows, cap, need, keep, sizeof(**rows));
    if (p == NULL)
        return LT_ENOMEM;
    *rows = p;
    return 0;
}

static void rows_swap(lt_capture_row_t **x, size_t *xcap, lt_capture_row_t **y, size_t *ycap)
{
    lt_capture_row_t *p = *x;
    size_t c = *xcap;
    *x = *y;
    *xcap = *ycap;
    *y = p;
    *ycap = c;
}

static void rows_sift(lt_capture_row_t *r, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && r[c + 1].id > r[c].id)
            c++;
        if (r[i].id >= r[c].id)
            return;
        lt_capture_row_t t = r[i];
        r[i] = r[c];
        r[c] = t;
        i = c;
    }
}

/* Sorts by id in place: heapsort (qsort may call malloc), skipped when the
 * rows come sorted, as they usually do. */
static void rows_sort(lt_capture_row_t *r, size_t n)
{
    size_t i = 1;
    while (i < n && r[i - 1].id <= r[i].id)
        i++;
    if (i >= n)
        return;
    for (i = n / 2; i-- > 0;)
        rows_sift(r, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        lt_capture_row_t t = r[0];
        r[0] = r[end];
        r[end] = t;
        rows_sift(r, 0, end);
    }
}

/* ---- Writer ------------------------------------------------------------- */

/* A record is built after `room` reserved bytes: the type byte and up to 5
 * length bytes go right before the payload once its length is known (and,
 * for the header, the preamble before them), so the whole record leaves in
 * one write(2) without moving the payload. */
#define RECORD_ROOM 6
#define HEADER_ROOM (LT_CAPTURE_PREAMBLE_LEN + RECORD_ROOM)

static int writer_usable(const lt_capture_writer_t *w)
{
    if (w->error < 0)
        return w->error;
    return w->finished ? LT_EINVAL : 0;
}

static int rec_begin(lt_capture_writer_t *w, size_t room)
{
    static const char zeros[HEADER_ROOM];
    lt_strbuf_reset(&w->rec);
    return lt_strbuf_append(&w->rec, zeros, room);
}

static int put_varint(lt_capture_writer_t *w, uint64_t v)
{
    unsigned char tmp[VARINT_MAX];
    return lt_strbuf_append(&w->rec, (const char *)tmp, varint_encode(v, tmp));
}

static int put_delta(lt_capture_writer_t *w, uint64_t now, uint64_t before)
{
    return put_varint(w, zigzag(now - before));
}

static int put_string(lt_capture_writer_t *w, const char *s, size_t len)
{
    int rc = put_varint(w, len);
    return rc < 0 ? rc : lt_strbuf_append(&w->rec, s, len);
}

/* write(2) until all is out. An error before any byte of the record left
 * is returned as it is and leaves the file intact; one after a part was
 * written becomes the writer's sticky error, because the file now ends in a
 * torn record that nothing can follow. */
static int writer_write(lt_capture_writer_t *w, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(w->fd, p + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int rc = k < 0 && errno > 0 ? -errno : LT_EIO;
            if (done > 0)
                w->error = rc;
            return rc;
        }
        done += (size_t)k;
        w->bytes_written += (uint64_t)k;
    }
    return 0;
}

/* Frames the payload built since rec_begin(room) as a record of `type`,
 * appends its checksum and writes it. */
static int rec_end(lt_capture_writer_t *w, lt_capture_type_t type, size_t room)
{
    size_t payload = w->rec.len - room;
    if (payload > LT_CAPTURE_MAX_RECORD)
        return LT_ERANGE;
    unsigned char len[VARINT_MAX];
    size_t k = varint_encode(payload, len);
    size_t start = room - 1 - k;
    unsigned char *d = (unsigned char *)w->rec.data;
    d[start] = (unsigned char)type;
    memcpy(d + start + 1, len, k);
    if (type == LT_CAPTURE_HEADER) {
        /* The header's checksum covers the preamble too, so a flipped
         * version bit is caught. */
        start -= LT_CAPTURE_PREAMBLE_LEN;
        memcpy(d + start, capture_preamble, LT_CAPTURE_PREAMBLE_LEN);
    }
    unsigned char crc[4];
    put_le32(crc, lt__capture_crc32c(0, d + start, w->rec.len - start));
    int rc = lt_strbuf_append(&w->rec, (const char *)crc, 4);
    if (rc < 0)
        return rc;
    return writer_write(w, w->rec.data + start, w->rec.len - start);
}

static int writer_fsync(lt_capture_writer_t *w)
{
    if (!(w->flags & LT_CAPTURE_FSYNC))
        return 0;
    if (fsync(w->fd) == 0 || errno == EINVAL || errno == EROFS || errno == ENOTSUP)
        return 0;               /* a pipe or a special file has nothing to sync */
    return errno > 0 ? -errno : LT_EIO;
}

int lt_capture_writer_open(lt_capture_writer_t *w, const lt_alloc_t *a, int fd, const lt_capture_meta_t *meta,
                           unsigned flags)
{
    memset(w, 0, sizeof(*w));
    if (a == NULL || fd < 0 || meta == NULL || meta->argc > LT_CAPTURE_MAX_ARGC ||
        (meta->argc > 0 && meta->argv == NULL))
        return LT_EINVAL;
    for (size_t i = 0; i < meta->argc; i++)
        if (meta->argv[i] == NULL)
            return LT_EINVAL;
    w->a = a;
    w->fd = fd;
    w->flags = flags;
    lt_strbuf_init(&w->rec, a);

    uint64_t created = meta->created_ns;
    if (created == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        created = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    uint64_t pid = meta->pid ? meta->pid : (uint64_t)getpid();
    const char *pyver = meta->python_version ? meta->python_version : "";

    int rc = rec_begin(w, HEADER_ROOM);
    if (rc == 0)
        rc = put_varint(w, created);
    if (rc == 0)
        rc = put_varint(w, pid);
    if (rc == 0)
        rc = put_varint(w, meta->mode);
    if (rc == 0)
        rc = put_varint(w, meta->sample_mean);
    if (rc == 0)
        rc = put_string(w, pyver, strlen(pyver));
    if (rc == 0)
        rc = put_varint(w, meta->argc);
    for (size_t i = 0; rc == 0 && i < meta->argc; i++)
        rc = put_string(w, meta->argv[i], strlen(meta->argv[i]));
    if (rc == 0)
        rc = rec_end(w, LT_CAPTURE_HEADER, HEADER_ROOM);
    if (rc < 0)
        goto error;
    return 0;

error:
    lt_capture_writer_release(w);
    return rc;
}

int lt_capture_writer_add_string(lt_capture_writer_t *w, const char *s, size_t len, uint32_t *id)
{
    int rc = writer_usable(w);
    if (rc < 0)
        return rc;
    if (s == NULL && len > 0)
        return LT_EINVAL;
    if (w->nstrings > LT_CAPTURE_MAX_ID || len > LT_CAPTURE_MAX_RECORD)
        return LT_ERANGE;
    rc = rec_begin(w, RECORD_ROOM);
    if (rc == 0)
        rc = lt_strbuf_append(&w->rec, s, len);
    if (rc == 0)
        rc = rec_end(w, LT_CAPTURE_STRING, RECORD_ROOM);
    if (rc < 0)
        return rc;
    if (id != NULL)
        *id = w->nstrings;
    w->nstrings++;
    return 0;
}

/* A string reference in a frame: 0 for none, else id + 1. */
static int string_ref_ok(const lt_capture_writer_t *w, uint32_t id)
{
    return id == LT_CAPTURE_NONE || id < w->nstrings;
}

int lt_capture_writer_add_frame(lt_capture_writer_t *w, const lt_capture_frame_t *f, uint32_t *id)
{
    int rc = writer_usable(w);
    if (rc < 0)
        return rc;
    if (f == NULL || !string_ref_ok(w, f->file) || !string_ref_ok(w, f->function) ||
        (f->flags & ~LT_CAPTURE_FRAME_NATIVE) != 0)
        return LT_EINVAL;
    if (w->nframes > LT_CAPTURE_MAX_ID)
        return LT_ERANGE;
    rc = rec_begin(w, RECORD_ROOM);
    if (rc == 0)
        rc = put_varint(w, f->file == LT_CAPTURE_NONE ? 0 : (uint64_t)f->file + 1);
    if (rc == 0)
        rc = put_varint(w, f->function == LT_CAPTURE_NONE ? 0 : (uint64_t)f->function + 1);
    if (rc == 0)
        rc = put_varint(w, f->line);
    if (rc == 0)
        rc = put_varint(w, f->flags);
    if (rc == 0 && (f->flags & LT_CAPTURE_FRAME_NATIVE))
        rc = put_varint(w, f->address);
    if (rc == 0)
        rc = rec_end(w, LT_CAPTURE_FRAME, RECORD_ROOM);
    if (rc < 0)
        return rc;
    if (id != NULL)
        *id = w->nframes;
    w->nframes++;
    return 0;
}

int lt_capture_writer_add_stack(lt_capture_writer_t *w, const uint32_t *frames, size_t n, uint32_t *id)
{
    int rc = writer_usable(w);
    if (rc < 0)
        return rc;
    if (n > 0 && frames == NULL)
        return LT_EINVAL;
    if (n > LT_CAPTURE_MAX_DEPTH || w->nstacks > LT_CAPTURE_MAX_ID)
        return LT_ERANGE;
    for (size_t i = 0; i < n; i++)
        if (frames[i] >= w->nframes)
            return LT_EINVAL;
    rc = rec_begin(w, RECORD_ROOM);
    if (rc == 0)
        rc = put_varint(w, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = put_varint(w, frames[i]);
    if (rc == 0)
        rc = rec_end(w, LT_CAPTURE_STACK, RECORD_ROOM);
    if (rc < 0)
        return rc;
    if (id != NULL)
        *id = w->nstacks;
    w->nstacks++;
    return 0;
}

/* Copies rows into *dst (sorted by id) and checks that ids are unique and
 * below `limit`. 0, LT_EINVAL or LT_ENOMEM. */
static int rows_take(const lt_alloc_t *a, lt_capture_row_t **dst, size_t *cap, const lt_capture_row_t *src,
                     size_t n, uint32_t limit)
{
    if (n > 0 && src == NULL)
        return LT_EINVAL;
    int rc = rows_reserve(a, dst, cap, n, 0);
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    memcpy(*dst, src, n * sizeof(*src));
    rows_sort(*dst, n);
    for (size_t i = 0; i < n; i++)
        if ((*dst)[i].id >= limit || (i > 0 && (*dst)[i].id == (*dst)[i - 1].id))
            return LT_EINVAL;
    return 0;
}

/* Encodes the change from table `old` to table `new` (both sorted):
 *   nremoved, then each removed id as the gap from the previous one + 1;
 *   nchanged, then per added or changed row: id gap, zigzag(bytes - old),
 *   zigzag(count - old), "old" being 0 for an added row.
 * Pass 0 counts, pass 1 writes the removals, pass 2 the changes. */
static int table_encode(lt_capture_writer_t *w, const lt_capture_row_t *old, size_t nold,
                        const lt_capture_row_t *new, size_t nnew)
{
    size_t nremoved = 0, nchanged = 0;
    int rc = 0;
    for (int pass = 0; pass < 3 && rc == 0; pass++) {
        if (pass == 1)
            rc = put_varint(w, nremoved);
        if (pass == 2)
            rc = put_varint(w, nchanged);
        uint64_t expect = 0;
        size_t i = 0, j = 0;
        while (rc == 0 && (i < nold || j < nnew)) {
            if (j == nnew || (i < nold && old[i].id < new[j].id)) {
                /* Removed. */
                if (pass == 0)
                    nremoved++;
                else if (pass == 1) {
                    rc = put_varint(w, old[i].id - expect);
                    expect = (uint64_t)old[i].id + 1;
                }
                i++;
                continue;
            }
            uint64_t ob = 0, oc = 0;
            int same_id = i < nold && old[i].id == new[j].id;
            if (same_id) {
                ob = old[i].bytes;
                oc = old[i].count;
                i++;
                if (ob == new[j].bytes && oc == new[j].count) {
                    j++;
                    continue;
                }
            }
            if (pass == 0)
                nchanged++;
            else if (pass == 2) {
                rc = put_varint(w, new[j].id - expect);
                if (rc == 0)
                    rc = put_delta(w, new[j].bytes, ob);
                if (rc == 0)
                    rc = put_delta(w, new[j].count, oc);
                expect = (uint64_t)new[j].id + 1;
            }
            j++;
        }
    }
    return rc;
}

int lt_capture_writer_checkpoint(lt_capture_writer_t *w, const lt_capture_checkpoint_t *cp)
{
    int rc = writer_usable(w);
    if (rc < 0)
        return rc;
    if (cp == NULL)
        return LT_EINVAL;
    rc = rows_take(w->a, &w->sites_next, &w->sites_next_cap, cp->sites, cp->nsites, w->nstacks);
    if (rc == 0 && cp->has_census)
        rc = rows_take(w->a, &w->census_next, &w->census_next_cap, cp->census, cp->ncensus, w->nstrings);
    if (rc < 0)
        return rc;

    const lt_capture_checkpoint_t *p = &w->prev;
    rc = rec_begin(w, RECORD_ROOM);
    if (rc == 0)
        rc = put_varint(w, cp->has_census ? 1 : 0);
    if (rc == 0)
        rc = put_delta(w, cp->time_ns, p->time_ns);
    if (rc == 0)
        rc = put_delta(w, cp->rss_bytes, p->rss_bytes);
    if (rc == 0)
        rc = put_delta(w, cp->py_heap_bytes, p->py_heap_bytes);
    if (rc == 0)
        rc = put_delta(w, cp->native_heap_bytes, p->native_heap_bytes);
    for (int k = 0; rc == 0 && k < LT_CAPTURE_FD_KINDS; k++)
        rc = put_delta(w, cp->fds[k], p->fds[k]);
    if (rc == 0)
        rc = put_delta(w, cp->threads, p->threads);
    if (rc == 0)
        rc = table_encode(w, w->sites, w->nsites, w->sites_next, cp->nsites);
    if (rc == 0 && cp->has_census)
        rc = table_encode(w, w->census, w->ncensus, w->census_next, cp->ncensus);
    if (rc == 0)
        rc = rec_end(w, LT_CAPTURE_CHECKPOINT, RECORD_ROOM);
    if (rc < 0)
        return rc;

    /* Written: this state is the base of the next delta. */
    rows_swap(&w->sites, &w->sites_cap, &w->sites_next, &w->sites_next_cap);
    w->nsites = cp->nsites;
    if (cp->has_census) {
        rows_swap(&w->census, &w->census_cap, &w->census_next, &w->census_next_cap);
        w->ncensus = cp->ncensus;
    }
    w->prev = *cp;
    w->prev.sites = NULL;
    w->prev.census = NULL;
    w->ncheckpoints++;
    return writer_fsync(w);
}

int lt_capture_writer_finish(lt_capture_writer_t *w, uint64_t end_ns)
{
    int rc = writer_usable(w);
    if (rc < 0)
        return rc;
    rc = rec_begin(w, RECORD_ROOM);
    if (rc == 0)
        rc = put_varint(w, end_ns);
    if (rc == 0)
        rc = put_varint(w, w->nstrings);
    if (rc == 0)
        rc = put_varint(w, w->nframes);
    if (rc == 0)
        rc = put_varint(w, w->nstacks);
    if (rc == 0)
        rc = put_varint(w, w->ncheckpoints);
    if (rc == 0)
        rc = rec_end(w, LT_CAPTURE_TRAILER, RECORD_ROOM);
    if (rc < 0)
        return rc;
    w->finished = 1;
    return writer_fsync(w);
}

void lt_capture_writer_release(lt_capture_writer_t *w)
{
    if (w->a != NULL) {
        lt_strbuf_clear(&w->rec);
        lt_free(w->a, w->sites, w->sites_cap * sizeof(*w->sites));
        lt_free(w->a, w->sites_next, w->sites_next_cap * sizeof(*w->sites_next));
        lt_free(w->a, w->census, w->census_cap * sizeof(*w->census));
        lt_free(w->a, w->census_next, w->census_next_cap * sizeof(*w->census_next));
    }
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}

/* ---- Reader ------------------------------------------------------------- */

/* A bounds-checked view of a payload. Any read past the end, or a number
 * that does not fit, sets `bad`; later reads then return 0. */
typedef struct cursor {
    const unsigned char *p, *end;
    int bad;
} cursor_t;

static uint64_t get_varint(cursor_t *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; !c->bad; shift += 7) {
        if (c->p == c->end) {
            c->bad = 1;
            break;
        }
        unsigned b = *c->p++;
        if (shift == 63 && b > 1) {
            c->bad = 1;         /* past 64 bits */
            break;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    return 0;
}

static uint32_t get_u32(cursor_t *c)
{
    uint64_t v = get_varint(c);
    if (v > UINT32_MAX) {
        c->bad = 1;
        return 0;
    }
    return (uint32_t)v;
}

static size_t remaining(const cursor_t *c) { return (size_t)(c->end - c->p); }

/* A length-prefixed string. */
static lt_capture_str_t get_str(cursor_t *c)
{
    lt_capture_str_t s = {"", 0};
    uint64_t n = get_varint(c);
    if (c->bad || n > remaining(c)) {
        c->bad = 1;
        return s;
    }
    s.s = (const char *)c->p;
    s.len = (size_t)n;
    c->p += n;
    return s;
}

/* How a record's framing looked. */
enum frame_status { FRAME_OK, FRAME_TRUNCATED, FRAME_CORRUPT };

typedef struct record {
    unsigned type;
    size_t total;               /* type + length + payload + checksum */
    cursor_t payload;
} record_t;

/* Reads the framing of the record at buf[off..len), with `crc_from` the
 * offset where its checksum starts (off, or 0 for the header). */
static enum frame_status frame_record(const lt_capture_reader_t *r, size_t off, size_t crc_from, record_t *rec,
                                      const char **why)
{
    const unsigned char *p = r->buf + off;
    size_t rem = r->len - off;
    rec->type = p[0];
    size_t i = 1;
    uint64_t plen = 0;
    for (unsigned k = 0;; k++) {
        if (i >= rem) {
            *why = "the file ends inside a record's header";
            return FRAME_TRUNCATED;
        }
        if (k == 5) {
            *why = "a record length is not a valid number";
            return FRAME_CORRUPT;
        }
        unsigned b = p[i++];
        plen |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80))
            break;
    }
    if (plen > LT_CAPTURE_MAX_RECORD) {
        *why = "a record is longer than the format allows";
        return FRAME_CORRUPT;
    }
    if (plen + 4 > rem - i) {
        *why = "the file ends inside a record";
        return FRAME_TRUNCATED;
    }
    rec->total = i + (size_t)plen + 4;
    rec->payload.p = p + i;
    rec->payload.end = p + i + plen;
    rec->payload.bad = 0;
    if (!(r->flags & LT_CAPTURE_READ_NO_CHECKSUM)) {
        size_t covered = off + i + (size_t)plen - crc_from;
        if (lt__capture_crc32c(0, r->buf + crc_from, covered) != get_le32(p + i + plen)) {
            *why = "a record fails its checksum";
            return FRAME_CORRUPT;
        }
    }
    return FRAME_OK;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Why the header record is refused; "" while it is fine. */
static const char *header_parse(lt_capture_reader_t *r, cursor_t *c)
{
    lt_capture_header_t *h = &r->header;
    h->created_ns = get_varint(c);
    h->pid = get_varint(c);
    h->mode = get_varint(c);
    h->sample_mean = get_varint(c);
    h->python_version = get_str(c);
    uint64_t argc = get_varint(c);
    if (c->bad || argc > LT_CAPTURE_MAX_ARGC || argc > remaining(c))
        return "its header is malformed";
    if (argc == 0)
        return "";
    h->argv = lt_alloc(r->a, (size_t)argc * sizeof(*h->argv));
    if (h->argv == NULL)
        return NULL;
    h->argc = (size_t)argc;
    for (size_t i = 0; i < h->argc; i++)
        h->argv[i] = get_str(c);
    return c->bad ? "its header is malformed" : "";
}

int lt_capture_reader_open(lt_capture_reader_t *r, const lt_alloc_t *a, const void *buf, size_t len,
                           unsigned flags)
{
    memset(r, 0, sizeof(*r));
    r->a = a;
    r->buf = buf;
    r->len = len;
    r->flags = flags;
    const unsigned char *b = buf;
    if (a == NULL || (buf == NULL && len > 0)) {
        r->why = "invalid argument";
        return LT_EINVAL;
    }
    if (len == 0) {
        r->why = "the file is empty";
        return LT_EFORMAT;
    }
    size_t m = len < LT_CAPTURE_MAGIC_LEN ? len : LT_CAPTURE_MAGIC_LEN;
    if (memcmp(b, LT_CAPTURE_MAGIC, m) != 0) {
        r->why = "it does not start with the leaktrace magic bytes";
        return LT_EFORMAT;
    }
    if (len < LT_CAPTURE_PREAMBLE_LEN + 1) {
        r->why = "the file ends inside its header";
        return LT_EFORMAT;
    }
    r->header.major = (unsigned)b[8] | (unsigned)b[9] << 8;
    r->header.minor = (unsigned)b[10] | (unsigned)b[11] << 8;
    if (r->header.major != LT_CAPTURE_VERSION_MAJOR) {
        r->why = r->header.major > LT_CAPTURE_VERSION_MAJOR ? "its format version is newer than this reader's"
                                                            : "its format version is unknown";
        return LT_EFORMAT;
    }
    record_t rec;
    const char *why = NULL;
    enum frame_status fs = frame_record(r, LT_CAPTURE_PREAMBLE_LEN, 0, &rec, &why);
    if (fs == FRAME_TRUNCATED) {
        r->why = "the file ends inside its header";
        return LT_EFORMAT;
    }
    if (rec.type != LT_CAPTURE_HEADER) {
        r->why = "its first record is not a header";
        return LT_EFORMAT;
    }
    if (fs == FRAME_CORRUPT) {
        r->why = "its header is damaged (checksum or length)";
        return LT_EFORMAT;
    }
    why = header_parse(r, &rec.payload);
    if (why == NULL || why[0] != '\0') {
        lt_free(a, r->header.argv, r->header.argc * sizeof(*r->header.argv));
        unsigned major = r->header.major, minor = r->header.minor;
        memset(&r->header, 0, sizeof(r->header));
        r->header.major = major;
        r->header.minor = minor;
        if (why == NULL)
            return LT_ENOMEM;
        r->why = why;
        return LT_EFORMAT;
    }
    r->offset = LT_CAPTURE_PREAMBLE_LEN + rec.total;
    r->records = 1;
    return 0;
}

/* The outcome of one record's rules: fine, broken (why says how), or no
 * memory. */
#define REC_OK 0
#define REC_BAD 1

static int read_string(lt_capture_reader_t *r, cursor_t *c, const char **why)
{
    if (r->nstrings > LT_CAPTURE_MAX_ID) {
        *why = "more strings than the format allows";
        return REC_BAD;
    }
    if (r->nstrings == r->strings_cap) {
        lt_capture_str_t *p = grow_block(r->a, r->strings, &r->strings_cap, (size_t)r->nstrings + 1, r->nstrings,
                                         sizeof(*p));
        if (p == NULL)
            return LT_ENOMEM;
        r->strings = p;
    }
    r->strings[r->nstrings].s = (const char *)c->p;
    r->strings[r->nstrings].len = remaining(c);
    r->nstrings++;
    return REC_OK;
}

/* A frame's string reference: 0 = none, else id + 1 of an earlier string. */
static uint32_t get_string_ref(const lt_capture_reader_t *r, cursor_t *c, int *undefined)
{
    uint64_t v = get_varint(c);
    if (v == 0)
        return LT_CAPTURE_NONE;
    if (v - 1 >= r->nstrings) {
        *undefined = 1;
        return LT_CAPTURE_NONE;
    }
    return (uint32_t)(v - 1);
}

static int read_frame(lt_capture_reader_t *r, cursor_t *c, const char **why)
{
    lt_capture_frame_t f;
    int undefined = 0;
    f.file = get_string_ref(r, c, &undefined);
    f.function = get_string_ref(r, c, &undefined);
    f.line = get_u32(c);
    f.flags = get_u32(c);
    f.address = (f.flags & LT_CAPTURE_FRAME_NATIVE) ? get_varint(c) : 0;
    if (c->bad) {
        *why = "a frame record is malformed";
        return REC_BAD;
    }
    if (undefined) {
        *why = "a frame refers to a string not defined before it";
        return REC_BAD;
    }
    if (r->nframes > LT_CAPTURE_MAX_ID) {
        *why = "more frames than the format allows";
        return REC_BAD;
    }
    if (r->nframes == r->frames_cap) {
        lt_capture_frame_t *p = grow_block(r->a, r->frames, &r->frames_cap, (size_t)r->nframes + 1, r->nframes,
                                           sizeof(*p));
        if (p == NULL)
            return LT_ENOMEM;
        r->frames = p;
    }
    r->frames[r->nframes++] = f;
    return REC_OK;
}

static int read_stack(lt_capture_reader_t *r, cursor_t *c, const char **why)
{
    uint64_t n = get_varint(c);
    if (c->bad || n > LT_CAPTURE_MAX_DEPTH || n > remaining(c)) {
        *why = "a stack record is malformed";
        return REC_BAD;
    }
    if (r->nstacks > LT_CAPTURE_MAX_ID) {
        *why = "more stacks than the format allows";
        return REC_BAD;
    }
    if (r->pool_len + n > r->pool_cap) {
        uint32_t *p = grow_block(r->a, r->pool, &r->pool_cap, r->pool_len + (size_t)n, r->pool_len, sizeof(*p));
        if (p == NULL)
            return LT_ENOMEM;
        r->pool = p;
    }
    if (r->nstacks == r->stacks_cap) {
        lt__capture_span_t *p = grow_block(r->a, r->stacks, &r->stacks_cap, (size_t)r->nstacks + 1, r->nstacks,
                                           sizeof(*p));
        if (p == NULL)
            return LT_ENOMEM;
        r->stacks = p;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t f = get_u32(c);
        if (c->bad) {
            *why = "a stack record is malformed";
            return REC_BAD;
        }
        if (f >= r->nframes) {
            *why = "a stack refers to a frame not defined before it";
            return REC_BAD;
        }
        r->pool[r->pool_len + i] = f;
    }
    r->stacks[r->nstacks].start = r->pool_len;
    r->stacks[r->nstacks].n = (size_t)n;
    r->pool_len += (size_t)n;
    r->nstacks++;
    return REC_OK;
}

/* The next id of a sorted id list (gap encoded); 0 once the list is done or
 * broken (c->bad). */
static int next_id(cursor_t *c, uint64_t *left, uint64_t *expect, uint64_t *id)
{
    if (*left == 0)
        return 0;
    (*left)--;
    uint64_t gap = get_varint(c);
    if (c->bad || gap > LT_CAPTURE_MAX_ID || *expect + gap > LT_CAPTURE_MAX_ID) {
        c->bad = 1;
        return 0;
    }
    *id = *expect + gap;
    *expect = *id + 1;
    return 1;
}

/* Applies one table delta (see table_encode) read from `c` to old[0..nold),
 * writing the new table to *out, which is made large enough. Ids of added
 * rows must be below `limit`. Returns REC_OK, REC_BAD (why set) or
 * LT_ENOMEM. */
static int table_apply(const lt_alloc_t *a, cursor_t *c, const lt_capture_row_t *old, size_t nold, uint32_t limit,
                       lt_capture_row_t **out, size_t *cap, size_t *nout, const char **why)
{
    uint64_t nrm = get_varint(c);
    if (c->bad || nrm > nold) {
        *why = "a checkpoint removes more rows than there are";
        return REC_BAD;
    }
    /* Skip over the removals to find the changes: both lists are merged
     * with the old table in one pass. */
    cursor_t rm = *c;
    for (uint64_t k = 0; k < nrm && !c->bad; k++)
        get_varint(c);
    uint64_t nch = get_varint(c);
    if (c->bad || nch > remaining(c) / 3) {
        *why = "a checkpoint record is malformed";
        return REC_BAD;
    }
    int rc = rows_reserve(a, out, cap, nold + (size_t)nch, 0);
    if (rc < 0)
        return rc;

    lt_capture_row_t *o = *out;
    size_t i = 0, n = 0;
    uint64_t rm_left = nrm, rm_expect = 0, rm_id = 0;
    uint64_t ch_left = nch, ch_expect = 0, ch_id = 0, db = 0, dc = 0;
    int have_rm = next_id(&rm, &rm_left, &rm_expect, &rm_id);
    int have_ch = next_id(c, &ch_left, &ch_expect, &ch_id);
    if (have_ch) {
        db = unzigzag(get_varint(c));
        dc = unzigzag(get_varint(c));
    }
    while (!rm.bad && !c->bad) {
        uint64_t old_id = i < nold ? old[i].id : UINT64_MAX;
        if (have_rm && rm_id < old_id) {
            *why = "a checkpoint removes a row that is not there";
            return REC_BAD;
        }
        if (have_ch && ch_id < old_id) {
            if (ch_id >= limit) {
                *why = "a checkpoint refers to an id not defined before it";
                return REC_BAD;
            }
            o[n].id = (uint32_t)ch_id;
            o[n].bytes = db;
            o[n].count = dc;
            n++;
        } else if (i == nold) {
            break;              /* nothing old, removed or changed is left */
        } else if (have_rm && rm_id == old_id) {
            if (have_ch && ch_id == old_id) {
                *why = "a checkpoint both removes and changes a row";
                return REC_BAD;
            }
            i++;
            have_rm = next_id(&rm, &rm_left, &rm_expect, &rm_id);
            continue;
        } else if (have_ch && ch_id == old_id) {
            o[n] = old[i++];
            o[n].bytes += db;
            o[n].count += dc;
            n++;
        } else {
            o[n++] = old[i++];
            continue;
        }
        /* A change was used: read the next one. */
        have_ch = next_id(c, &ch_left, &ch_expect, &ch_id);
        if (have_ch) {
            db = unzigzag(get_varint(c));
            dc = unzigzag(get_varint(c));
        }
    }
    if (rm.bad || c->bad) {
        *why = "a checkpoint record is malformed";
        return REC_BAD;
    }
    *nout = n;
    return REC_OK;
}

static int read_checkpoint(lt_capture_reader_t *r, cursor_t *c, const char **why)
{
    lt_capture_checkpoint_t cp = r->checkpoint;
    uint64_t flags = get_varint(c);
    cp.time_ns += unzigzag(get_varint(c));
    cp.rss_bytes += unzigzag(get_varint(c));
    cp.py_heap_bytes += unzigzag(get_varint(c));
    cp.native_heap_bytes += unzigzag(get_varint(c));
    for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++)
        cp.fds[k] += unzigzag(get_varint(c));
    cp.threads += unzigzag(get_varint(c));
    if (c->bad) {
        *why = "a checkpoint record is malformed";
        return REC_BAD;
    }
    size_t nsites = 0, ncensus = 0;
    int rc = table_apply(r->a, c, r->sites, r->nsites, r->nstacks, &r->sites_next, &r->sites_next_cap, &nsites,
                         why);
    if (rc != REC_OK)
        return rc;
    cp.has_census = (flags & 1) != 0;
    if (cp.has_census) {
        rc = table_apply(r->a, c, r->census, r->ncensus, r->nstrings, &r->census_next, &r->census_next_cap,
                         &ncensus, why);
        if (rc != REC_OK)
            return rc;
    }
    /* Valid: commit. */
    rows_swap(&r->sites, &r->sites_cap, &r->sites_next, &r->sites_next_cap);
    r->nsites = nsites;
    if (cp.has_census) {
        rows_swap(&r->census, &r->census_cap, &r->census_next, &r->census_next_cap);
        r->ncensus = ncensus;
    }
    cp.sites = r->sites;
    cp.nsites = r->nsites;
    cp.census = cp.has_census ? r->census : NULL;
    cp.ncensus = cp.has_census ? r->ncensus : 0;
    r->checkpoint = cp;
    r->ncheckpoints++;
    return REC_OK;
}

static int read_trailer(lt_capture_reader_t *r, cursor_t *c, const char **why)
{
    lt_capture_trailer_t t;
    t.end_ns = get_varint(c);
    t.strings = get_varint(c);
    t.frames = get_varint(c);
    t.stacks = get_varint(c);
    t.checkpoints = get_varint(c);
    if (c->bad) {
        *why = "the trailer is malformed";
        return REC_BAD;
    }
    if (t.strings != r->nstrings || t.frames != r->nframes || t.stacks != r->nstacks ||
        t.checkpoints != r->ncheckpoints) {
        *why = "the trailer's counts do not match the records";
        return REC_BAD;
    }
    r->trailer = t;
    r->has_trailer = 1;
    return REC_OK;
}

static int reader_stop(lt_capture_reader_t *r, lt_capture_stop_t stop, const char *why)
{
    r->stop = stop;
    r->why = why;
    r->stop_offset = r->offset;
    return 0;
}

int lt_capture_reader_next(lt_capture_reader_t *r, lt_capture_type_t *type)
{
    while (r->stop == LT_CAPTURE_READING) {
        size_t off = r->offset;
        if (off >= r->len)
            return reader_stop(r, r->has_trailer ? LT_CAPTURE_COMPLETE : LT_CAPTURE_UNFINISHED, NULL);
        if (r->has_trailer)
            return reader_stop(r, LT_CAPTURE_CORRUPT, "data follows the trailer");
        if (r->buf[off] == 0) {
            /* A crash can leave the tail of a file as zeros (the size was
             * updated, the data never reached the disk). */
            if (all_zero(r->buf + off, r->len - off))
                return reader_stop(r, LT_CAPTURE_TRUNCATED, "the file ends in zeros, as a crash can leave it");
            return reader_stop(r, LT_CAPTURE_CORRUPT, "a record has type 0");
        }
        record_t rec;
        const char *why = NULL;
        enum frame_status fs = frame_record(r, off, off, &rec, &why);
        if (fs != FRAME_OK)
            return reader_stop(r, fs == FRAME_TRUNCATED ? LT_CAPTURE_TRUNCATED : LT_CAPTURE_CORRUPT, why);
        int rc;
        switch (rec.type) {
        case LT_CAPTURE_HEADER:
            return reader_stop(r, LT_CAPTURE_CORRUPT, "a second header");
        case LT_CAPTURE_STRING:
            rc = read_string(r, &rec.payload, &why);
            break;
        case LT_CAPTURE_FRAME:
            rc = read_frame(r, &rec.payload, &why);
            break;
        case LT_CAPTURE_STACK:
            rc = read_stack(r, &rec.payload, &why);
            break;
        case LT_CAPTURE_CHECKPOINT:
            rc = read_checkpoint(r, &rec.payload, &why);
            break;
        case LT_CAPTURE_TRAILER:
            rc = read_trailer(r, &rec.payload, &why);
            break;
        default:
            /* A record type of a newer minor version: skip it. */
            r->offset = off + rec.total;
            r->skipped++;
            continue;
        }
        if (rc < 0)
            return rc;
        if (rc == REC_BAD)
            return reader_stop(r, LT_CAPTURE_CORRUPT, why);
        r->offset = off + rec.total;
        r->records++;
        *type = (lt_capture_type_t)rec.type;
        return 1;
    }
    return 0;
}

const char *lt_capture_reader_string(const lt_capture_reader_t *r, uint32_t id, size_t *len)
{
    if (id >= r->nstrings)
        return NULL;
    *len = r->strings[id].len;
    return r->strings[id].s;
}

const lt_capture_frame_t *lt_capture_reader_frame(const lt_capture_reader_t *r, uint32_t id)
{
    return id < r->nframes ? &r->frames[id] : NULL;
}

const uint32_t *lt_capture_reader_stack(const lt_capture_reader_t *r, uint32_t id, size_t *n)
{
    static const uint32_t empty[1];
    if (id >= r->nstacks)
        return NULL;
    *n = r->stacks[id].n;
    return *n > 0 ? r->pool + r->stacks[id].start : empty;
}

void lt_capture_reader_release(lt_capture_reader_t *r)
{
    const lt_alloc_t *a = r->a;
    if (a != NULL) {
        lt_free(a, r->header.argv, r->header.argc * sizeof(*r->header.argv));
        lt_free(a, r->strings, r->strings_cap * sizeof(*r->strings));
        lt_free(a, r->frames, r->frames_cap * sizeof(*r->frames));
        lt_free(a, r->stacks, r->stacks_cap * sizeof(*r->stacks));
        lt_free(a, r->pool, r->pool_cap * sizeof(*r->pool));
        lt_free(a, r->sites, r->sites_cap * sizeof(*r->sites));
        lt_free(a, r->sites_next, r->sites_next_cap * sizeof(*r->sites_next));
        lt_free(a, r->census, r->census_cap * sizeof(*r->census));
        lt_free(a, r->census_next, r->census_next_cap * sizeof(*r->census_next));
    }
    memset(r, 0, sizeof(*r));
}
