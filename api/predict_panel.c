/* predict_panel.c - see predict_panel.h: the match report, the panel's
 * JSON document, plink2's .sscore and pgsc_calc's long TSV, and the
 * per-variant log. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/buffer.h"
#include "api/json_out.h"
#include "api/predict_panel.h"
#include "api/predict_place.h"
#include "api/report.h"
#include "core/match.h"

static const struct {
    const char *name, *media_type;
} formats[GR_API_FORMATS] = {
    [GR_API_FORMAT_JSON] = { "json", "application/json" },
    [GR_API_FORMAT_SSCORE] = { "sscore", "text/tab-separated-values" },
    [GR_API_FORMAT_TSV] = { "tsv", "text/tab-separated-values" },
    [GR_API_FORMAT_HTML] = { "html", "text/html; charset=utf-8" },
    [GR_API_FORMAT_SVG] = { "svg", "image/svg+xml" },
};

int gr_api_format_parse(const char *s, gr_api_format *out)
{
    for (int f = 0; f < GR_API_FORMATS; f++)
        if (s && !strcmp(s, formats[f].name)) {
            *out = (gr_api_format)f;
            return 1;
        }
    return 0;
}

const char *gr_api_format_media_type(gr_api_format f)
{
    return f < GR_API_FORMATS ? formats[f].media_type : formats[0].media_type;
}

/* The q a media range (text[0 .. len)) gives type, -1 when it does not
 * cover it (the wildcards "*" + "/" + "*" and "text/" + "*" cover text types). */
static double range_q(const char *text, size_t len, const char *type)
{
    const char *lim = text + len, *semi = memchr(text, ';', len), *end = semi ? semi : lim;
    while (text < end && *text == ' ')
        text++;
    while (end > text && end[-1] == ' ')
        end--;
    size_t n = (size_t)(end - text), major = (size_t)(strchr(type, '/') - type);
    int covers = (n == strlen(type) && !strncasecmp(text, type, n)) ||
                 (n == 3 && !strncmp(text, "*/*", 3)) ||
                 (n == major + 2 && !strncasecmp(text, type, major + 1) && text[major + 1] == '*');
    if (!covers)
        return -1;
    double q = 1;
    for (const char *p = semi; p && p < lim; p = memchr(p + 1, ';', (size_t)(lim - p - 1))) {
        const char *v = p + 1;
        while (v < lim && *v == ' ')
            v++;
        if (v + 2 <= lim && (v[0] | 32) == 'q' && v[1] == '=')
            q = strtod(v + 2, NULL);
    }
    return q;
}

gr_api_format gr_api_format_accepted(const char *accept)
{
    static const gr_api_format order[] = { GR_API_FORMAT_JSON, GR_API_FORMAT_SSCORE,
                                           GR_API_FORMAT_HTML, GR_API_FORMAT_SVG };
    static const char *const types[] = { "application/json", "text/tab-separated-values",
                                         "text/html", "image/svg+xml" };
    double best[4] = { -1, -1, -1, -1 };
    for (const char *p = accept; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        /* a report is asked for by name: a wildcard range never picks one */
        int named = memchr(p, '*', len) == NULL;
        for (int f = 0; f < 4; f++) {
            double q = range_q(p, len, types[f]);
            if (q > best[f] && (f < 2 || named))
                best[f] = q;
        }
        p = comma ? comma + 1 : NULL;
    }
    int pick = 0; /* ties go to JSON, the default */
    for (int f = 1; f < 4; f++)
        if (best[f] > 0 && best[f] > best[pick])
            pick = f;
    return order[pick];
}

/* ---- the match report ---- */

/* pgsc_calc's match_type of a matched variant; "" for the rest. */
static const char *match_type(const gr_vcf_result *r, size_t f)
{
    static const char *const types[] = { "refalt", "altref", "refalt_flip", "altref_flip" };
    if (r->status[f] != GR_VAR_MATCHED)
        return "";
    if (r->how[f] == 2)
        return "rsid";
    if (r->how[f] == 3)
        return "block";
    return types[!!(r->flags[f] & GR_MATCH_SWAPPED) + 2 * !!(r->flags[f] & GR_MATCH_FLIPPED)];
}

