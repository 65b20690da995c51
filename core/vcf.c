/* vcf.c - see vcf.h; the rules are numbered as in docs/vcf-matching.md.
 *
 * Text VCF goes through vcf_body.c: each line's CHROM/POS (and ID when the
 * model has rsIDs) is looked up where the line lies, on the body reader's
 * workers, before htslib parses it, so the records the model does not use
 * cost one probe of a bit filter. Only the requested samples are parsed
 * (bcf_hdr_set_samples). BCF goes through bcf_read. */
#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/kstring.h>
#include <htslib/vcf.h>
#include <math.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bcf_peek.h"
#include "match.h"
#include "vcf_body.h"
#include "vcf_internal.h"
#include "vcf_region.h"

void gr_vcf_result_free(gr_vcf_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_samples && r->sample_ids; i++)
        free(r->sample_ids[i]);
    free(r->sample_ids);
    free(r->dosage);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    for (size_t i = 0; r->record_text && i < r->n_features; i++)
        free(r->record_text[i]);
    free(r->record_text);
    free(r->status);
    free(r->flags);
    free(r->how);
    free(r->record);
    free(r->model_first);
    free(r);
}

static void dosages_of(const gr_vcf_result *r, size_t s, size_t from, size_t n, double *x)
{
    const uint16_t *d = r->dosage + s * r->n_features + from;
    for (size_t j = 0; j < n; j++)
        x[j] = d[j] == GR_VCF_MISSING ? NAN : (double)d[j] / GR_VCF_DOSAGE_SCALE;
}

void gr_vcf_sample_dosages(const gr_vcf_result *r, size_t s, double *x)
{
    dosages_of(r, s, 0, r->n_features, x);
}

void gr_vcf_model_dosages(const gr_vcf_result *r, size_t k, size_t s, double *x)
{
    dosages_of(r, s, r->model_first[k], r->model_first[k + 1] - r->model_first[k], x);
}

const char *gr_var_status_name(gr_var_status s)
{
    static const char *const names[] = { "no_record",    "alleles_differ", "no_position",
                                         "chrx_skipped", "ambiguous",      "multiallelic",
                                         "matched" };
    return s <= GR_VAR_MATCHED ? names[s] : "";
}

void gr_vcf_model_report(const gr_vcf_result *r, size_t k, gr_vcf_report *out)
{
    memset(out, 0, sizeof *out);
    for (size_t f = r->model_first[k]; f < r->model_first[k + 1]; f++) {
        out->variants++;
        out->status[r->status[f]]++;
        if (r->status[f] != GR_VAR_MATCHED)
            continue;
        out->matched++;
        out->flipped += !!(r->flags[f] & GR_MATCH_FLIPPED);
        out->swapped += !!(r->flags[f] & GR_MATCH_SWAPPED);
        out->ambiguous_matched += !!(r->flags[f] & GR_MATCH_AMBIGUOUS);
        out->multiallelic_matched += !!(r->flags[f] & GR_MATCH_MULTI);
        out->duplicate += !!(r->flags[f] & GR_MATCH_DUPLICATE);
    }
}

static int add_warning(gr_vcf_result *r, const char *text)
{
    char **w = realloc(r->warnings, (r->n_warnings + 1) * sizeof *w);
    if (!w)
        return 0;
    r->warnings = w;
    return (r->warnings[r->n_warnings] = gr_strdup(text)) ? (r->n_warnings++, 1) : 0;
}

typedef struct {
    ctx *c;
    bcf_hdr_t *hdr;
    bcf1_t *rec;
    gr_vcf_result *r;
    kstring_t *line;
    const char *label;
    uint64_t max_format;                 /* bytes a record's FORMAT values may take parsed */
    size_t undeclared, undeclared_bytes; /* names htslib added to the header */
} sink_state;

/* Names of the input are quoted in an error only when they are short
 * printable ASCII: whatever else is in them stays out of responses and logs. */
static const char *quotable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '\\' || s[i] == '\'')
            return NULL;
    return n && n <= 40 ? s : NULL;
}

/* Refuses line s when parsing it would add names to the header beyond the
 * upload's allowance (see gr_vcf_undeclared). */
