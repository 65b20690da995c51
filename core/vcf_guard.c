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

/* ---- names built to collide in htslib's hash tables ----
 *
 * htslib keeps the header's names in khash tables under the X31 string hash,
 * unseeded, so names can be made to share a hash ("Aa" and "BB" do): 40k
 * such sample names took 5.5 s to read, 40k such contig IDs 12.6 s, 3x the
 * names 10x the time. The header scan computes each name's hash as htslib
 * will and replays the insertions into a table of hashes that grows and
 * probes as khash does, counting the probes; a header that would take more
 * than a linear budget of them is refused before htslib reads it. */

enum { DICT_ID, DICT_CTG, DICT_SAMPLE, N_DICTS, DICT_NONE = N_DICTS };
static const char *const dict_name[N_DICTS] = { "INFO, FILTER and FORMAT", "contig", "sample" };
#define PROBES_PER_NAME 128 /* ordinary names take 17-23 */
#define PROBES_FREE ((uint64_t)1 << 20)
#define PROBES_ONE_NAME 4096 /* a lookup of one name; ordinary names, under 200 */

typedef struct {
    uint32_t *hash;
    uint8_t *used;
    uint32_t n_buckets, size, upper;
} khsim;

/* One probe sequence of khash (quadratic, over a power-of-two table) from
 * h to a free bucket; returns the bucket, or -1 when it took over `max`
 * probes, which are added to *probes. */
static int64_t khsim_find(const khsim *t, uint32_t h, uint64_t *probes, uint64_t max)
{
    uint32_t mask = t->n_buckets - 1, i = h & mask, step = 0;
    uint64_t n = 1;
    while (t->used[i]) {
        i = (i + (++step)) & mask;
        if (++n > max) {
            *probes += n;
            return -1;
        }
    }
    *probes += n;
    return i;
}

/* Grows t to n buckets as kh_resize does, re-placing every hash. 0 on
 * success, -1 out of memory, 1 over the probe limit. */
static int khsim_resize(khsim *t, uint32_t n, uint64_t *probes)
{
    khsim g = { calloc(n, sizeof *g.hash), calloc(n, 1), n, t->size, (uint32_t)(n * 0.77 + 0.5) };
    int rc = g.hash && g.used ? 0 : -1;
    for (uint32_t i = 0; !rc && i < t->n_buckets; i++) {
        if (!t->used[i])
            continue;
        int64_t at = khsim_find(&g, t->hash[i], probes, PROBES_ONE_NAME);
        if (at < 0)
            rc = 1;
        else
            g.hash[at] = t->hash[i], g.used[at] = 1;
    }
    free(rc ? g.hash : t->hash);
    free(rc ? g.used : t->used);
    if (!rc)
        *t = g;
    return rc;
}

/* Inserts h as kh_put would. 0, -1 out of memory, 1 over the probe limit. */
static int khsim_put(khsim *t, uint32_t h, uint64_t *probes)
{
    if (t->size >= t->upper) {
        uint32_t n = t->n_buckets ? t->n_buckets * 2 : 4;
        if (n < t->n_buckets)
            return 1; /* 2^31 buckets: no header is that large */
        int rc = khsim_resize(t, n, probes);
        if (rc)
            return rc;
    }
    int64_t at = khsim_find(t, h, probes, PROBES_ONE_NAME);
    if (at < 0)
        return 1;
    t->hash[at] = h;
    t->used[at] = 1;
    t->size++;
    return 0;
}

/* Reads header text a byte at a time and finds its names: the ID of each
 * "##key=<...>" line and the sample columns of the #CHROM line. */
typedef struct {
    enum {
        N_LINE_START,
        N_HASH1,   /* after '#' */
        N_KEY,     /* after "##" */
        N_OPEN,    /* after "##key=": '<' or a plain value */
        N_ATTR,    /* an attribute's key */
        N_VALUE,   /* its value, unquoted */
        N_QUOTED,  /* its value, in quotes */
        N_ESCAPED, /* after a backslash in quotes */
        N_COLUMNS, /* the #CHROM line */
        N_SKIP     /* to the end of the line */
    } at;
    char key[8]; /* the line's key (first 7 bytes) or attribute's */
    size_t key_len;
    int dict;      /* the line's dictionary */
    int is_id;     /* the value being read is an ID */
    size_t column; /* in the #CHROM line */
    uint32_t h;    /* X31 of the name being read */
    int in_name;
    khsim t[N_DICTS];
    uint64_t probes, names;
    int over; /* -1 out of memory, 1 over the budget: at dict */
    int over_dict;
} names_scan;

