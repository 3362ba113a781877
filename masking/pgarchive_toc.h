#ifndef SF_MASKING_PGARCHIVE_TOC_H
#define SF_MASKING_PGARCHIVE_TOC_H
/*
 * The header and table of contents of a pg_dump archive, as PostgreSQL's
 * pg_backup_archiver.c writes them (WriteHead/WriteToc): the custom format
 * at the start of the file, the directory and tar formats in toc.dat.
 *
 * Integers are a sign byte followed by int_size little-endian magnitude
 * bytes; strings an integer length (-1 = NULL) followed by the bytes;
 * custom-format data offsets a flag byte followed by off_size little-endian
 * bytes. Archive versions 1.12 to 1.14 are read (pg_dump 9.0 to 15 write
 * them; 15 writes 1.14); anything else is refused naming the version.
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"
#include "pgarchive_io.h"

/* ArchiveFormat values stored in the header. The directory format writes
   the tar code (3) into its toc.dat, so 5 never appears in a file. */
enum { PGA_FMT_CUSTOM = 1, PGA_FMT_TAR = 3 };
/* Custom-format data offset flags. */
enum { PGA_OFF_NOT_SET = 1, PGA_OFF_SET = 2, PGA_OFF_NO_DATA = 3 };
/* Custom-format data block types. */
enum { PGA_BLK_DATA = 1, PGA_BLK_BLOBS = 3 };

#define PGA_VERSION(maj, min, rev) (((maj) * 256 + (min)) * 256 + (rev))
#define PGA_VERSION_MIN PGA_VERSION(1, 12, 0)
#define PGA_VERSION_MAX PGA_VERSION(1, 14, 255)

/* A string field: s == NULL is the archive's NULL (length -1). s is NUL-terminated. */
typedef struct pga_str {
    char *s;
    size_t len;
} pga_str;

typedef struct pga_entry {
    int32_t dump_id;
    int32_t had_dumper;
    pga_str tableoid, oid, tag, desc;
    int32_t section;
    pga_str defn, drop_stmt, copy_stmt, nspace, tablespace, tableam, owner, with_oids;
    pga_str *deps;
    size_t ndeps;
    /* custom format */
    int data_state;
    uint64_t data_pos;
    /* directory and tar formats */
    pga_str filename;
} pga_entry;

typedef struct pga_toc {
    int vmaj, vmin, vrev;
    int version;
    int int_size, off_size, format;
    int32_t compression; /* zlib level: -1 default, 0 none, 1..9 */
    int32_t tm[7];       /* sec, min, hour, mday, mon, year, isdst */
    pga_str dbname, server_version, dump_version;
    pga_entry *e;
    size_t n, cap;
    uint64_t toc_start;  /* offset of the entry count */
    uint64_t toc_end;    /* offset just past the last entry */
    int32_t *index;      /* entry indexes sorted by dump_id */
} pga_toc;

/*
 * Read a header and TOC from `in`. `format` is the PGA_FMT_* the container
 * requires (0 = either; directory archives require PGA_FMT_TAR). Errors are SF_EFORMAT naming the
 * reader's name and the offset: "toc.dat: offset 1234: …". On error toc is
 * left empty (pga_toc_free is still safe).
 */
int pga_toc_read(pga_toc *toc, pga_in *in, int format, sf_error *err);
void pga_toc_free(pga_toc *toc);

/* Append the header (WriteHead) / the TOC (WriteToc) in the archive's own layout. */
int pga_toc_write_head(const pga_toc *toc, sf_buf *out, sf_error *err);
int pga_toc_write_entries(const pga_toc *toc, sf_buf *out, sf_error *err);

/* Index of the entry with dump_id, or -1. */
long pga_toc_find(const pga_toc *toc, int32_t dump_id);

/* Field helpers: "TABLE DATA", non-empty strings, "schema.tag" for messages. */
int pga_str_eq(const pga_str *s, const char *lit);
int pga_str_nonempty(const pga_str *s);
/* "TOC entry 3012 (TABLE DATA public customers)" into buf. */
void pga_entry_label(const pga_entry *e, char *buf, size_t size);

/* Integer encoding shared with the custom-format data blocks. */
int pga_read_int(pga_in *in, int int_size, int32_t *out, const char *what, sf_error *err);
int pga_put_int(sf_buf *b, int int_size, int32_t v);

#endif