static gr_status check_undeclared(sink_state *ss, const char *s, size_t len, size_t record,
                                  gr_error *err)
{
    gr_vcf_undeclared u;
    gr_vcf_count_undeclared(ss->hdr, s, len, &u);
    if (!u.count)
        return GR_OK;
    if (ss->undeclared + u.count > GR_VCF_MAX_UNDECLARED ||
        ss->undeclared_bytes + u.bytes > GR_VCF_MAX_UNDECLARED_BYTES) {
        const char *q = quotable(u.first, u.first_len);
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu uses %s%s%s%.*s%s, which the header does not declare: "
                            "this VCF uses more undeclared contigs, FILTERs, INFO and FORMAT "
                            "keys than the %d (of %d bytes together) allowed; declare them in "
                            "the header",
                            record, q ? "the " : "an undeclared ", gr_vcf_kind_name(u.first_kind),
                            q ? " '" : "", q ? (int)u.first_len : 0, q ? q : "", q ? "'" : "",
                            GR_VCF_MAX_UNDECLARED, GR_VCF_MAX_UNDECLARED_BYTES);
    }
    ss->undeclared += u.count;
    ss->undeclared_bytes += u.bytes;
    return GR_OK;
}

/* Worker threads: only reads c (line_wanted with add = 0 never writes). */
static int body_filter(void *arg, const char *s, size_t len, int32_t *tag, size_t *hint)
{
    const sink_state *ss = arg;
    return gr_vcf_line_wanted(ss->c, s, len, tag, hint);
}

static gr_status body_sink(void *arg, const char *s, size_t len, size_t record, int wanted,
                           int32_t code, gr_error *err)
{
    sink_state *ss = arg;
    ss->line->l = 0;
    errno = 0;
    /* No NUL byte: htslib 1.16 takes one for the end of a FORMAT value and
     * then pads the samples it thinks are missing, writing past its buffer
     * when only some samples are selected (found by fuzzing). */
    if (memchr(s, '\0', len))
        wanted = -1;
    const char *bad = wanted < 0 ? NULL : gr_vcf_header_injection(s, len);
    if (bad && !*bad)
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu is not a valid VCF record: it has no tabs", record);
    if (bad)
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu is not a valid VCF record: its %s holds ',', '<', '>' "
                            "or '\"', which VCF does not allow in names",
                            record, bad);
    uint64_t n_samples = (uint64_t)bcf_hdr_nsamples(ss->hdr); /* those selected */
    uint64_t need = wanted < 0 ? 0 : gr_vcf_format_bytes(s, len, n_samples, ss->max_format);
    if (need > ss->max_format)
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu would take %" PRIu64 " MiB once parsed for %" PRIu64
                            " samples (its widest values times the samples), over the %" PRIu64
                            "-MiB limit (4 times the line limit)",
                            record, need >> 20, n_samples, ss->max_format >> 20);
    gr_status st = wanted < 0 ? GR_OK : check_undeclared(ss, s, len, record, err);
    if (st)
        return st;
    /* htslib parses a line cut short after POS or ID without complaint, as a
     * record with no alleles: that is not a record either */
    if (wanted < 0 || kputsn(s, len, ss->line) < 0 || vcf_parse(ss->line, ss->hdr, ss->rec) < 0 ||
        ss->rec->n_allele < 1) {
        if (errno == ENOMEM) /* vcf_parse says no more than that it failed */
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu is not a valid VCF record", record);
    }
    /* htslib 1.16's encoders ignore some failed allocations and leave a
     * corrupt record that vcf_parse calls a success */
    if (errno == ENOMEM)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (code < 0) {
        const char *name = bcf_hdr_id2name(ss->hdr, ss->rec->rid);
        code = gr_vcf_chrom_code(ss->c, name, strlen(name), 0);
    }
    gr_vcf_use_record(ss->c, ss->hdr, ss->rec, code, ss->r);
    if (ss->c->oom)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    return GR_OK;
}

/* The reader's state from open to close: gr_vcf_read runs the stages below
 * on it in order, and reader_close frees whatever was made. */
typedef struct {
    ctx c;
    const char *path, *label;
    int fd; /* consumed: hdopen takes it, or reader_close closes it */
    size_t max_line;
    hFILE *hf;
    htsFile *fp;
    bcf_hdr_t *hdr;
    bcf1_t *rec;
    kstring_t line;
    const char *build; /* what the header says, or "" */
    gr_vcf_result *r;
    size_t hint; /* gr_vcf_line_wanted's, for the lines read step by step */
} reader;

