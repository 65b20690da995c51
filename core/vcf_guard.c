/* vcf_guard.c - what the input would make htslib allocate, measured before
 * it does: header size and IDX attributes, FORMAT values for the samples
 * asked for, and names that htslib would write into a header line. Each
 * guard was found by fuzzing a case where htslib asked for gigabytes. */
#include <fcntl.h>
#include <htslib/bgzf.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcf_internal.h"

/* IDX=n attributes in header text: htslib sizes (and clears) its
 * dictionaries for n + 1 entries, 4 GB for a 30-byte line saying
 * IDX=268435455. Matched as htslib reads them, or more loosely: the key in
 * any case (bcf_hrec_find_key uses strcasecmp), spaces before '=', and the
 * value as strtol reads it (spaces and '+' first; a quote is let through
 * too). Found by fuzzing, one spelling at a time. */
typedef struct {
    int at;     /* 0-2: "IDX" matched so far; 3: before '='; 4: before digits; 5: in them */
    size_t n;   /* the number being read */
    size_t max; /* the largest seen */
} idx_scan;

static void idx_step(idx_scan *s, unsigned char ch)
{
    unsigned char up = ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - 32) : ch;
    int digit = ch >= '0' && ch <= '9';
    if (s->at == 5 && digit) {
        s->n = s->n < ((size_t)1 << 40) ? s->n * 10 + (size_t)(ch - '0') : s->n;
        return;
    }
    if (s->at == 5)
        s->max = s->n > s->max ? s->n : s->max;
    if (s->at == 4 && digit)
        s->at = 5, s->n = (size_t)(ch - '0');
    else if (s->at == 4 && (ch == ' ' || ch == '\t' || ch == '+' || ch == '"'))
        ;
    else if (s->at == 3 && (ch == '=' || ch == ' '))
        s->at = ch == '=' ? 4 : 3;
    else if (s->at < 3 && up == (unsigned char)"IDX"[s->at])
        s->at++;
    else
        s->at = up == 'I';
}

/* The header's size, before htslib reads it whole into memory: a text
 * header is counted up to the end of its #CHROM line, a BCF's is its l_text
 * field. The input is read from the start on a descriptor of its own and
 * then rewound. Data that does not decompress passes: htslib will say what
 * is wrong with it. */
gr_status gr_vcf_check_header_size(const char *path, int fd, size_t max, const char *label,
                                   gr_error *err)
{
    int own = fd >= 0 ? dup(fd) : open(path, O_RDONLY | O_CLOEXEC);
    if (own < 0)
        return gr_error_set(err, GR_EIO, label, 0, NULL, "cannot open the VCF");
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) < 0) {
        close(own);
        return gr_error_set(err, GR_EINVAL, label, 0, NULL,
                            "a header size limit needs a seekable input");
    }
    errno = 0;
    BGZF *z = bgzf_dopen(own, "r");
    if (!z) { /* the limit is not skipped: no header is read unmeasured */
        int oom = errno == ENOMEM;
        close(own);
        return oom ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
                   : gr_error_set(err, GR_EIO, label, 0, NULL, "cannot read the VCF");
    }
    enum { LINE_START, AFTER_HASH, IN_LINE, IN_CHROM_LINE, DONE } state = LINE_START;
    unsigned char buf[65536];
    size_t total = 0, l_text = SIZE_MAX;
    idx_scan idx = { 0, 0, 0 };
    ssize_t n = bgzf_read(z, buf, 9);
    gr_status st = GR_OK;
    if (n == 9 && !memcmp(buf, "BCF\2", 4)) {
        l_text = (size_t)buf[5] | (size_t)buf[6] << 8 | (size_t)buf[7] << 16 | (size_t)buf[8] << 24;
        if (l_text > max)
            st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                              "the BCF header is %zu bytes, over the %zu-byte limit", l_text, max);
        n = st ? 0 : bgzf_read(z, buf, l_text < sizeof buf ? l_text : sizeof buf); /* its text */
    }
    /* htslib reads a text header up to its #CHROM line, but parses all of a
     * BCF's l_text, skipping lines it cannot parse: there the IDX scan goes
     * on to the end (found by fuzzing) */
    int bcf_text = l_text != SIZE_MAX;
    while (n > 0 && (state != DONE || bcf_text) && !st) {
        for (ssize_t i = 0; i < n && (state != DONE || bcf_text) && total < l_text; i++) {
            unsigned char ch = buf[i];
            idx_step(&idx, ch);
            /* as vcf_hdr_read: empty lines are skipped (a lone CR too, as
             * kgetline strips it), a line not starting with '#' is no header
             * (htslib parses nothing then), a "#" line other than "##" ends
             * it (found by fuzzing: an empty line once ended our count, and
             * htslib went on to an IDX=248956422 after it) */
            if (state == LINE_START)
                state = ch == '\n' || ch == '\r' ? LINE_START : ch == '#' ? AFTER_HASH : DONE;
            else if (state == AFTER_HASH)
                state = ch == '\n' ? DONE : ch == '#' ? IN_LINE : IN_CHROM_LINE;
            else if (ch == '\n')
                state = state == IN_CHROM_LINE ? DONE : LINE_START;
            if (++total > max) {
                st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                                  "the VCF header is over the %zu-byte limit", max);
                break;
            }
        }
        n = (state != DONE || bcf_text) && !st && total < l_text
                ? bgzf_read(z, buf, l_text - total < sizeof buf ? l_text - total : sizeof buf)
                : 0;
    }
    bgzf_close(z);
    idx_step(&idx, '\n');
    /* a dictionary entry takes 16 bytes of header text at the very least */
    if (!st && idx.max > total / 16)
        st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                          "the header has an IDX=%zu attribute, more entries than its %zu bytes "
                          "can hold",
                          idx.max, total);
    if (!st && fd >= 0 && lseek(fd, 0, SEEK_SET) < 0)
        st = gr_error_set(err, GR_EIO, label, 0, NULL, "cannot rewind the VCF");
    return st;
}

