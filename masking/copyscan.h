#ifndef SF_MASKING_COPYSCAN_H
#define SF_MASKING_COPYSCAN_H
/*
 * The 16-byte step shared by the COPY line splitters (copy.c's
 * sf_copy_split_esc and masker.c's split_line): where the tabs and
 * backslashes of the next 16 bytes are, and which backslashes are "hard"
 * (followed by a tab or a backslash, so they can move a field end). Other
 * backslashes ("\N", "\n", "\x41") cannot, so every raw tab before the first
 * hard one is a delimiter.
 */

#if defined(__SSE2__)
#include <emmintrin.h>

typedef struct sf_copy_step {
    const char *q;   /* where the 16 bytes start: p, or end - 16 for the last step */
    unsigned mt, mb; /* tabs and backslashes among them (the last step: none before p) */
    unsigned hard;   /* backslashes followed by a tab or a backslash; the byte after the end counts as one */
    int tail;        /* the last step of the line */
} sf_copy_step;

/* One step from p (p < end, the line at least 16 bytes long). */
static inline void sf_copy_step16(sf_copy_step *s, const char *p, const char *end)
{
    const __m128i vt = _mm_set1_epi8('\t'), vb = _mm_set1_epi8('\\');
    unsigned mn, skip = 0;
    __m128i v;
    s->q = p;
    s->tail = 0;
    if (end - p < 17) {
        s->q = end - 16;
        skip = (unsigned)(p - s->q);
        s->tail = 1;
    }
    v = _mm_loadu_si128((const __m128i *)(const void *)s->q);
    s->mt = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vt));
    s->mb = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vb));
    if (s->tail) {
        s->mt &= 0xFFFFu << skip;
        s->mb &= 0xFFFFu << skip;
        mn = ((s->mt | s->mb) >> 1) | 0x8000u;
    } else if (s->mb) {
        /* the byte after each backslash (byte 16 is still in the line) */
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
        mn = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, vt), _mm_cmpeq_epi8(w, vb)));
    } else {
        mn = 0;
    }
    s->hard = s->mb & mn;
}
#endif

#endif