static gr_status oom(gr_error *err)
{
    return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

/* Opens the input and checks that htslib sees VCF or BCF in it. */
static gr_status open_input(reader *rd, gr_error *err)
{
    /* htslib tells a failed allocation from bad data only by errno */
    errno = 0;
    rd->hf = rd->fd >= 0 ? hdopen(rd->fd, "r") : hopen(rd->path, "r");
    if (!rd->hf)
        return errno == ENOMEM
                   ? oom(err)
                   : gr_error_set(err, GR_EIO, rd->label, 0, NULL, "cannot open the VCF");
    char bom[3]; /* a byte-order mark before a text VCF's header is skipped */
    if (hpeek(rd->hf, bom, sizeof bom) == (ssize_t)sizeof bom && gr_utf8_bom(bom, sizeof bom) &&
        hread(rd->hf, bom, sizeof bom) != (ssize_t)sizeof bom)
        return gr_error_set(err, GR_EIO, rd->label, 0, NULL, "cannot read the VCF");
    /* htslib's header reader loads NAME.tbi or NAME.csi beside the name it
     * is given, to add the contigs an index lists: an upload or a pipe has
     * no such file, so it gets a name under which none can exist (an
     * upload named "upload" would read upload.tbi from the daemon's working
     * directory) */
    rd->fp = hts_hopen(rd->hf, rd->fd >= 0 ? "/dev/null/genorisk-stream" : rd->label, "r");
    if (!rd->fp)
        return errno == ENOMEM ? oom(err)
                               : gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                                              "not a readable VCF or BCF file (plain, gzip or "
                                              "BGZF)");
    rd->hf = NULL; /* the htsFile owns it now */
    const htsFormat *fmt = hts_get_format(rd->fp);
    /* hts_hopen does not check its copy of the name, which vcf_hdr_read
     * hands to strlen (htslib 1.16); format detection that could not
     * allocate sees empty data */
    if (!rd->fp->fn || errno == ENOMEM)
        return oom(err);
    if (fmt->category != variant_data || (fmt->format != vcf && fmt->format != bcf)) {
        char *what = hts_format_description(fmt); /* returns new */
        gr_status st = gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                                    "not a VCF or BCF file (htslib sees: %.80s)",
                                    what ? what : "unknown data");
        free(what);
        return st;
    }
    return GR_OK;
}

/* Reads the header; a file with no samples is refused. */
static gr_status read_header(reader *rd, gr_error *err)
{
    errno = 0;
    rd->hdr = bcf_hdr_read(rd->fp);
    if (!rd->hdr)
        return errno == ENOMEM ? oom(err)
                               : gr_error_set(err, GR_EINPUT, rd->label, 0, "header",
                                              "the VCF header is missing or malformed");
    if (bcf_hdr_nsamples(rd->hdr) == 0)
        return gr_error_set(err, GR_EINPUT, rd->label, 0, "header",
                            "the VCF has no samples (no genotype columns)");
    return GR_OK;
}

/* Keeps only the samples asked for, each once and each in the file. */
static gr_status select_samples(reader *rd, const gr_vcf_options *opt, gr_error *err)
{
    if (!opt->samples || !opt->n_samples)
        return GR_OK;
    kstring_t list = { 0, 0, NULL };
    gr_status st = GR_OK;
    for (size_t i = 0; i < opt->n_samples && !st; i++) {
        const char *s = opt->samples[i];
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= !strcmp(opt->samples[j], s);
        if (dup || !*s || strchr(s, ',') || bcf_hdr_id2int(rd->hdr, BCF_DT_SAMPLE, s) < 0)
            st = gr_error_set(err, GR_EINPUT, rd->label, 0, "sample",
                              dup ? "requested sample #%zu is requested twice"
                                  : "requested sample #%zu is not in the VCF",
                              i + 1);
        else if ((i && kputc(',', &list) < 0) || kputs(s, &list) < 0)
            st = oom(err);
    }
    if (!st) {
        errno = 0;
        int bad = bcf_hdr_set_samples(rd->hdr, list.s, 0);
        if (bad < 0 && errno == ENOMEM)
            st = oom(err);
        else if (bad != 0)
            st = gr_error_set(err, GR_EINPUT, rd->label, 0, "sample",
                              "the requested samples could not be selected");
    }
    free(list.s);
    return st;
}