/* What htslib's vcf_parse allocates for the FORMAT values of line s: every
 * field takes, for each of n samples, room for the widest value any sample
 * has, up to 4 bytes per character (an integer or float per digit, two
 * int32s for "0/1"). One long value among many empty ones so costs n times
 * its length: 10,000 samples and one 100 kB string, 1 GB from a 100 kB line
 * (htslib's own ceiling is 2 GB). The widest value of each field is only
 * measured when the cheap bound, 4 bytes per character of the line for each
 * sample, does not already settle it. */
uint64_t gr_vcf_format_bytes(const char *s, size_t len, uint64_t n, uint64_t max)
{
    if ((uint64_t)len * 4 * n <= max)
        return (uint64_t)len * 4 * n;
    enum { FIELDS = 256 };
    uint32_t widest[FIELDS] = { 0 };
    const char *p = s, *e = s + len;
    for (int tabs = 0; p < e && tabs < 9; p++) /* to the first sample column */
        tabs += *p == '\t';
    size_t field = 0, width = 0, fields = 0;
    for (; p <= e; p++) {
        if (p == e || *p == '\t' || *p == ':') {
            size_t f = field < FIELDS ? field : FIELDS - 1;
            widest[f] = width > widest[f] ? (uint32_t)width : widest[f];
            fields = f + 1 > fields ? f + 1 : fields;
            field = p < e && *p == ':' ? field + 1 : 0;
            width = 0;
        } else {
            width++;
        }
    }
    uint64_t sum = 0;
    for (size_t f = 0; f < fields; f++)
        sum += (uint64_t)widest[f] + 1; /* +1: a value's terminator or padding */
    return sum * 4 * n;
}

/* The name field of s that would be written into a header line, or NULL.
 * htslib declares a CHROM, FILTER, INFO key or FORMAT key the header lacks
 * by parsing "##contig=<ID=name>" and the like, so a name holding ',', '<',
 * '>' or '"' adds attributes of its own: ",IDX=248956422" made htslib size
 * its contig dictionary at 4 GB (found by fuzzing). VCF allows none of these
 * characters in such names. A line without tabs is no record at all. */
const char *gr_vcf_header_injection(const char *s, size_t len)
{
    static const char *const field[] = { "CHROM", NULL,     NULL,   NULL,    NULL,
                                         NULL,    "FILTER", "INFO", "FORMAT" };
    const char *e = s + len;
    if (!memchr(s, '\t', len))
        return "";
    int in_value = 0; /* INFO: after '=' until ';' */
    for (size_t f = 0; s < e && f < sizeof field / sizeof *field; s++) {
        char ch = *s;
        if (ch == '\t') {
            f++, in_value = 0;
            continue;
        }
        if (!field[f])
            continue;
        if (f == 7 && (ch == '=' || ch == ';'))
            in_value = ch == '=';
        else if (!in_value && (ch == ',' || ch == '<' || ch == '>' || ch == '"'))
            return field[f];
    }
    return NULL;
}