/* kh_str_hash_func of htslib's khash.h, a byte at a time: h = h * 31 + c,
 * c a (signed) char. */
static uint32_t x31(uint32_t h, unsigned char c)
{
    return (h << 5) - h + (uint32_t)(int32_t)(signed char)c;
}

static void name_end(names_scan *n)
{
    if (!n->in_name || n->over)
        return;
    n->in_name = 0;
    n->names++;
    int rc = khsim_put(&n->t[n->dict], n->h, &n->probes);
    if (!rc && n->probes > PROBES_FREE + PROBES_PER_NAME * n->names)
        rc = 1;
    if (rc)
        n->over = rc, n->over_dict = n->dict;
}

static void name_byte(names_scan *n, unsigned char c)
{
    n->h = n->in_name ? x31(n->h, c) : c;
    n->in_name = 1;
}

static int line_dict(const names_scan *n)
{
    static const char *const keys[] = { "INFO", "FILTER", "FORMAT", "contig" };
    for (int i = 0; i < 4; i++)
        if (n->key_len == strlen(keys[i]) && !memcmp(n->key, keys[i], n->key_len))
            return i < 3 ? DICT_ID : DICT_CTG;
    return DICT_NONE; /* other lines' IDs are kept in no hash table */
}

static void names_step(names_scan *n, unsigned char c)
{
    if (c == '\n' || (c == '\r' && n->at != N_QUOTED && n->at != N_ESCAPED)) {
        name_end(n);
        n->at = N_LINE_START;
        return;
    }
    switch (n->at) {
    case N_LINE_START: n->at = c == '#' ? N_HASH1 : N_SKIP; break;
    case N_HASH1:
        n->at = c == '#' ? N_KEY : N_COLUMNS;
        n->key_len = 0, n->column = 0;
        break;
    case N_KEY:
        if (c == '=') {
            n->dict = line_dict(n);
            n->at = n->dict == DICT_NONE ? N_SKIP : N_OPEN;
        } else if (n->key_len < sizeof n->key) {
            n->key[n->key_len++] = (char)c;
        }
        break;
    case N_OPEN:
        n->at = c == '<' ? N_ATTR : N_SKIP;
        n->key_len = 0;
        break;
    case N_ATTR:
        if (c == '=') {
            n->is_id = n->key_len == 2 && !memcmp(n->key, "ID", 2);
            n->at = N_VALUE;
            n->in_name = 0;
        } else if (c == '>') {
            n->at = N_SKIP;
        } else if (c != ' ' && n->key_len < sizeof n->key) {
            n->key[n->key_len++] = (char)c;
        }
        break;
    case N_VALUE:
    case N_QUOTED:
    case N_ESCAPED:
        if (n->at == N_VALUE && (c == ',' || c == '>')) {
            if (n->is_id)
                name_end(n);
            n->is_id = 0, n->key_len = 0;
            n->at = c == ',' ? N_ATTR : N_SKIP;
            break;
        }
        if (n->at == N_VALUE && c == '"')
            n->at = N_QUOTED;
        else if (n->at == N_QUOTED && c == '"')
            n->at = N_VALUE;
        else if (n->at == N_QUOTED && c == '\\')
            n->at = N_ESCAPED;
        else if (n->at == N_ESCAPED)
            n->at = N_QUOTED;
        if (n->is_id) /* the quotes too: an ID is hashed as written either way */
            name_byte(n, c);
        break;
    case N_COLUMNS:
        if (c == '\t') {
            if (n->column >= 9)
                name_end(n);
            n->column++;
            n->dict = DICT_SAMPLE;
        } else if (n->column >= 9) {
            name_byte(n, c);
        }
        break;
    case N_SKIP: break;
    }
}