/* Rule 9: a header on another build than the models' is refused. */
static gr_status check_build(reader *rd, gr_error *err)
{
    char why[160] = "";
    rd->build = gr_vcf_header_build(rd->hdr, why, sizeof why);
    for (size_t k = 0; k < rd->c.n_models; k++) {
        const gr_model *m = rd->c.models[k].m;
        if (rd->build[0] && strcmp(rd->build, m->info.genome_build))
            return gr_error_set(err, GR_EINPUT, rd->label, 0, "header",
                                "the VCF is on %s (%s) but model %s is on %s", rd->build, why,
                                m->info.name, m->info.genome_build);
    }
    return GR_OK;
}

/* Sizes the result by the samples (within max_samples) and the model, and
 * names the samples; every dosage starts missing. */
static gr_status alloc_result(reader *rd, gr_error *err)
{
    ctx *c = &rd->c;
    int ds_id = bcf_hdr_id2int(rd->hdr, BCF_DT_ID, "DS");
    c->have_ds = ds_id >= 0 && bcf_hdr_idinfo_exists(rd->hdr, BCF_HL_FMT, ds_id);
    c->n_rid = rd->hdr->n[BCF_DT_CTG];
    size_t nf = c->n_feat, ns = (size_t)bcf_hdr_nsamples(rd->hdr);
    if (c->opt->max_samples && ns > c->opt->max_samples) /* before ns x nf dosages */
        return gr_error_set(err, GR_ELIMIT, rd->label, 0, "sample",
                            "the VCF holds %zu samples; at most %zu per request (choose some "
                            "with ?sample=ID)",
                            ns, c->opt->max_samples);
    /* the matrix the whole read fills, before it is sized */
    if (c->opt->max_dosage_bytes && nf && ns > c->opt->max_dosage_bytes / 2 / nf)
        return gr_error_set(err, GR_ELIMIT, rd->label, 0, "sample",
                            "%zu samples x %zu model variants would take %.0f bytes of dosages, "
                            "over the %zu-byte ceiling (--max-dosage-bytes); choose some samples "
                            "with ?sample=ID, or fewer models",
                            ns, nf, 2.0 * (double)ns * (double)nf, c->opt->max_dosage_bytes);
    c->rid_code = malloc((size_t)(c->n_rid > 0 ? c->n_rid : 1) * sizeof *c->rid_code);
    gr_vcf_result *r = rd->r = calloc(1, sizeof *r);
    c->kind = calloc(nf ? nf : 1, 1);
    c->flags = calloc(nf ? nf : 1, 1);
    c->status = calloc(nf ? nf : 1, 1);
    c->record = calloc(nf ? nf : 1, sizeof *c->record);
    if (c->opt->keep_records)
        c->record_text = calloc(nf ? nf : 1, sizeof *c->record_text);
    rd->rec = bcf_init();
    if (!c->rid_code || !r || !c->kind || !c->flags || !c->status || !c->record || !rd->rec ||
        (c->opt->keep_records && !c->record_text))
        return oom(err);
    for (size_t f = 0; f < nf; f++)
        c->status[f] = c->rules[f] & RULE_SKIP ? GR_VAR_CHRX_SKIPPED : GR_VAR_NO_RECORD;
    for (int i = 0; i < c->n_rid; i++) {
        /* ##contig IDX=n attributes leave unnamed slots below n */
        const char *name = bcf_hdr_id2name(rd->hdr, i);
        c->rid_code[i] = name ? gr_vcf_chrom_code(c, name, strlen(name), 0) : -1;
    }
    r->n_samples = ns;
    r->n_features = nf;
    r->build = rd->build;
    r->sample_ids = calloc(ns, sizeof *r->sample_ids);
    r->dosage = malloc(ns * (nf ? nf : 1) * sizeof *r->dosage);
    if (!r->sample_ids || !r->dosage)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL,
                            "out of memory for %zu samples x %zu variants", ns, nf);
    for (size_t s = 0; s < ns; s++) {
        if (!gr_utf8_valid(rd->hdr->samples[s])) /* results name them in JSON */
            return gr_error_set(err, GR_EINPUT, rd->label, 0, "header",
                                "the name of sample #%zu is not UTF-8 text", s + 1);
        if (!(r->sample_ids[s] = gr_strdup(rd->hdr->samples[s])))
            return oom(err);
    }
    memset(r->dosage, 0xFF, ns * nf * sizeof *r->dosage);
    return GR_OK;
}

