/* Readers, writers, spools and zlib codecs for the archive formats. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pgarchive_io.h"

#define IN_BUF ((size_t)128 << 10)
#define OUT_BUF ((size_t)256 << 10)

/* ---- reader ----------------------------------------------------------- */

static int in_alloc(pga_in *in, sf_error *err)
{
    if (!(in->buf = malloc(IN_BUF)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    in->cap = IN_BUF;
    return 0;
}

int pga_in_init_fd(pga_in *in, int fd, const char *name, uint64_t start, sf_error *err)
{
    memset(in, 0, sizeof(*in));
    in->fd = fd;
    in->name = name;
    in->pos = start;
    in->limit = UINT64_MAX;
    return in_alloc(in, err);
}

int pga_in_init_range(pga_in *in, int fd, const char *name, uint64_t off, uint64_t len, sf_error *err)
{
    memset(in, 0, sizeof(*in));
    in->fd = fd;
    in->ranged = 1;
    in->name = name;
    in->pos = off;
    in->limit = len > UINT64_MAX - off ? UINT64_MAX : off + len;
    return in_alloc(in, err);
}

void pga_in_init_mem(pga_in *in, const void *p, size_t n, const char *name)
{
    memset(in, 0, sizeof(*in));
    in->fd = -1;
    in->mem = p;
    in->name = name;
    in->limit = n;
}

void pga_in_free(pga_in *in)
{
    if (in && in->fd >= 0)
        free(in->buf);
    if (in)
        in->buf = NULL;
}

int pga_in_fail(const pga_in *in, uint64_t off, int code, sf_error *err, const char *fmt, ...)
{
    char msg[SF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sf_error_set(err, code ? code : SF_EFORMAT, "%s: offset %llu: %s", in->name,
                        (unsigned long long)off, msg);
}

/* Refill the window; 0 with rlen == 0 means end of input. */
static int in_fill(pga_in *in, sf_error *err)
{
    ssize_t n;
    in->rpos = in->rlen = 0;
    if (in->fd < 0)
        return 0;
    if (in->ranged) {
        size_t want = in->cap;
        if (in->pos >= in->limit)
            return 0;
        if (in->limit - in->pos < want)
            want = (size_t)(in->limit - in->pos);
        do
            n = pread(in->fd, in->buf, want, (off_t)in->pos);
        while (n < 0 && errno == EINTR);
    } else {
        do
            n = read(in->fd, in->buf, in->cap);
        while (n < 0 && errno == EINTR);
    }
    if (n < 0)
        return pga_in_fail(in, in->pos, SF_EIO, err, "read error: %s", strerror(errno));
    in->rlen = (size_t)n;
    return 0;
}

int pga_in_read(pga_in *in, void *dst, size_t n, size_t *got, sf_error *err)
{
    unsigned char *d = dst;
    size_t done = 0;
    int rc;
    if (in->fd < 0) {
        uint64_t left = in->limit - in->pos;
        size_t k = left < n ? (size_t)left : n;
        if (k)
            memcpy(d, in->mem + in->pos, k);
        in->pos += k;
        *got = k;
        return 0;
    }
    while (done < n) {
        size_t k;
        if (in->rpos == in->rlen) {
            /* Large reads bypass the window on streams. */
            if (!in->ranged && n - done >= in->cap) {
                ssize_t r;
                do
                    r = read(in->fd, d + done, n - done);
                while (r < 0 && errno == EINTR);
                if (r < 0)
                    return pga_in_fail(in, in->pos, SF_EIO, err, "read error: %s", strerror(errno));
                if (r == 0)
                    break;
                done += (size_t)r;
                in->pos += (uint64_t)r;
                continue;
            }
            if ((rc = in_fill(in, err)) < 0)
                return rc;
            if (in->rlen == 0)
                break;
        }
        k = in->rlen - in->rpos;
        if (k > n - done)
            k = n - done;
        memcpy(d + done, in->buf + in->rpos, k);
        in->rpos += k;
        in->pos += k;
        done += k;
    }
    *got = done;
    return 0;
}

int pga_in_need(pga_in *in, void *dst, size_t n, const char *what, sf_error *err)
{
    uint64_t at = in->pos;
    size_t got;
    int rc = pga_in_read(in, dst, n, &got, err);
    if (rc < 0)
        return rc;
    if (got < n)
        return pga_in_fail(in, at, SF_EFORMAT, err, "unexpected end of file (reading %s)", what);
    return 0;
}

int pga_in_at_eof(pga_in *in, sf_error *err)
{
    int rc;
    if (in->fd < 0)
        return in->pos >= in->limit;
    if (in->rpos < in->rlen)
        return 0;
    if ((rc = in_fill(in, err)) < 0)
        return rc;
    return in->rlen == 0;
}

int pga_in_skip(pga_in *in, uint64_t n, const char *what, sf_error *err)
{
    uint64_t at = in->pos;
    if (in->fd < 0 || in->ranged) {
        uint64_t inbuf = in->fd < 0 ? 0 : in->rlen - in->rpos;
        if (n <= inbuf) {
            in->rpos += (size_t)n;
            in->pos += n;
            return 0;
        }
        if (in->fd >= 0)
            in->rpos = in->rlen;
        if (n > in->limit - in->pos)
            return pga_in_fail(in, at, SF_EFORMAT, err, "unexpected end of file (skipping %s)", what);
        in->pos += n;
        return 0;
    }
    while (n > 0) {
        int rc;
        size_t k;
        if (in->rpos == in->rlen) {
            if ((rc = in_fill(in, err)) < 0)
                return rc;
            if (in->rlen == 0)
                return pga_in_fail(in, at, SF_EFORMAT, err, "unexpected end of file (skipping %s)", what);
        }
        k = in->rlen - in->rpos;
        if (k > n)
            k = (size_t)n;
        in->rpos += k;
        in->pos += k;
        n -= k;
    }
    return 0;
}

/* ---- writer ----------------------------------------------------------- */

int pga_out_init(pga_out *o, int fd, const char *name, sf_error *err)
{
    memset(o, 0, sizeof(*o));
    o->fd = fd;
    o->name = name;
    if (!(o->buf = malloc(OUT_BUF)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    o->cap = OUT_BUF;
    return 0;
}

static int write_all(int fd, const void *p, size_t n, const char *name, sf_error *err)
{
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sf_error_set(err, SF_EIO, "cannot write %s: %s", name, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int pga_out_flush(pga_out *o, sf_error *err)
{
    int rc = 0;
    if (o->len)
        rc = write_all(o->fd, o->buf, o->len, o->name, err);
    o->len = 0;
    return rc;
}

int pga_out_write(pga_out *o, const void *p, size_t n, sf_error *err)
{
    int rc;
    if (o->len + n > o->cap) {
        if ((rc = pga_out_flush(o, err)) < 0)
            return rc;
        if (n >= o->cap) {
            if ((rc = write_all(o->fd, p, n, o->name, err)) < 0)
                return rc;
            o->pos += n;
            return 0;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->pos += n;
    return 0;
}

int pga_out_sink(void *ud, const void *p, size_t n, sf_error *err)
{
    return pga_out_write(ud, p, n, err);
}

int pga_out_seek(pga_out *o, uint64_t pos, sf_error *err)
{
    int rc;
    if ((rc = pga_out_flush(o, err)) < 0)
        return rc;
    if (lseek(o->fd, (off_t)pos, SEEK_SET) < 0)
        return sf_error_set(err, SF_EIO, "cannot seek in %s: %s", o->name, strerror(errno));
    o->pos = pos;
    return 0;
}

void pga_out_free(pga_out *o)
{
    if (o) {
        free(o->buf);
        o->buf = NULL;
    }
}

/* ---- spool ------------------------------------------------------------ */

void pga_spool_init(pga_spool *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

static int spool_spill(pga_spool *s, sf_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    int rc;
    if (!dir || !*dir)
        dir = "/tmp";
    if ((size_t)snprintf(path, sizeof(path), "%s/stagefork-spool-XXXXXX", dir) >= sizeof(path))
        return sf_error_set(err, SF_EIO, "TMPDIR is too long");
    if ((s->fd = mkstemp(path)) < 0)
        return sf_error_set(err, SF_EIO, "cannot create a temporary file in '%s': %s", dir, strerror(errno));
    unlink(path);
    rc = write_all(s->fd, s->mem, s->len, "a temporary spool file", err);
    free(s->mem);
    s->mem = NULL;
    s->len = s->cap = 0;
    return rc;
}

int pga_spool_sink(void *ud, const void *p, size_t n, sf_error *err)
{
    pga_spool *s = ud;
    int rc;
    if (s->fd < 0 && s->len + n > PGA_SPOOL_MEM && (rc = spool_spill(s, err)) < 0)
        return rc;
    if (s->fd >= 0) {
        if ((rc = write_all(s->fd, p, n, "a temporary spool file", err)) < 0)
            return rc;
    } else {
        if (s->len + n > s->cap) {
            size_t nc = s->cap ? s->cap : 64 << 10;
            unsigned char *m;
            while (nc < s->len + n)
                nc *= 2;
            if (!(m = realloc(s->mem, nc)))
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            s->mem = m;
            s->cap = nc;
        }
        memcpy(s->mem + s->len, p, n);
        s->len += n;
    }
    s->total += n;
    return 0;
}

int pga_spool_drain(pga_spool *s, pga_sink_fn sink, void *ud, sf_error *err)
{
    unsigned char *tmp;
    uint64_t off = 0;
    int rc = 0;
    if (s->fd < 0)
        return s->len ? sink(ud, s->mem, s->len, err) : 0;
    if (!(tmp = malloc(PGA_CHUNK * 4)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    while (off < s->total && rc == 0) {
        size_t want = s->total - off < PGA_CHUNK * 4 ? (size_t)(s->total - off) : PGA_CHUNK * 4;
        ssize_t r = pread(s->fd, tmp, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = sf_error_set(err, SF_EIO, "cannot read a temporary spool file: %s",
                              r < 0 ? strerror(errno) : "unexpected end of file");
            break;
        }
        rc = sink(ud, tmp, (size_t)r, err);
        off += (uint64_t)r;
    }
    free(tmp);
    return rc;
}

void pga_spool_free(pga_spool *s)
{
    if (!s)
        return;
    free(s->mem);
    if (s->fd >= 0)
        close(s->fd);
    pga_spool_init(s);
}

/* ---- zlib encoder ------------------------------------------------------ */

int pga_zw_init(pga_zw *w, int mode, int level, pga_sink_fn sink, void *ud, sf_error *err)
{
    int zrc = Z_OK;
    memset(w, 0, sizeof(*w));
    w->mode = mode;
    w->sink = sink;
    w->ud = ud;
    if (!(w->out = malloc(PGA_CHUNK)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (level < -1 || level > 9)
        level = Z_DEFAULT_COMPRESSION;
    if (mode == PGA_Z_ZLIB)
        zrc = deflateInit(&w->z, level);
    else if (mode == PGA_Z_GZIP)
        zrc = deflateInit2(&w->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    else if (mode == PGA_Z_RAW)
        zrc = deflateInit2(&w->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK) {
        free(w->out);
        w->out = NULL;
        return sf_error_set(err, SF_ENOMEM, "zlib: cannot initialise the compressor: %s", zError(zrc));
    }
    w->active = mode != PGA_Z_NONE;
    return 0;
}

static int zw_run(pga_zw *w, int flush, sf_error *err)
{
    int rc;
    for (;;) {
        int zrc;
        w->z.next_out = w->out + w->outlen;
        w->z.avail_out = (uInt)(PGA_CHUNK - w->outlen);
        zrc = deflate(&w->z, flush);
        if (zrc == Z_STREAM_ERROR)
            return sf_error_set(err, SF_EINTERNAL, "zlib: deflate: %s", w->z.msg ? w->z.msg : zError(zrc));
        w->outlen = PGA_CHUNK - w->z.avail_out;
        if (w->outlen == PGA_CHUNK) {
            if ((rc = w->sink(w->ud, w->out, w->outlen, err)) < 0)
                return rc;
            w->outlen = 0;
            continue;
        }
        if (flush == Z_FINISH ? zrc == Z_STREAM_END : (w->z.avail_in == 0 && w->z.avail_out != 0))
            return 0;
    }
}

int pga_zw_write(pga_zw *w, const void *p, size_t n, sf_error *err)
{
    const unsigned char *c = p;
    int rc;
    if (w->mode == PGA_Z_NONE) {
        while (n > 0) {
            size_t k = PGA_CHUNK - w->outlen;
            if (k > n)
                k = n;
            memcpy(w->out + w->outlen, c, k);
            w->outlen += k;
            c += k;
            n -= k;
            if (w->outlen == PGA_CHUNK) {
                if ((rc = w->sink(w->ud, w->out, w->outlen, err)) < 0)
                    return rc;
                w->outlen = 0;
            }
        }
        return 0;
    }
    while (n > 0) {
        size_t k = n > (1u << 30) ? (1u << 30) : n;
        w->z.next_in = (Bytef *)(uintptr_t)c;
        w->z.avail_in = (uInt)k;
        if ((rc = zw_run(w, Z_NO_FLUSH, err)) < 0)
            return rc;
        c += k;
        n -= k;
    }
    return 0;
}

/* Flush the compressor with `flush` (Z_FINISH or Z_SYNC_FLUSH), then hand what is buffered to the sink. */
static int zw_flush(pga_zw *w, int flush, sf_error *err)
{
    int rc;
    if (w->mode != PGA_Z_NONE) {
        w->z.next_in = NULL;
        w->z.avail_in = 0;
        if ((rc = zw_run(w, flush, err)) < 0)
            return rc;
    }
    if (w->outlen) {
        if ((rc = w->sink(w->ud, w->out, w->outlen, err)) < 0)
            return rc;
        w->outlen = 0;
    }
    return 0;
}

int pga_zw_finish(pga_zw *w, sf_error *err)
{
    return zw_flush(w, Z_FINISH, err);
}

int pga_zw_finish_open(pga_zw *w, sf_error *err)
{
    return zw_flush(w, Z_SYNC_FLUSH, err);
}

/* ---- stream containers ------------------------------------------------- */

static int eff_level(int level)
{
    return level < 0 || level > 9 ? 6 : level;
}

size_t pga_z_header(int zmode, int level, unsigned char out[10])
{
    int lv = eff_level(level);
    if (zmode == PGA_Z_ZLIB) {
        /* what deflate writes: CMF 0x78 (deflate, 32K window), FLEVEL from the level, FCHECK */
        unsigned h = (Z_DEFLATED + ((15 - 8) << 4)) << 8;
        unsigned flags = lv < 2 ? 0 : lv < 6 ? 1 : lv == 6 ? 2 : 3;
        h |= flags << 6;
        h += 31 - (h % 31);
        out[0] = (unsigned char)(h >> 8);
        out[1] = (unsigned char)(h & 0xff);
        return 2;
    }
    if (zmode == PGA_Z_GZIP) {
        /* what deflate writes: no name, mtime 0, XFL from the level, OS Unix */
        static const unsigned char g[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
        memcpy(out, g, 10);
        out[8] = lv == 9 ? 2 : lv < 2 ? 4 : 0;
        return 10;
    }
    return 0;
}

uint32_t pga_z_check_init(int zmode)
{
    return zmode == PGA_Z_GZIP ? (uint32_t)crc32(0L, Z_NULL, 0) : (uint32_t)adler32(0L, Z_NULL, 0);
}

uint32_t pga_z_check(int zmode, uint32_t check, const void *p, size_t n)
{
    const Bytef *b = p;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        check = zmode == PGA_Z_GZIP ? (uint32_t)crc32(check, b, k) : (uint32_t)adler32(check, b, k);
        b += k;
        n -= k;
    }
    return check;
}

uint32_t pga_z_check_combine(int zmode, uint32_t a, uint32_t b, uint64_t blen)
{
    return zmode == PGA_Z_GZIP ? (uint32_t)crc32_combine(a, b, (z_off_t)blen)
                               : (uint32_t)adler32_combine(a, b, (z_off_t)blen);
}

size_t pga_z_trailer(int zmode, uint32_t check, uint64_t len, unsigned char out[8])
{
    if (zmode == PGA_Z_ZLIB) {
        out[0] = (unsigned char)(check >> 24);
        out[1] = (unsigned char)(check >> 16);
        out[2] = (unsigned char)(check >> 8);
        out[3] = (unsigned char)check;
        return 4;
    }
    if (zmode == PGA_Z_GZIP) {
        for (int i = 0; i < 4; i++) {
            out[i] = (unsigned char)(check >> (8 * i));
            out[4 + i] = (unsigned char)((len & 0xffffffffu) >> (8 * i));
        }
        return 8;
    }
    return 0;
}

void pga_zw_free(pga_zw *w)
{
    if (!w)
        return;
    if (w->active)
        deflateEnd(&w->z);
    w->active = 0;
    free(w->out);
    w->out = NULL;
}

/* ---- zlib decoder ------------------------------------------------------ */

int pga_zr_init(pga_zr *r, int mode, sf_error *err)
{
    int zrc;
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    if (!(r->out = malloc(PGA_CHUNK)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    zrc = mode == PGA_Z_GZIP ? inflateInit2(&r->z, 15 + 32) : inflateInit(&r->z);
    if (zrc != Z_OK) {
        free(r->out);
        r->out = NULL;
        return sf_error_set(err, SF_ENOMEM, "zlib: cannot initialise the decompressor: %s", zError(zrc));
    }
    r->active = 1;
    return 0;
}

int pga_zr_feed(pga_zr *r, const void *p, size_t n, pga_sink_fn sink, void *ud, sf_error *err)
{
    const unsigned char *c = p;
    int rc;
    while (n > 0) {
        size_t k = n > (1u << 30) ? (1u << 30) : n;
        r->z.next_in = (Bytef *)(uintptr_t)c;
        r->z.avail_in = (uInt)k;
        for (;;) {
            int zrc;
            size_t produced;
            if (r->ended) {
                if (r->z.avail_in == 0)
                    break;
                if (r->mode != PGA_Z_GZIP)
                    return sf_error_set(err, SF_EFORMAT, "zlib: data after the end of the compressed stream");
                /* Another gzip member follows. */
                if (inflateReset(&r->z) != Z_OK)
                    return sf_error_set(err, SF_EINTERNAL, "zlib: inflateReset failed");
                r->ended = 0;
            }
            r->z.next_out = r->out;
            r->z.avail_out = (uInt)PGA_CHUNK;
            zrc = inflate(&r->z, Z_NO_FLUSH);
            if (zrc == Z_STREAM_END)
                r->ended = 1;
            else if (zrc == Z_NEED_DICT || zrc == Z_DATA_ERROR || zrc == Z_STREAM_ERROR)
                return sf_error_set(err, SF_EFORMAT, "zlib: %s", r->z.msg ? r->z.msg : zError(zrc));
            else if (zrc == Z_MEM_ERROR)
                return sf_error_set(err, SF_ENOMEM, "zlib: out of memory");
            produced = PGA_CHUNK - r->z.avail_out;
            if (produced && (rc = sink(ud, r->out, produced, err)) < 0)
                return rc;
            if (zrc == Z_BUF_ERROR || (r->z.avail_in == 0 && r->z.avail_out != 0))
                break;
        }
        if (r->z.avail_in != 0)
            return sf_error_set(err, SF_EFORMAT, "zlib: decompressor made no progress");
        c += k;
        n -= k;
    }
    return 0;
}

int pga_zr_finish(pga_zr *r, sf_error *err)
{
    if (!r->ended)
        return sf_error_set(err, SF_EFORMAT, "zlib: compressed data ends before the end of its stream "
                            "(truncated)");
    return 0;
}

void pga_zr_free(pga_zr *r)
{
    if (!r)
        return;
    if (r->active)
        inflateEnd(&r->z);
    r->active = 0;
    free(r->out);
    r->out = NULL;
}

/* Inflate into the adapter's sink; the contract is in pgarchive_io.h. */
int pga_zr_sink(void *ud, const void *p, size_t n, sf_error *err)
{
    pga_zr_to *z = ud;
    return pga_zr_feed(z->zr, p, n, z->sink, z->ud, err);
}
