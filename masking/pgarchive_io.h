#ifndef SF_MASKING_PGARCHIVE_IO_H
#define SF_MASKING_PGARCHIVE_IO_H
/*
 * Byte plumbing for the pg_dump archive formats (internal to masking/):
 * a buffered reader over a stream, a pread range or memory that knows its
 * offset (for "offset N" in messages); a buffered, position-tracking fd
 * writer; a spool that keeps a worker's output in memory and spills to an
 * unlinked temp file; zlib/gzip encoder and decoder driving a sink.
 */

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include "stagefork/error.h"

/* Where produced bytes go: a chunk framer, a spool, a file. */
typedef int (*pga_sink_fn)(void *ud, const void *p, size_t n, sf_error *err);

/* ---- reader ----------------------------------------------------------- */

typedef struct pga_in {
    int fd;                     /* -1 for memory */
    int ranged;                 /* pread at pos (thread-safe on a shared fd) */
    const unsigned char *mem;   /* memory mode */
    unsigned char *buf;         /* read window */
    size_t cap, rpos, rlen;
    uint64_t pos;               /* offset of the next byte to hand out */
    uint64_t limit;             /* ranged/memory: end offset (exclusive) */
    const char *name;           /* "custom archive 'x.dump'", "'d/toc.dat'" */
} pga_in;

/* Sequential reader on fd (not owned), `pos` starting at `start`. */
int pga_in_init_fd(pga_in *in, int fd, const char *name, uint64_t start, sf_error *err);
/* pread reader over [off, off+len) of fd (not owned). */
int pga_in_init_range(pga_in *in, int fd, const char *name, uint64_t off, uint64_t len, sf_error *err);
/* Reader over borrowed memory; offsets start at 0. */
void pga_in_init_mem(pga_in *in, const void *p, size_t n, const char *name);
void pga_in_free(pga_in *in);
/* Read up to n bytes; *got < n only at end of input. */
int pga_in_read(pga_in *in, void *dst, size_t n, size_t *got, sf_error *err);
/* Read exactly n bytes; end of input is SF_EFORMAT "NAME: offset N: unexpected end of file (WHAT)". */
int pga_in_need(pga_in *in, void *dst, size_t n, const char *what, sf_error *err);
/* 1 if no byte is left, 0 otherwise (<0 on I/O error). */
int pga_in_at_eof(pga_in *in, sf_error *err);
/* Skip n bytes (cheap for ranged/memory readers); short input is SF_EFORMAT. */
int pga_in_skip(pga_in *in, uint64_t n, const char *what, sf_error *err);
/* Set an error "NAME: offset OFF: <fmt>" (SF_EFORMAT unless code says otherwise). */
int pga_in_fail(const pga_in *in, uint64_t off, int code, sf_error *err, const char *fmt, ...) SF_PRINTF(5, 6);

/* ---- writer ----------------------------------------------------------- */

typedef struct pga_out {
    int fd;
    const char *name;
    unsigned char *buf;
    size_t len, cap;
    uint64_t pos;               /* offset of the next byte written */
} pga_out;

int pga_out_init(pga_out *o, int fd, const char *name, sf_error *err);
int pga_out_write(pga_out *o, const void *p, size_t n, sf_error *err);
int pga_out_flush(pga_out *o, sf_error *err);
/* Flush, then reposition (seekable outputs only). */
int pga_out_seek(pga_out *o, uint64_t pos, sf_error *err);
void pga_out_free(pga_out *o);
/* pga_sink_fn adapter: ud is a pga_out. */
int pga_out_sink(void *ud, const void *p, size_t n, sf_error *err);

/* ---- spool ------------------------------------------------------------ */

typedef struct pga_spool {
    unsigned char *mem;
    size_t len, cap;
    int fd;                     /* -1 until spilled */
    uint64_t total;
} pga_spool;

void pga_spool_init(pga_spool *s);
/* pga_sink_fn: ud is a pga_spool. Spills past PGA_SPOOL_MEM bytes to an
   unlinked file in $TMPDIR (default /tmp). */
int pga_spool_sink(void *ud, const void *p, size_t n, sf_error *err);
/* Pass everything spooled to sink, in order. The spool keeps its content. */
int pga_spool_drain(pga_spool *s, pga_sink_fn sink, void *ud, sf_error *err);
void pga_spool_free(pga_spool *s);

#define PGA_SPOOL_MEM ((size_t)8 << 20)
#define PGA_CHUNK ((size_t)64 << 10)

/* ---- zlib ------------------------------------------------------------- */

enum { PGA_Z_NONE = 0, PGA_Z_ZLIB, PGA_Z_GZIP, PGA_Z_RAW };

/* Encoder: NONE batches bytes into PGA_CHUNK pieces; ZLIB/GZIP deflate at
   `level` (-1 = zlib default) with their wrappers, RAW without one (a piece
   of a larger stream). Output goes to sink in pieces <= PGA_CHUNK. */
typedef struct pga_zw {
    z_stream z;
    int mode, active;
    pga_sink_fn sink;
    void *ud;
    unsigned char *out;
    size_t outlen;
} pga_zw;

int pga_zw_init(pga_zw *w, int mode, int level, pga_sink_fn sink, void *ud, sf_error *err);
int pga_zw_write(pga_zw *w, const void *p, size_t n, sf_error *err);
int pga_zw_finish(pga_zw *w, sf_error *err);
/* RAW pieces other than the last end byte-aligned and open (Z_SYNC_FLUSH). */
int pga_zw_finish_open(pga_zw *w, sf_error *err);
void pga_zw_free(pga_zw *w);

/*
 * One zlib or gzip stream assembled from RAW pieces compressed separately
 * (as pigz does): the container header, then the pieces, then a trailer
 * with the check value combined over the pieces' uncompressed bytes.
 */
size_t pga_z_header(int zmode, int level, unsigned char out[10]);
uint32_t pga_z_check(int zmode, uint32_t check, const void *p, size_t n);
uint32_t pga_z_check_init(int zmode);
uint32_t pga_z_check_combine(int zmode, uint32_t a, uint32_t b, uint64_t blen);
size_t pga_z_trailer(int zmode, uint32_t check, uint64_t len, unsigned char out[8]);

/* Decoder: ZLIB (one zlib stream) or GZIP (one or more gzip members).
   Messages start with "zlib: ". */
typedef struct pga_zr {
    z_stream z;
    int mode, active, ended;
    unsigned char *out;
} pga_zr;

int pga_zr_init(pga_zr *r, int mode, sf_error *err);
int pga_zr_feed(pga_zr *r, const void *p, size_t n, pga_sink_fn sink, void *ud, sf_error *err);
/* The stream must have ended (a truncated stream is SF_EFORMAT). */
int pga_zr_finish(pga_zr *r, sf_error *err);
void pga_zr_free(pga_zr *r);
/* pga_sink_fn adapter: ud is a pga_zr_to; its input is inflated by zr into sink(ud). */
typedef struct pga_zr_to {
    pga_zr *zr;
    pga_sink_fn sink;
    void *ud;
} pga_zr_to;
int pga_zr_sink(void *ud, const void *p, size_t n, sf_error *err);

#endif