/* 1 when a BCF record concerns the model: by position, by rsID, or as a
 * gVCF block; -1 when out of memory. */
static int bcf_wanted(ctx *c, bcf1_t *rec, int32_t code)
{
    int64_t pos = (int64_t)rec->pos + 1;
    size_t at;
    if (code >= 0 && gr_vcf_pos_find(c, pos_key(code, pos), &c->hint, &at))
        return 1;
    if (bcf_unpack(rec, BCF_UN_STR) < 0 || errno == ENOMEM)
        return -1;
    return (kh_size(c->id_first) && rec->d.id && id_find(c, rec->d.id) != kh_end(c->id_first)) ||
           (code >= 0 && gr_vcf_is_block(rec));
}

/* Reads the BCF record at the reader's position and uses it unless it lies
 * past w (NULL: streaming); *got as gr_vcf_step says. A record is sized
 * before bcf_read allocates what it claims. */
static gr_status bcf_step(void *arg, const gr_window *w, int *got, gr_error *err)
{
    reader *rd = arg;
    ctx *c = &rd->c;
    gr_vcf_result *r = rd->r;
    uint64_t size = 0;
    int ret = 0;
    *got = GR_STEP_END;
    errno = 0;
    int peek = gr_bcf_peek_size(rd->fp->fp.bgzf, &size);
    if (peek > 0 && size > rd->max_line)
        return gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                            "record %zu is over the %zu-byte line limit (%" PRIu64 " bytes)",
                            r->records + 1, rd->max_line, size);
    if (peek >= 0) {
        errno = 0;
        ret = bcf_read(rd->fp, rd->hdr, rd->rec);
    }
    if (peek < 0 || ret != 0) {
        if (errno == ENOMEM && (peek < 0 || ret < 0)) /* neither status tells */
            return oom(err);
        if (peek < 0 || ret < -1)
            return gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                                "read error after record %zu: truncated or corrupt BCF data",
                                r->records);
        return GR_OK; /* the end */
    }
    if (errno == ENOMEM) /* a record htslib could not build whole */
        return oom(err);
    bcf1_t *rec = rd->rec;
    *got =
        w && (rec->rid != w->tid || (int64_t)rec->pos + 1 > w->end) ? GR_STEP_PAST : GR_STEP_READ;
    if (*got == GR_STEP_PAST)
        return GR_OK;
    r->records++;
    int32_t code = rec->rid >= 0 && rec->rid < c->n_rid ? c->rid_code[rec->rid] : -1;
    int wanted = bcf_wanted(c, rec, code);
    if (wanted < 0)
        return oom(err);
    if (wanted)
        gr_vcf_use_record(c, rd->hdr, rec, code, r);
    return c->oom ? oom(err) : GR_OK;
}

/* BCF records, read on the caller. Text VCF brings its own workers
 * (vcf_body.c); BCF does not use htslib's BGZF threads: htslib 1.16's
 * (hts_set_threads) do not survive a failed allocation: bgzf_thread_pool
 * ignores a failed pthread_create (the first read then waits forever),
 * leaks its queue when pool_create fails, and its workers report out of
 * memory as corrupt data. */
static gr_status read_bcf_body(reader *rd, gr_error *err)
{
    const gr_vcf_options *opt = rd->c.opt;
    gr_status st = GR_OK;
    int got = GR_STEP_READ;
    for (size_t n = 0; got == GR_STEP_READ && !st; n++) {
        if (opt->stop && !(n & 1023) && opt->stop(opt->stop_arg))
            return gr_error_set(err, GR_EIO, rd->label, 0, NULL, "stopped");
        st = bcf_step(rd, NULL, &got, err);
    }
    return st;
}

static sink_state sink_for(reader *rd)
{
    return (sink_state){
        &rd->c, rd->hdr, rd->rec, rd->r, &rd->line, rd->label, (uint64_t)rd->max_line * 4, 0, 0
    };
}

/* A text VCF read through its index: each line goes through the streamed
 * read's line ceiling, look and sink. */