static void names_free(names_scan *n)
{
    for (int i = 0; i < N_DICTS; i++) {
        free(n->t[i].hash);
        free(n->t[i].used);
    }
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
    /* where the reader starts: after a byte-order mark, as open_input
     * skips it (found by fuzzing: a BOM before "BCF\2" hid a 4 GB l_text) */
    char bom[3];
    if (pread(own, bom, sizeof bom, 0) == (ssize_t)sizeof bom && gr_utf8_bom(bom, sizeof bom) &&
        lseek(own, (off_t)sizeof bom, SEEK_SET) < 0) {
        close(own);
        return gr_error_set(err, GR_EIO, label, 0, NULL, "cannot read the VCF");
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
    names_scan names;
    memset(&names, 0, sizeof names);
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
            names_step(&names, ch);
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
    names_step(&names, '\n');
    if (!st && names.over < 0)
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    else if (!st && names.over)
        st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                          "the header's %s names share hashes as if built to collide: storing "
                          "them would take htslib's hash table over %d probes for one name, or "
                          "%d per name in all",
                          dict_name[names.over_dict], PROBES_ONE_NAME, PROBES_PER_NAME);
    names_free(&names);
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

/* ---- names a record uses that its header does not declare ---- */

/* Whether the header declares name (s, n) of the given kind; names too long
 * to copy are taken as undeclared. */
static int declared(const bcf_hdr_t *hdr, int kind, const char *s, size_t n)
{
    char name[GR_VCF_MAX_UNDECLARED_NAME + 1];
    if (n > GR_VCF_MAX_UNDECLARED_NAME)
        return 0;
    memcpy(name, s, n);
    name[n] = '\0';
    if (kind == BCF_HL_CTG)
        return bcf_hdr_name2id(hdr, name) >= 0;
    return bcf_hdr_idinfo_exists(hdr, kind, bcf_hdr_id2int(hdr, BCF_DT_ID, name));
}

/* Counts into u the names of one field, split at sep, that hdr lacks: for
 * INFO only each key (before '='). "." and "PASS" are never new. */
static void tally_field(const bcf_hdr_t *hdr, int kind, const char *s, const char *e, char sep,
                        gr_vcf_undeclared *u)
{
    if (e - s == 1 && *s == '.')
        return;
    while (s < e) {
        const char *end = memchr(s, sep, (size_t)(e - s));
        end = end ? end : e;
        const char *name_end = end;
        if (kind == BCF_HL_INFO) {
            const char *eq = memchr(s, '=', (size_t)(end - s));
            name_end = eq ? eq : end;
        }
        size_t n = (size_t)(name_end - s);
        if (n && !(kind == BCF_HL_FLT && n == 4 && !memcmp(s, "PASS", 4)) &&
            !declared(hdr, kind, s, n)) {
            if (!u->count)
                u->first_kind = kind, u->first = s, u->first_len = n;
            u->count++;
            u->bytes += n;
        }
        s = end + 1;
    }
}

void gr_vcf_count_undeclared(const bcf_hdr_t *hdr, const char *s, size_t len, gr_vcf_undeclared *u)
{
    /* the fields htslib looks names up in: CHROM, FILTER, INFO, FORMAT */
    static const struct {
        int column, kind;
        char sep;
    } fields[] = {
        { 0, BCF_HL_CTG, '\0' },
        { 6, BCF_HL_FLT, ';' },
        { 7, BCF_HL_INFO, ';' },
        { 8, BCF_HL_FMT, ':' },
    };
    const char *e = s + len, *p = s;
    memset(u, 0, sizeof *u);
    for (int column = 0, f = 0; p < e && f < (int)(sizeof fields / sizeof *fields); column++) {
        const char *tab = memchr(p, '\t', (size_t)(e - p));
        const char *end = tab ? tab : e;
        if (column == fields[f].column) {
            if (fields[f].kind == BCF_HL_CTG)
                tally_field(hdr, BCF_HL_CTG, p, end, '\t', u);
            else
                tally_field(hdr, fields[f].kind, p, end, fields[f].sep, u);
            f++;
        }
        if (!tab)
            break;
        p = tab + 1;
    }
}

const char *gr_vcf_kind_name(int kind)
{
    switch (kind) {
    case BCF_HL_CTG: return "contig";
    case BCF_HL_FLT: return "FILTER";
    case BCF_HL_INFO: return "INFO key";
    case BCF_HL_FMT: return "FORMAT key";
    default: return "name";
    }
}