static const char *status_word(gr_var_status s)
{
    return s == GR_VAR_MATCHED                                 ? "matched"
           : s == GR_VAR_AMBIGUOUS || s == GR_VAR_MULTIALLELIC ? "excluded"
                                                               : "unmatched";
}

/* One variant's row of the log (strings borrowed from the job). */
typedef struct {
    const gr_feature *ft;
    const char *status, *match, *record, *reason;
    int ambiguous, multiallelic;
} variant_fields;

static void variant_of(const gr_api_job *job, size_t j, variant_fields *v)
{
    const gr_vcf_result *r = job->vcf;
    size_t f = r->model_first[job->vcf_model] + j;
    gr_var_status s = (gr_var_status)r->status[f];
    v->ft = gr_model_feature(job->m, j);
    v->status = status_word(s);
    v->match = match_type(r, f);
    v->record = r->record_text && r->record_text[f] ? r->record_text[f] : "";
    v->reason = s == GR_VAR_MATCHED ? "" : gr_var_status_name(s);
    v->ambiguous = gr_feature_ambiguous(v->ft);
    v->multiallelic = !!(r->flags[f] & GR_MATCH_MULTI);
}

/* One variant's row of the log, as an object; NULL when out of memory. */
static json_t *variant_row(const gr_api_job *job, size_t j)
{
    variant_fields v;
    variant_of(job, j, &v);
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:s}", "feature", v.ft->id,
                     "chrom", v.ft->chrom, "pos", (json_int_t)v.ft->pos, "effect_allele", v.ft->alt,
                     "other_allele", v.ft->ref, "status", v.status, "match", v.match, "ambiguous",
                     v.ambiguous, "multiallelic", v.multiallelic, "record", v.record, "reason",
                     v.reason);
}