typedef struct {
    reader *rd;
    sink_state *ss;
    kstring_t text; /* the line being read */
} text_steps;

static gr_status text_step(void *arg, const gr_window *w, int *got, gr_error *err)
{
    text_steps *t = arg;
    reader *rd = t->rd;
    int line = gr_bgzf_line(rd->fp->fp.bgzf, &t->text, rd->max_line);
    size_t record = rd->r->records + 1, len = t->text.l;
    const char *s = t->text.s;
    *got = line == GR_LINE_END ? GR_STEP_END : GR_STEP_READ;
    if (line == GR_LINE_END)
        return GR_OK;
    if (line == GR_LINE_OOM)
        return oom(err);
    if (line == GR_LINE_BAD)
        return gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                            "read error after record %zu: truncated or corrupt compressed data",
                            record - 1);
    if (line == GR_LINE_OK && len && s[len - 1] == '\r')
        len--;
    /* a streamed read refuses such a line wherever it is */
    if (line == GR_LINE_LONG || len > rd->max_line)
        return gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                            "record %zu is over the %zu-byte line limit", record, rd->max_line);
    if (len && s[0] != '#' && gr_vcf_text_past(&rd->c, s, len, w)) {
        *got = GR_STEP_PAST;
        return GR_OK;
    }
    rd->r->records = record;
    if (!len || s[0] == '#')
        return GR_OK;
    int32_t code = 0;
    int wanted = gr_vcf_line_wanted(&rd->c, s, len, &code, &rd->hint);
    return wanted ? body_sink(t->ss, s, len, record, wanted, code, err) : GR_OK;
}

/* 1 when every variant looked for has a position (chrx=skip's are not). */
static int all_placed(const ctx *c)
{
    for (size_t f = 0; f < c->n_feat; f++)
        if (!(c->rules[f] & RULE_SKIP) && !(c->feat[f].chrom[0] && c->feat[f].pos > 0))
            return 0;
    return 1;
}

/* The model's regions only, when the options, the input and the model allow
 * it and the file's index says it pays (vcf_region.c); 0 in *done when the
 * file is to be streamed instead. */
static gr_status read_indexed(reader *rd, int *done, gr_error *err)
{
    const ctx *c = &rd->c;
    const htsFormat *fmt = hts_get_format(rd->fp);
    gr_vcf_plan *plan = NULL;
    *done = 0;
    /* uploads are not sought in; a variant without a position is found only
     * by rsID, anywhere in the file */
    if (!c->opt->use_index || rd->fd >= 0 || !c->n_pos || !all_placed(c) ||
        fmt->compression != bgzf)
        return GR_OK;
    gr_status st = gr_vcf_index_plan(&rd->c, rd->path, rd->hdr, fmt->format == bcf, &plan, err);
    if (st || !plan)
        return st;
    *done = rd->r->indexed = 1;
    if (fmt->format == bcf) {
        st = gr_vcf_plan_walk(plan, rd->fp->fp.bgzf, bcf_step, rd, c->opt, rd->label, err);
    } else {
        sink_state ss = sink_for(rd);
        text_steps t = { rd, &ss, { 0, 0, NULL } };
        st = gr_vcf_plan_walk(plan, rd->fp->fp.bgzf, text_step, &t, c->opt, rd->label, err);
        free(t.text.s);
    }
    gr_vcf_plan_free(plan);
    return st;
}

static gr_status read_body(reader *rd, gr_error *err)
{
    int done;
    gr_status st = read_indexed(rd, &done, err);
    if (st || done)
        return st;
    if (hts_get_format(rd->fp)->format != vcf)
        return read_bcf_body(rd, err);
    sink_state ss = sink_for(rd);
    gr_body_reader body = { rd->label,       rd->c.opt->threads, rd->max_line,
                            body_filter,     body_sink,          &ss,
                            rd->c.opt->stop, rd->c.opt->stop_arg };
    return gr_vcf_body_read(rd->fp, &body, &rd->r->records, err);
}

/* Rule 8 for the variants no record mentions; the per-file match counts. */
static void tally_matches(reader *rd)
{
    const ctx *c = &rd->c;
    gr_vcf_result *r = rd->r;
    size_t nf = r->n_features, ns = r->n_samples;
    gr_vcf_match *mt = &r->match;
    for (size_t f = 0; f < nf; f++) {
        const gr_feature *ft = &c->feat[f];
        if (c->status[f] == GR_VAR_NO_RECORD && !(ft->chrom[0] && ft->pos > 0))
            c->status[f] = GR_VAR_NO_POSITION;
        if (c->kind[f] == KIND_NONE) {
            int unmatched = c->status[f] <= GR_VAR_NO_POSITION; /* not excluded */
            if (unmatched && c->opt->absent == GR_ABSENT_REF)
                for (size_t s = 0; s < ns; s++)
                    r->dosage[s * nf + f] = 0;
            continue;
        }
        mt->matched++;
        mt->flipped += !!(c->flags[f] & GR_MATCH_FLIPPED);
        mt->swapped += !!(c->flags[f] & GR_MATCH_SWAPPED);
        mt->ambiguous += !!(c->flags[f] & GR_MATCH_AMBIGUOUS);
        mt->multiallelic += !!(c->flags[f] & GR_MATCH_MULTI);
    }
}

/* The file-level warnings of rules 4, 5 and 8; never a genotype or an id. */
static gr_status add_warnings(reader *rd, gr_error *err)
{
    const ctx *c = &rd->c;
    gr_vcf_result *r = rd->r;
    size_t by_id = 0, no_pos = 0, no_pos_found = 0;
    for (size_t f = 0; f < r->n_features; f++) {
        const gr_feature *ft = &c->feat[f];
        int found = c->kind[f] != KIND_NONE, has_pos = ft->chrom[0] && ft->pos > 0;
        by_id += c->kind[f] == KIND_ID && has_pos;
        no_pos += !has_pos;
        no_pos_found += !has_pos && found;
    }
    char w[300];
    int ok = 1;
    if (c->duplicates) {
        snprintf(w, sizeof w,
                 "%zu model variant%s matched by more than one record; the first record was used",
                 c->duplicates, c->duplicates == 1 ? " was" : "s were");
        ok &= add_warning(r, w);
    }
    if (by_id) {
        snprintf(w, sizeof w, "%zu model variant%s matched by rsID at another position", by_id,
                 by_id == 1 ? "" : "s");
        ok &= add_warning(r, w);
    }
    if (no_pos) { /* a PGS row whose harmonization failed has an empty hm_chr */
        snprintf(w, sizeof w,
                 "%zu model variant%s no position (an empty hm_chr or chr_name in the scoring "
                 "file) and can be found only by rsID: %zu found",
                 no_pos, no_pos == 1 ? " has" : "s have", no_pos_found);
        ok &= add_warning(r, w);
    }
    if (c->opt->absent == GR_ABSENT_MISSING && c->calls && !c->homref_calls) {
        snprintf(w, sizeof w,
                 "the VCF holds no homozygous-reference calls; if it lists variant sites only, "
                 "absent=ref treats the variants it does not list as homozygous reference");
        ok &= add_warning(r, w);
    }
    return ok ? GR_OK : oom(err);
}

static void reader_close(reader *rd)
{
    ctx *c = &rd->c;
    if (rd->hf)
        hclose_abruptly(rd->hf);
    else if (!rd->fp && rd->fd >= 0)
        close(rd->fd); /* the descriptor is consumed on every path */
    gr_vcf_result_free(rd->r);
    free(rd->line.s);
    if (rd->rec)
        bcf_destroy(rd->rec);
    if (rd->hdr)
        bcf_hdr_destroy(rd->hdr);
    if (rd->fp)
        hts_close(rd->fp);
    if (c->contigs) {
        for (khint_t k = kh_begin(c->contigs); k != kh_end(c->contigs); k++)
            if (kh_exist(c->contigs, k))
                free((char *)kh_key(c->contigs, k));
        kh_destroy(vname, c->contigs);
    }
    kh_destroy(vid, c->id_first);
    free(c->by_pos);
    free(c->seen_bits);
    free(c->id_bits);
    free(c->by_id);
    free(c->kind);
    free(c->flags);
    free(c->status);
    free(c->record);
    for (size_t i = 0; c->record_text && i < c->n_feat; i++)
        free(c->record_text[i]);
    free(c->record_text);
    free(c->feat);
    free(c->first);
    free(c->rules);
    free(c->gt);
    free(c->ds);
    free(c->end);
    free(c->rid_code);
}