/* The policy a job runs under, with its impute rule; NULL when out of memory. */
static json_t *policy_object(const gr_api_job *job)
{
    json_t *o = gr_api_policy_json(&job->policy);
    if (o &&
        json_object_set_new(o, "impute", json_string(gr_impute_name((gr_impute)job->set.impute)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gr_api_match_report(const gr_api_job *job, int rows)
{
    if (!job->vcf)
        return NULL;
    gr_vcf_report rep;
    gr_vcf_model_report(job->vcf, job->vcf_model, &rep);
    const size_t *st = rep.status;
    size_t unmatched = st[GR_VAR_NO_RECORD] + st[GR_VAR_ALLELES_DIFFER] + st[GR_VAR_NO_POSITION] +
                       st[GR_VAR_CHRX_SKIPPED];
    double rate = rep.variants ? (double)rep.matched / (double)rep.variants : 1.0;
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:{s:I, s:I, s:I, s:I}, s:f, s:f, s:b, s:o}",
        "variants", (json_int_t)rep.variants, "matched", (json_int_t)rep.matched, "flipped",
        (json_int_t)rep.flipped, "swapped", (json_int_t)rep.swapped, "duplicate",
        (json_int_t)rep.duplicate, "excluded", "ambiguous", (json_int_t)st[GR_VAR_AMBIGUOUS],
        "multiallelic", (json_int_t)st[GR_VAR_MULTIALLELIC], "unmatched", (json_int_t)unmatched,
        "unmatched_reasons", "no_record", (json_int_t)st[GR_VAR_NO_RECORD], "chrx_skipped",
        (json_int_t)st[GR_VAR_CHRX_SKIPPED], "alleles_differ",
        (json_int_t)st[GR_VAR_ALLELES_DIFFER], "no_position", (json_int_t)st[GR_VAR_NO_POSITION],
        "match_rate", rate, "min_overlap", job->min_coverage, "passes", rate >= job->min_coverage,
        "policy", policy_object(job));
    if (!o || !rows)
        return o;
    json_t *list = json_array();
    size_t nf = gr_model_get_info(job->m)->n_features;
    int bad = !list || json_object_set_new(o, "variant_log", list);
    for (size_t j = 0; j < nf && !bad; j++)
        bad = json_array_append_new(list, variant_row(job, j));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- JSON ---- */

static gr_status oom(gr_error *err)
{
    return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

/* One model's document, with its match report among extra's members. */
static gr_status write_document(const gr_api_panel *p, const gr_api_job *job, json_t *extra,
                                gr_api_write_fn write, void *arg, gr_error *err)
{
    json_t *more = extra ? json_copy(extra) : json_object();
    json_t *report = gr_api_match_report(job, p->variant_rows);
    gr_status st = GR_OK;
    if (!more || (job->vcf && (!report || json_object_set(more, "match", report))))
        st = oom(err);
    else
        st = gr_api_predict_write_threads(job, p->pretty, p->threads, more, write, arg, err);
    json_decref(report);
    json_decref(more);
    return st;
}

static gr_status put(gr_api_write_fn write, void *arg, const char *s, size_t n, gr_error *err)
{
    return write(arg, s, n)
               ? gr_error_set(err, GR_EIO, NULL, 0, NULL, "the response could not be written")
               : GR_OK;
}

static gr_status write_json(const gr_api_panel *p, json_t *extra, gr_api_write_fn write, void *arg,
                            gr_error *err)
{
    if (p->n == 1 && !p->listed)
        return write_document(p, &p->jobs[0], extra, write, arg, err);
    gr_status st = put(write, arg, "{\"models\":[", 11, err);
    for (size_t k = 0; k < p->n && !st; k++) {
        if (k)
            st = put(write, arg, ",", 1, err);
        if (!st)
            st = write_document(p, &p->jobs[k], NULL, write, arg, err);
    }
    if (!st)
        st = put(write, arg, "]", 1, err);
    const char *key;
    json_t *value;
    gr_buf b = { 0 };
    json_object_foreach(extra, key, value)
    {
        gr_jw jw; /* ,"key":value */
        gr_jw_init_in(&jw, &b, 0, 1, 1);
        gr_jw_key(&jw, key);
        gr_jw_json(&jw, value);
        if (!st && jw.bad)
            st = jw.bad == GR_JW_NOMEM ? oom(err)
                                       : gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                                                      "member %.64s of the answer cannot be "
                                                      "written as JSON",
                                                      key);
        if (!st)
            st = put(write, arg, b.s, b.len, err);
        b.len = 0;
    }
    free(b.s);
    return st ? st : put(write, arg, "}\n", 2, err);
}

/* ---- the report ---- */

static int to_buf(void *arg, const char *bytes, size_t n)
{
    return !gr_buf_append(arg, bytes, n, 0);
}

/* One sample's HTML report or SVG waterfall: its JSON document, made in
 * memory, read back into the report's document. */
static gr_status write_report(const gr_api_panel *p, gr_api_write_fn write, void *arg,
                              gr_error *err)
{
    gr_buf b = { 0 };
    json_t *doc = NULL, *report = NULL;
    gr_status st;
    size_t samples = p->n == 1 ? gr_api_job_samples(&p->jobs[0]) : 0;
    if (p->n != 1 || samples != 1)
        return gr_error_set(err, GR_EINPUT, NULL, 0, p->n != 1 ? "model" : "samples",
                            p->n != 1 ? "a report is one model's: ask for one model"
                                      : "a report is one sample's; this request has %zu (a VCF "
                                        "upload chooses one with sample=)",
                            samples);
    if ((st = write_document(p, &p->jobs[0], NULL, to_buf, &b, err)))
        goto fail;
    json_error_t je;
    if (!(doc = gr_api_json_loadb(b.s, b.len, 0, &je)) ||
        !(report = gr_api_report_doc(&p->jobs[0], doc))) {
        st = oom(err);
        goto fail;
    }
    st = p->format == GR_API_FORMAT_HTML ? gr_api_report_html(report, write, arg, err)
                                         : gr_api_report_svg(report, write, arg, err);

fail:
    json_decref(report);
    json_decref(doc);
    free(b.s);
    return st;
}

/* ---- tables ---- */

/* Samples whose lines are made between two writes, and the most threads
 * that make them. */
#define TABLE_BLOCK 512
#define TABLE_THREADS 64

/* The shortest text that reads back as v ("NA" for NaN). */
static void number(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NA");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A sample's id (borrowed): the VCF's, or the JSON request's; NULL when
 * it has none (its 1-based number then stands in). */
static const char *sample_id(const gr_api_job *job, size_t i)
{
    if (job->vcf)
        return job->vcf->sample_ids[i];
    return json_string_value(json_array_get(job->json->ids, i));
}

/* first[k][j]: variant j of model k is the first use of its VCF record
 * among the panel's models, so that .sscore's ALLELE_CT and DENOM count
 * each record once, as plink2 counts a variant of one scoring file holding
 * every score once. New, or NULL when out of memory. */
static uint8_t **first_uses(const gr_api_panel *p)
{
    uint8_t **first = calloc(p->n, sizeof *first);
    const gr_vcf_result *r = p->jobs[0].vcf;
    uint64_t max = 0;
    for (size_t f = 0; r && f < r->n_features; f++)
        max = gr_api_shared_record(r, f) > max ? gr_api_shared_record(r, f) : max;
    uint8_t *seen = calloc(max + 1, 1);
    int bad = !first || !seen;
    for (size_t k = 0; k < p->n && !bad; k++) {
        const gr_api_job *job = &p->jobs[k];
        size_t nf = gr_model_get_info(job->m)->n_features;
        if (!(first[k] = malloc(nf ? nf : 1))) {
            bad = 1;
            break;
        }
        for (size_t j = 0; j < nf; j++) {
            if (!r) {
                first[k][j] = 1;
                continue;
            }
            uint64_t rec = gr_api_shared_record(r, r->model_first[job->vcf_model] + j);
            first[k][j] = !rec || !seen[rec];
            seen[rec] = 1;
        }
    }
    free(seen);
    if (bad && first) {
        for (size_t k = 0; k < p->n; k++)
            free(first[k]);
        free(first);
        first = NULL;
    }
    return first;
}

static gr_status table_head(const gr_api_panel *p, gr_buf *b, gr_error *err)
{
    int bad = 0;
    if (p->format == GR_API_FORMAT_TSV)
        return gr_buf_printf(b, "sampleset\tFID\tIID\tPGS\tSUM\tDENOM\tAVG\n") ? oom(err) : GR_OK;
    bad |= gr_buf_printf(b, "#FID\tIID\tALLELE_CT\tDENOM\tNAMED_ALLELE_DOSAGE_SUM");
    for (int part = 0; part < 2; part++)
        for (size_t k = 0; k < p->n; k++)
            bad |= gr_buf_printf(b, "\t%s_%s", gr_model_get_info(p->jobs[k].m)->name,
                                 part ? "SUM" : "AVG");
    bad |= gr_buf_printf(b, "\n");
    return bad ? oom(err) : GR_OK;
}

/* What one sample's line(s) hold, per model and, for .sscore, over the
 * panel's records. */
typedef struct {
    size_t allele_ct, denom; /* sscore: each record once across the panel */
    double named;
} sample_sums;

/* Scores sample i against model k into sums[k], scored[k] and (tsv) its
 * own DENOM and AVG; adds model k's first uses of records to *t (sscore). */
static gr_status score_one(const gr_api_panel *p, gr_api_scorer *sc, uint8_t *const *first,
                           size_t k, size_t i, double *sum, int *scored, size_t *den, double *avg,
                           sample_sums *t, gr_error *err)
{
    gr_prediction pr;
    const double *x, *used;
    gr_status st = gr_api_scorer_run(sc, i, &pr, &x, &used, scored, err);
    if (st)
        return st;
    *sum = *scored ? pr.margin : NAN;
    if (p->format == GR_API_FORMAT_TSV) {
        gr_api_pgs g;
        gr_api_scorer_pgs(sc, &pr, x, &g);
        *den = g.denom;
        *avg = *scored ? g.avg : NAN;
        return GR_OK;
    }
    gr_api_pgs g; /* over the records this model is the first of the panel to use */
    gr_api_pgs_numbers(&pr, x, used, first[k], gr_model_get_info(p->jobs[k].m)->n_features, &g);
    t->allele_ct += g.allele_ct;
    t->denom += g.denom;
    t->named += g.named_dosage_sum;
    return GR_OK;
}

/* Sample i's line(s) into b, from its sums (row r of the part's arrays). */
static gr_status format_sample(const gr_api_panel *p, size_t i, const double *sum,
                               const size_t *den, const double *avg, const sample_sums *t,
                               gr_buf *b, gr_error *err)
{
    char number_id[32], n1[40], n2[40];
    const char *id = sample_id(&p->jobs[0], i);
    if (!id) {
        snprintf(number_id, sizeof number_id, "%zu", i + 1);
        id = number_id;
    }
    int bad = 0; /* ids were checked before the table began (check_ids) */
    if (p->format == GR_API_FORMAT_TSV) {
        for (size_t k = 0; k < p->n; k++) {
            number(n1, sizeof n1, sum[k]);
            number(n2, sizeof n2, avg[k]);
            bad |= gr_buf_printf(b, "%s\t%s\t%s\t%s\t%s\t%zu\t%s\n",
                                 p->sampleset ? p->sampleset : "cohort", id, id,
                                 gr_model_get_info(p->jobs[k].m)->name, n1, den[k], n2);
        }
        return bad ? oom(err) : GR_OK;
    }
    number(n1, sizeof n1, t->named);
    bad |= gr_buf_printf(b, "%s\t%s\t%zu\t%zu\t%s", id, id, t->allele_ct, t->denom, n1);
    for (int part = 0; part < 2; part++)
        for (size_t k = 0; k < p->n; k++) {
            double v = part ? sum[k] : t->denom ? sum[k] / (double)t->denom : NAN;
            number(n1, sizeof n1, v);
            bad |= gr_buf_printf(b, "\t%s", n1);
        }
    return bad | gr_buf_printf(b, "\n") ? oom(err) : GR_OK;
}

/* One thread's share of a block of samples: its own scorers (one per
 * model) and the lines it writes. */
typedef struct {
    const gr_api_panel *p;
    uint8_t *const *first;
    gr_api_scorer **sc;
    double *sum, *avg; /* TABLE_BLOCK x n models */
    size_t *den;
    int *scored;
    sample_sums *tot; /* TABLE_BLOCK */
    gr_buf b;
    size_t lo, hi;
    gr_status st;
    gr_error err;
} table_part;

/* Scores the part's samples model by model (so that a model's
 * coefficients stay in cache across samples), then writes their lines. */
static void *table_part_run(void *arg)
{
    table_part *t = arg;
    size_t n = t->p->n;
    memset(t->tot, 0, TABLE_BLOCK * sizeof *t->tot);
    for (size_t k = 0; k < n && !t->st; k++)
        for (size_t i = t->lo, r = 0; i < t->hi && !t->st; i++, r++)
            t->st =
                score_one(t->p, t->sc[k], t->first, k, i, &t->sum[r * n + k], &t->scored[r * n + k],
                          &t->den[r * n + k], &t->avg[r * n + k], &t->tot[r], &t->err);
    for (size_t i = t->lo, r = 0; i < t->hi && !t->st; i++, r++)
        t->st = format_sample(t->p, i, &t->sum[r * n], &t->den[r * n], &t->avg[r * n], &t->tot[r],
                              &t->b, &t->err);
    return NULL;
}

static void table_parts_free(table_part *parts, size_t n_parts, size_t n_models)
{
    for (size_t t = 0; parts && t < n_parts; t++) {
        for (size_t k = 0; parts[t].sc && k < n_models; k++)
            gr_api_scorer_free(parts[t].sc[k]);
        free(parts[t].sc);
        free(parts[t].sum);
        free(parts[t].avg);
        free(parts[t].den);
        free(parts[t].scored);
        free(parts[t].tot);
        free(parts[t].b.s);
    }
    free(parts);
}

/* n_parts shares, each with a scorer per model; NULL when out of memory. */
static table_part *table_parts_new(const gr_api_panel *p, uint8_t *const *first, size_t n_parts)
{
    table_part *parts = calloc(n_parts, sizeof *parts);
    int bad = !parts;
    for (size_t t = 0; !bad && t < n_parts; t++) {
        table_part *x = &parts[t];
        x->p = p;
        x->first = first;
        size_t cells = TABLE_BLOCK * p->n;
        x->sc = calloc(p->n, sizeof *x->sc);
        x->sum = calloc(cells, sizeof *x->sum);
        x->avg = calloc(cells, sizeof *x->avg);
        x->den = calloc(cells, sizeof *x->den);
        x->scored = calloc(cells, sizeof *x->scored);
        x->tot = calloc(TABLE_BLOCK, sizeof *x->tot);
        bad = !x->sc || !x->sum || !x->avg || !x->den || !x->scored || !x->tot;
        for (size_t k = 0; !bad && k < p->n; k++)
            bad = !(x->sc[k] = gr_api_scorer_new(&p->jobs[k], t ? parts[0].sc[k] : NULL));
    }
    if (bad) {
        table_parts_free(parts, n_parts, p->n);
        return NULL;
    }
    return parts;
}

/* Samples [lo, hi) split among the parts, the last on the caller; the
 * first failure's status and error into err. */
static gr_status table_block(table_part *parts, size_t n_parts, size_t lo, size_t hi, gr_error *err)
{
    pthread_t tid[TABLE_THREADS];
    int started[TABLE_THREADS] = { 0 };
    size_t per = (hi - lo + n_parts - 1) / n_parts;
    for (size_t t = 0; t < n_parts; t++) {
        parts[t].lo = lo + t * per < hi ? lo + t * per : hi;
        parts[t].hi = lo + (t + 1) * per < hi ? lo + (t + 1) * per : hi;
        parts[t].st = GR_OK;
        if (t + 1 < n_parts)
            started[t] = !pthread_create(&tid[t], NULL, table_part_run, &parts[t]);
        if (t + 1 == n_parts || !started[t])
            table_part_run(&parts[t]);
    }
    gr_status st = GR_OK;
    for (size_t t = 0; t < n_parts; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        if (!st && parts[t].st) {
            st = parts[t].st;
            if (err)
                *err = parts[t].err;
        }
    }
    return st;
}

/* Every sample id fits a tab-separated line (checked before a byte is written). */
static gr_status check_ids(const gr_api_panel *p, gr_error *err)
{
    size_t n = gr_api_job_samples(&p->jobs[0]);
    for (size_t i = 0; i < n; i++) {
        const char *id = sample_id(&p->jobs[0], i);
        if (id && strpbrk(id, "\t\r\n"))
            return gr_error_set(err, GR_EINPUT, NULL, 0, "sample",
                                "sample #%zu's id holds a tab or a line break, which a "
                                "tab-separated table cannot hold; ask for json",
                                i + 1);
    }
    return GR_OK;
}

static gr_status check_pgs(const gr_api_panel *p, gr_error *err)
{
    for (size_t k = 0; k < p->n; k++)
        if (gr_model_get_info(p->jobs[k].m)->format != GR_FORMAT_PGS_CATALOG)
            return gr_error_set(err, GR_EINPUT, NULL, 0, "format",
                                "the sscore and tsv formats are for PGS models; %s is not one "
                                "(ask for json)",
                                gr_model_get_info(p->jobs[k].m)->name);
    return GR_OK;
}

/* The table, a block of samples at a time: each block's lines are made by
 * p->threads threads and written in sample order. */
static gr_status write_table(const gr_api_panel *p, gr_api_write_fn write, void *arg, gr_error *err)
{
    size_t n = gr_api_job_samples(&p->jobs[0]);
    size_t n_parts = p->threads < 1               ? 1
                     : p->threads > TABLE_THREADS ? TABLE_THREADS
                                                  : (size_t)p->threads;
    if (n_parts > n)
        n_parts = n ? n : 1;
    gr_buf head = { 0 };
    uint8_t **first = NULL;
    table_part *parts = NULL;
    gr_status st = check_pgs(p, err);
    if (st || (st = check_ids(p, err)))
        goto fail;
    first = p->format == GR_API_FORMAT_SSCORE ? first_uses(p) : NULL;
    parts = table_parts_new(p, first, n_parts);
    if (!parts || (p->format == GR_API_FORMAT_SSCORE && !first)) {
        st = oom(err);
        goto fail;
    }
    if ((st = table_head(p, &head, err)) || (st = put(write, arg, head.s, head.len, err)))
        goto fail;
    for (size_t lo = 0; lo < n && !st; lo += TABLE_BLOCK) {
        if (p->jobs[0].stop && p->jobs[0].stop(p->jobs[0].stop_arg)) {
            st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "stopped");
            break;
        }
        st = table_block(parts, n_parts, lo, lo + TABLE_BLOCK < n ? lo + TABLE_BLOCK : n, err);
        for (size_t t = 0; t < n_parts; t++) {
            if (!st && parts[t].b.len)
                st = put(write, arg, parts[t].b.s, parts[t].b.len, err);
            parts[t].b.len = 0;
        }
    }

fail:
    table_parts_free(parts, n_parts, p->n);
    for (size_t k = 0; first && k < p->n; k++)
        free(first[k]);
    free(first);
    free(head.s);
    return st;
}

gr_status gr_api_panel_write(const gr_api_panel *p, json_t *extra, gr_api_write_fn write, void *arg,
                             gr_error *err)
{
    for (size_t k = 0; k < p->n; k++) {
        gr_status st = gr_api_job_check(&p->jobs[k], NULL, err);
        if (st)
            return st;
    }
    if (p->format == GR_API_FORMAT_JSON)
        return write_json(p, extra, write, arg, err);
    if (p->format == GR_API_FORMAT_HTML || p->format == GR_API_FORMAT_SVG)
        return write_report(p, write, arg, err);
    return write_table(p, write, arg, err);
}

gr_status gr_api_variant_log_write(const gr_api_panel *p, gr_api_write_fn write, void *arg,
                                   gr_error *err)
{
    gr_buf b = { 0 };
    gr_status st = GR_OK;
    int bad = gr_buf_printf(&b, "model\tfeature\tchrom\tpos\teffect_allele\tother_allele\tstatus\t"
                                "match\tambiguous\tmultiallelic\trecord\treason\n");
    for (size_t k = 0; k < p->n && !bad && !st; k++) {
        const gr_api_job *job = &p->jobs[k];
        size_t nf = job->vcf ? gr_model_get_info(job->m)->n_features : 0;
        for (size_t j = 0; j < nf && !bad && !st; j++) {
            variant_fields v;
            variant_of(job, j, &v);
            bad = gr_buf_printf(&b, "%s\t%s\t%s\t%lld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
                                gr_model_get_info(job->m)->name, v.ft->id, v.ft->chrom,
                                (long long)v.ft->pos, v.ft->alt, v.ft->ref, v.status, v.match,
                                v.ambiguous ? "true" : "false", v.multiallelic ? "true" : "false",
                                v.record, v.reason);
            if (!bad && b.len >= 65536) {
                st = put(write, arg, b.s, b.len, err);
                b.len = 0;
            }
        }
    }
    if (bad)
        st = oom(err);
    else if (!st)
        st = put(write, arg, b.s, b.len, err);
    free(b.s);
    return st;
}