/* Every model's variants in a row, with the policy's bits for each. */
static gr_status gather_variants(ctx *c, gr_error *err)
{
    size_t n = 0;
    for (size_t k = 0; k < c->n_models; k++)
        n += c->models[k].m->n_features;
    if (n > UINT32_MAX - 1)
        return gr_error_set(err, GR_ELIMIT, NULL, 0, NULL, "too many variants in one read");
    c->feat = malloc((n ? n : 1) * sizeof *c->feat);
    c->rules = malloc(n ? n : 1);
    c->first = malloc((c->n_models + 1) * sizeof *c->first);
    if (!c->feat || !c->rules || !c->first)
        return oom(err);
    for (size_t k = 0; k < c->n_models; k++) {
        const gr_model *m = c->models[k].m;
        const gr_policy *p = c->models[k].policy;
        c->first[k] = c->n_feat;
        for (size_t i = 0; i < m->n_features; i++, c->n_feat++) {
            const gr_feature *f = &m->features[i];
            c->feat[c->n_feat] = *f;
            c->rules[c->n_feat] =
                (uint8_t)((gr_policy_drops_ambiguous(p, f) ? RULE_DROP_AMBIGUOUS : 0) |
                          (p->drop_multiallelic ? RULE_DROP_MULTI : 0) |
                          (gr_policy_skips(p, f) ? RULE_SKIP : 0));
        }
    }
    c->first[c->n_models] = c->n_feat;
    return GR_OK;
}

/* Hands the per-variant outcomes over to the result. */
static gr_status keep_outcomes(reader *rd, gr_error *err)
{
    ctx *c = &rd->c;
    gr_vcf_result *r = rd->r;
    size_t nf = c->n_feat;
    r->how = malloc(nf ? nf : 1);
    if (!r->how)
        return oom(err);
    for (size_t f = 0; f < nf; f++)
        r->how[f] = c->kind[f] == KIND_RECORD  ? 1
                    : c->kind[f] == KIND_ID    ? 2
                    : c->kind[f] == KIND_BLOCK ? 3
                                               : 0;
    r->status = c->status;
    r->flags = c->flags;
    r->record = c->record;
    r->record_text = c->record_text;
    r->model_first = c->first;
    r->n_models = c->n_models;
    c->status = c->flags = NULL;
    c->record = NULL;
    c->record_text = NULL;
    c->first = NULL;
    return GR_OK;
}

gr_status gr_vcf_read(const gr_model *m, const char *path, int fd, const gr_vcf_options *opt,
                      gr_vcf_result **out, gr_error *err)
{
    gr_vcf_model one = { m, &m->policy };
    return gr_vcf_read_models(&one, 1, path, fd, opt, out, err);
}

gr_status gr_vcf_read_models(const gr_vcf_model *ms, size_t n, const char *path, int fd,
                             const gr_vcf_options *opt, gr_vcf_result **out, gr_error *user_err)
{
    gr_error local, *err = user_err ? user_err : &local;
    gr_status st = GR_OK;
    reader rd = { .c = { .models = ms, .n_models = n, .opt = opt, .next_code = 100 },
                  .path = path,
                  .label = path ? path : "VCF",
                  .fd = fd,
                  .max_line = opt->max_line ? opt->max_line : (size_t)64 << 20 };
    *out = NULL;
    rd.c.contigs = kh_init(vname);
    if (!rd.c.contigs) {
        st = oom(err);
        goto fail;
    }
    if ((st = gather_variants(&rd.c, err)) || (st = gr_vcf_build_index(&rd.c, err)))
        goto fail;
    if (opt->max_header &&
        (st = gr_vcf_check_header_size(path, fd, opt->max_header, rd.label, err)))
        goto fail;
    if ((st = open_input(&rd, err)) || (st = read_header(&rd, err)) ||
        (st = select_samples(&rd, opt, err)) || (st = check_build(&rd, err)) ||
        (st = alloc_result(&rd, err)) || (st = read_body(&rd, err)))
        goto fail;
    tally_matches(&rd);
    if ((st = add_warnings(&rd, err)) || (st = keep_outcomes(&rd, err)))
        goto fail;
    *out = rd.r;
    rd.r = NULL;

fail:
    reader_close(&rd);
    return st;
}
