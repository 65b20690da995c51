/* genorisk.c - the offline command-line front end: predict from a JSON file,
 * validate and show model bundles. Prints the same JSON as the HTTP API.
 * Exit codes: 0 ok, 1 internal or output error, 2 usage, 3 bad model, 4 bad input. */
#include <errno.h>
#include <getopt.h>
#include <htslib/hts.h>
#include <jansson.h>
#include <pthread.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "api/adjust.h"
#include "api/predict_json.h"
#include "api/predict_panel.h"
#include "api/predict_place.h"
#include "api/predict_run.h"
#include "api/predict_vcf.h"
#include "core/model.h"
#include "core/reference.h"
#include "server/process.h"

enum { EXIT_USAGE = 2, EXIT_MODEL = 3, EXIT_INPUT = 4 };

static const char usage_main[] =
    "usage: genorisk <command> [options]\n"
    "\n"
    "Commands:\n"
    "  predict --model DIR --input FILE.json   risk scores and SHAP attributions\n"
    "  predict --model DIR --vcf FILE          the same for the samples of a VCF/BCF\n"
    "  models validate DIR...                  load each bundle, report what is wrong\n"
    "  models show DIR                         print a bundle's metadata as JSON\n"
    "  adjust --reference DIR --pcs FILE --scores FILE\n"
    "                                          scores computed elsewhere, read against a\n"
    "                                          reference population (pgsc_calc's columns)\n"
    "  report --model DIR (--input F | --vcf F) one sample's HTML report (or --svg)\n"
    "\n"
    "Options: --help, --version. 'genorisk <command> --help' for details.\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad model, 4 bad input.\n";

static const char usage_predict[] =
    "usage: genorisk predict --model DIR (--input FILE.json | --vcf FILE) [options]\n"
    "\n"
    "  -m, --model DIR      model bundle directory (holds manifest.json); repeat it to\n"
    "                       score a panel of models from one read of the input\n"
    "  -i, --input FILE     predict request JSON; '-' reads standard input\n"
    "      --vcf FILE       VCF or BCF (plain, gzip or BGZF); '-' reads standard input\n"
    "  -t, --threads N      threads (default 1): samples are split among them, a\n"
    "                       JSON input is read while the models load, and a text\n"
    "                       VCF is inflated and scanned by N workers (2 when N is\n"
    "                       1, as bgzip -@2)\n"
    "  -o, --output FILE    write the response there instead of standard output\n"
    "      --compact        one-line JSON instead of indented\n"
    "      --explain B      true|false: attributions or not (default: the request's, else true)\n"
    "      --top-k N        attributions per sample, 0 = all (default: the request's, else 10)\n"
    "      --group-by G     none|locus|gene: also sum the attributions of each locus or gene\n"
    "                       (features.tsv's locus/gene, a PGS file's locus_name) into the\n"
    "                       explanation's \"groups\", largest |value| first, top-k of them;\n"
    "                       a variant naming none is a group of its own, named by its id;\n"
    "                       a model naming no locus (gene) at all is refused (exit 2)\n"
    "      --impute M       none|mean|cohort: what a missing genotype becomes (default: the\n"
    "                       policy's, else the model's; none for xgboost-json)\n"
    "      --format F       json|sscore|tsv|html|svg: the answer as JSON, plink2's .sscore,\n"
    "                       pgsc_calc's long table (sscore and tsv: PGS models), or one\n"
    "                       sample's HTML report or SVG attribution waterfall\n"
    "      --reference DIR  read scores against this reference population instead of\n"
    "                       the one the manifest names (docs/population.md)\n"
    "      --sampleset NAME the tsv format's first column (default cohort)\n"
    "Matching policy (docs/vcf-matching.md, \"Matching policy\"; default: the model's,\n"
    "pgsc for PGS Catalog files, trained for the rest):\n"
    "      --policy P       pgsc|plink2|trained: a whole set of the rules below\n"
    "      --ambiguous A    drop|keep: A/T and C/G SNVs\n"
    "      --multiallelic A drop|keep: matches in records with several ALTs\n"
    "      --chrx X         skip|double: chrX not scored, or haploid calls count double\n"
    "      --min-overlap F  least share of a model's variants matched (default: the\n"
    "                       model's min_coverage, 0.75)\n"
    "      --variant-log FILE  write each variant's match (TSV) there (VCF input)\n"
    "      --allow-low-coverage  score samples below the model's min_coverage too; without it\n"
    "                       such a sample gets an \"error\" instead of a score (exit 4 when\n"
    "                       no sample could be scored)\n"
    "VCF options (docs/vcf-matching.md):\n"
    "      --sample ID      score this sample (repeatable; default every sample)\n"
    "      --absent A       missing|ref: what a variant the VCF does not list is (missing)\n"
    "      --genotype G     auto|gt|ds: where dosages come from (auto: DS when declared)\n"
    "      --filter F       pass|any: skip records failing FILTER, or not (pass)\n"
    "      --no-index       read the whole file even when it has a .csi or .tbi index\n"
    "                       (by default only the score's regions are read; an rsID\n"
    "                       matched at another position is then found only this way)\n"
    "\n"
    "Request: {\"samples\": [{\"id\": \"P001\", \"genotypes\": {\"rs123\": 2, \"rs456\": "
    "\"A/G\", \"1:12345:A:G\": \"0/1\"}}],\n"
    "          \"explain\": true, \"top_k\": 10}  (docs/predict-json.md)\n";

static const char usage_adjust[] =
    "usage: genorisk adjust --reference DIR --pcs FILE --scores FILE [options]\n"
    "\n"
    "Reads polygenic scores computed elsewhere against a reference population, as\n"
    "pgsc_calc's --run_ancestry does (docs/population.md).\n"
    "\n"
    "  -r, --reference DIR  reference bundle (reference.json; tools/make_reference.py)\n"
    "      --pcs FILE       the samples' PCs: FRAPOSA's FID IID PC1.. or plink2's\n"
    "                       #FID IID PC1.. (.eigenvec); plain or gzip\n"
    "      --scores FILE    pgsc_calc's long format: sampleset FID IID PGS SUM ...\n"
    "      --sampleset NAME adjust this sampleset's rows (default: all but \"reference\")\n"
    "  -o, --output FILE    write there instead of standard output\n"
    "      --similarity FILE  also write each sample's PCs, RF_P_* and MostSimilarPop\n"
    "                       (pgsc_calc's popsimilarity columns)\n"
    "\n"
    "Output (tab-separated): sampleset FID IID PGS SUM MostSimilarPop\n"
    "percentile_MostSimilarPop Z_MostSimilarPop Z_norm1 Z_norm2\n";

static const char usage_models[] =
    "usage: genorisk models validate DIR...  (model or reference bundles)\n"
    "       genorisk models show DIR\n";

/* What went wrong decides the exit code: while loading a model anything but
 * memory is a bad model; while reading a request, a bad input. */
static int exit_for(gr_status st, int loading_model)
{
    if (st == GR_OK)
        return 0;
    if (st == GR_ENOMEM || st == GR_EINVAL)
        return 1;
    return loading_model ? EXIT_MODEL : EXIT_INPUT;
}

static void print_error(const char *what, const gr_error *err)
{
    char buf[1200];
    fprintf(stderr, "genorisk: %s%s%s\n", what ? what : "", what ? ": " : "",
            gr_error_format(err, buf, sizeof buf));
}

/* ---- predict ---- */

/* What `genorisk predict` was asked to do. */
typedef struct {
    const char **model_dirs; /* --model, repeatable (owned array) */
    size_t n_models;
    const char *input, *output, *vcf_path, *variant_log, *sampleset;
    const char *reference; /* --reference: every model's, in place of its manifest's */
    gr_api_format format;
    long threads;
    int compact, vcf_flags, no_index;
    gr_api_settings given; /* --explain, --top-k, --impute, --allow-low-coverage */
    gr_vcf_options vopt;
    const char **samples; /* --sample, repeatable (owned array) */
    size_t n_samples;
} predict_args;

/* Parses the flags into a; returns -1 to go on, else the exit code. */
static int parse_predict_flags(int argc, char **argv, predict_args *a)
{
    static const struct option opts[] = { { "model", required_argument, NULL, 'm' },
                                          { "input", required_argument, NULL, 'i' },
                                          { "threads", required_argument, NULL, 't' },
                                          { "output", required_argument, NULL, 'o' },
                                          { "compact", no_argument, NULL, 'c' },
                                          { "help", no_argument, NULL, 'h' },
                                          { "version", no_argument, NULL, 'V' },
                                          { "vcf", required_argument, NULL, 'v' },
                                          { "sample", required_argument, NULL, 's' },
                                          { "absent", required_argument, NULL, 'a' },
                                          { "genotype", required_argument, NULL, 'g' },
                                          { "filter", required_argument, NULL, 'f' },
                                          { "allow-low-coverage", no_argument, NULL, 'L' },
                                          { "explain", required_argument, NULL, 'e' },
                                          { "top-k", required_argument, NULL, 'k' },
                                          { "impute", required_argument, NULL, 'I' },
                                          { "policy", required_argument, NULL, 'P' },
                                          { "ambiguous", required_argument, NULL, 'A' },
                                          { "multiallelic", required_argument, NULL, 'M' },
                                          { "chrx", required_argument, NULL, 'X' },
                                          { "min-overlap", required_argument, NULL, 'O' },
                                          { "format", required_argument, NULL, 'F' },
                                          { "variant-log", required_argument, NULL, 'G' },
                                          { "sampleset", required_argument, NULL, 'S' },
                                          { "no-index", no_argument, NULL, 'N' },
                                          { "reference", required_argument, NULL, 'R' },
                                          { "group-by", required_argument, NULL, 'B' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    char why[240];
    a->threads = 1;
    a->given = gr_api_settings_unset();
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': {
            const char **more = realloc(a->model_dirs, (a->n_models + 1) * sizeof *more);
            if (!more) {
                fprintf(stderr, "genorisk: out of memory\n");
                return 1;
            }
            a->model_dirs = more;
            a->model_dirs[a->n_models++] = optarg;
            break;
        }
        case 'F':
            if (!gr_api_format_parse(optarg, &a->format)) {
                fprintf(stderr, "genorisk: --format: '%s' is not one of json, sscore, tsv\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'G': a->variant_log = optarg; break;
        case 'S': a->sampleset = optarg; break;
        case 'R': a->reference = optarg; break;
        case 'i': a->input = optarg; break;
        case 'o': a->output = optarg; break;
        case 'c': a->compact = 1; break;
        case 't': {
            char *end;
            a->threads = strtol(optarg, &end, 10);
            if (*end || a->threads < 1 || a->threads > 256) {
                fprintf(stderr, "genorisk: --threads must be a number from 1 to 256\n");
                return EXIT_USAGE;
            }
            break;
        }
        case 'v': a->vcf_path = optarg; break;
        case 'N': a->no_index = a->vcf_flags = 1; break;
        case 'L': a->given.allow_low_coverage = 1; break;
        case 's': {
            const char **more = realloc(a->samples, (a->n_samples + 1) * sizeof *more);
            if (!more) {
                fprintf(stderr, "genorisk: out of memory\n");
                return 1;
            }
            a->samples = more;
            a->samples[a->n_samples++] = optarg;
            break;
        }
        case 'a':
        case 'g':
        case 'f':
            a->vcf_flags = 1;
            if ((c == 'a' && !gr_api_parse_absent(optarg, &a->vopt.absent)) ||
                (c == 'g' && !gr_api_parse_genotype(optarg, &a->vopt.genotype)) ||
                (c == 'f' && !gr_api_parse_filter(optarg, &a->vopt.filter_any))) {
                fprintf(stderr, "genorisk: --%s: '%s' is not one of %s\n",
                        c == 'a'   ? "absent"
                        : c == 'g' ? "genotype"
                                   : "filter",
                        optarg,
                        c == 'a'   ? "missing, ref"
                        : c == 'g' ? "auto, gt, ds"
                                   : "pass, any");
                return EXIT_USAGE;
            }
            break;
        case 'e':
        case 'k':
        case 'I':
        case 'P':
        case 'A':
        case 'M':
        case 'X':
        case 'B':
        case 'O': {
            /* the query parameters' rules, so the CLI and the daemon agree */
            const char *key = c == 'e'   ? "explain"
                              : c == 'k' ? "top_k"
                              : c == 'I' ? "impute"
                              : c == 'P' ? "policy"
                              : c == 'A' ? "ambiguous"
                              : c == 'M' ? "multiallelic"
                              : c == 'X' ? "chrx"
                              : c == 'B' ? "group_by"
                                         : "min_overlap";
            if (gr_api_setting_parse(&a->given, key, optarg, why, sizeof why) != 1) {
                fprintf(stderr, "genorisk: --%s: %s\n",
                        c == 'k'   ? "top-k"
                        : c == 'O' ? "min-overlap"
                        : c == 'B' ? "group-by"
                                   : key,
                        why);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h': fputs(usage_predict, stdout); return 0;
        case 'V': printf("genorisk %s\n", GR_VERSION); return 0;
        default: fputs(usage_predict, stderr); return EXIT_USAGE;
        }
    }
    if (!a->n_models || !a->input == !a->vcf_path || optind != argc) {
        fprintf(stderr, "genorisk: predict needs --model and one of --input or --vcf%s\n\n%s",
                optind != argc ? ", and no other arguments" : "", usage_predict);
        return EXIT_USAGE;
    }
    if (!a->vcf_path && (a->n_samples || a->vcf_flags || a->variant_log || a->no_index)) {
        fprintf(
            stderr,
            "genorisk: --sample, --absent, --genotype, --filter, --variant-log and --no-index go "
            "with --vcf\n");
        return EXIT_USAGE;
    }
    return -1;
}

/* Reads the VCF for the total models ms (the n asked for, each under the
 * policy the flags resolve for it, then the variant sets that place
 * samples, as trained) into *vcf; returns an exit code (0 ok). */
static int load_vcf(const gr_model **ms, size_t n, size_t total, predict_args *a,
                    gr_vcf_result **vcf)
{
    gr_error err;
    int from_stdin = !strcmp(a->vcf_path, "-");
    gr_vcf_model *vm = calloc(total, sizeof *vm);
    gr_policy *pol = calloc(total, sizeof *pol);
    if (!vm || !pol) {
        free(vm);
        free(pol);
        fprintf(stderr, "genorisk: out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < total; k++) {
        gr_impute unused;
        gr_api_resolve_policy(ms[k], k < n ? &a->given : NULL, &pol[k], &unused);
        vm[k] = (gr_vcf_model){ ms[k], &pol[k] };
    }
    a->vopt.keep_records = a->variant_log != NULL;
    a->vopt.samples = a->samples;
    a->vopt.n_samples = a->n_samples;
    /* two inflating workers even at --threads 1: the reading thread mostly
     * waits for them, and a lone caller did all of it at half the speed */
    a->vopt.threads = a->threads > 1 ? (int)a->threads : 2;
    /* offline, a header of any size is read, but a file's header is still
     * measured first, for the IDX claims htslib would size its tables by (a
     * pipe cannot be read twice, so stdin is not) */
    a->vopt.max_header = from_stdin ? 0 : (size_t)1 << 30; /* no real header comes near */
    a->vopt.use_index = !from_stdin && !a->no_index;
    gr_status st = gr_vcf_read_models(vm, total, from_stdin ? "<stdin>" : a->vcf_path,
                                      from_stdin ? dup(0) : -1, &a->vopt, vcf, &err);
    free(vm);
    free(pol);
    if (st)
        print_error(NULL, &err);
    return exit_for(st, 0);
}

/* Reads all of f into *buf (new); 0 on success, else errno. A regular
 * file is read into a buffer of its size (one copy, no regrowth); a pipe,
 * or a file that grows while it is read, doubles the buffer as it comes. */
static int slurp(FILE *f, char **buf, size_t *len)
{
    struct stat sb;
    size_t cap = 1 << 16, n = 0;
    if (!fstat(fileno(f), &sb) && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (uint64_t)sb.st_size < SIZE_MAX / 4)
        cap = (size_t)sb.st_size + 1; /* +1: end of file is seen without a regrowth */
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *more = cap < SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
        if (!more) {
            free(b);
            b = NULL;
            break;
        }
        b = more;
        cap *= 2;
    }
    if (!b)
        return ENOMEM;
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(b);
        return e;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* The JSON request, read whole and walked (gr_api_body_walk: its samples
 * delimited, which needs no model), on a thread of its own while the models
 * load when more than one thread is asked for, else on the caller when it
 * is needed. On the thread, the samples are read too, for each model that
 * has a features file, against the model's features alone
 * (gr_model_load_features: all that reading needs); load_json keeps what
 * was read for each model whose features prove the same once it has
 * loaded, and reads the others again. Offline the whole file is read,
 * whatever its size (the daemon bounds bodies by --max-body-bytes). */
typedef struct {
    const char *path;        /* "-" for standard input (borrowed) */
    const char *const *dirs; /* the models' bundles, n_dirs of them (borrowed) */
    size_t n_dirs;           /* 0: the samples are read after the models load */
    int threads;             /* the early reads' */
    char *text;              /* new, once read */
    size_t len;
    int read_errno;    /* 0, or why it could not be read */
    gr_api_body *body; /* new, once walked */
    gr_status st;      /* the walk's */
    gr_error err;
    struct early_read {
        gr_model *features; /* the bundle's features alone, or NULL (owned) */
        int read;           /* req and st hold the samples read against it */
        gr_api_request req; /* (owned) */
        gr_status st;
        gr_error err;
    } * early;   /* [n_dirs] */
    int started; /* on its thread, not joined yet */
    int done;
    pthread_t tid;
} json_input;

/* Reads the samples for each model against its features alone, in order,
 * until one fails: the models loading meanwhile are the ones to say why. */
static void read_early(json_input *in)
{
    for (size_t k = 0; k < in->n_dirs; k++) {
        struct early_read *e = &in->early[k];
        if (gr_model_load_features(in->dirs[k], &e->features, &e->err))
            continue; /* a PGS bundle, or an error the whole load will give */
        e->read = 1;
        e->st = gr_api_request_read_body(e->features, in->body, in->threads, &e->req, &e->err);
        if (e->st)
            break;
    }
}

static void *input_read(void *arg)
{
    json_input *in = arg;
    FILE *f = strcmp(in->path, "-") ? fopen(in->path, "rb") : stdin;
    in->read_errno = f ? slurp(f, &in->text, &in->len) : errno;
    if (f && f != stdin)
        fclose(f);
    if (!in->read_errno)
        in->st = gr_api_body_walk(in->text, in->len, NULL, 1, &in->body, &in->err);
    if (!in->read_errno && !in->st)
        read_early(in);
    return NULL;
}

/* Reads, walks and reads early the input on a thread of its own, for the
 * n models in dirs (on the caller, later, as when it is not started, when
 * no thread can start or memory runs out). */
static void input_start(json_input *in, const char *const *dirs, size_t n)
{
    if (!(in->early = calloc(n, sizeof *in->early)))
        return;
    in->dirs = dirs;
    in->n_dirs = n;
    in->started = !pthread_create(&in->tid, NULL, input_read, in);
    if (!in->started)
        in->n_dirs = 0;
}

/* The input, read and walked: waits for its thread, or does it now, once. */
static void input_wait(json_input *in)
{
    if (in->started)
        pthread_join(in->tid, NULL);
    else if (!in->done)
        input_read(in);
    in->started = 0;
    in->done = 1;
}

static void input_clear(json_input *in)
{
    if (in->started)
        input_wait(in);
    for (size_t k = 0; in->early && k < in->n_dirs; k++) {
        gr_api_request_clear(&in->early[k].req);
        gr_model_free(in->early[k].features);
    }
    free(in->early);
    gr_api_body_free(in->body);
    free(in->text);
    memset(in, 0, sizeof *in);
}

/* The request for model k of in (loaded: m): the one read early when m
 * reads input as its features alone did, else read now. */
static gr_status read_for(json_input *in, size_t k, const gr_model *m, int threads,
                          gr_api_request *req, gr_error *err)
{
    struct early_read *e = k < in->n_dirs ? &in->early[k] : NULL;
    if (e && e->read && gr_model_same_features(e->features, m)) {
        *req = e->req;
        memset(&e->req, 0, sizeof e->req);
        if (e->st)
            *err = e->err;
        return e->st;
    }
    return gr_api_request_read_body(m, in->body, threads, req, err);
}

/* Parses the JSON request (in) for each of the n models into reqs[0 .. n),
 * and for each variant set after them (usable[k] 0 when the body names none
 * of it); returns an exit code. */
static int load_json(const gr_model **ms, size_t n, size_t total, json_input *in, int threads,
                     gr_api_request *reqs, uint8_t *usable)
{
    const char *name = strcmp(in->path, "-") ? in->path : "<stdin>";
    input_wait(in);
    gr_error err = in->err;
    gr_status st = in->st;
    if (in->read_errno == ENOMEM) {
        fprintf(stderr, "genorisk: out of memory\n");
        return 1;
    }
    if (in->read_errno) {
        fprintf(stderr, "genorisk: cannot read input: %s: %s\n", name, strerror(in->read_errno));
        return EXIT_INPUT;
    }
    /* walked once; its genotype keys name each model's variants, so each
     * model reads the samples */
    for (size_t k = 0; k < n && !st; k++)
        st = read_for(in, k, ms[k], threads, &reqs[k], &err);
    for (size_t k = n; k < total && !st; k++)
        st = gr_api_place_read_json(ms[k], in->text, in->len, NULL, &reqs[k], &usable[k], &err);
    input_clear(in);
    if (st == GR_ESYNTAX) {
        fprintf(stderr, "genorisk: %s: invalid JSON at %s\n", name, err.text);
        return EXIT_INPUT;
    }
    if (st) {
        snprintf(err.source, sizeof err.source, "%s", name);
        print_error(NULL, &err);
    }
    return exit_for(st, 0);
}

static int to_file(void *arg, const char *bytes, size_t n)
{
    return fwrite(bytes, 1, n, arg) != n;
}

/* Predicts the job on a.threads threads (gr_api_predict_write_threads)
 * and writes the response to out; extra's members (borrowed) close it. */
static gr_status write_response(const gr_api_job *job, const predict_args *a, json_t *extra,
                                FILE *out, gr_error *err)
{
    gr_status st =
        gr_api_predict_write_threads(job, !a->compact, (int)a->threads, extra, to_file, out, err);
    if (!st && (fputc('\n', out) == EOF || fflush(out)))
        st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "the response could not be written");
    return st;
}

/* The answer: one model's JSON on a.threads threads, or the panel's (or a
 * table) on the caller; then the variant log when asked for. */
static gr_status answer(gr_api_job *jobs, size_t n, const predict_args *a, FILE *out, gr_error *err)
{
    gr_api_panel panel = { jobs, n, a->format, a->sampleset, !a->compact, 0, 0, (int)a->threads };
    gr_status st;
    if (n == 1 && a->format == GR_API_FORMAT_JSON) {
        json_t *extra = json_object(), *report = gr_api_match_report(&jobs[0], 0);
        st = !extra || (jobs[0].vcf && (!report || json_object_set(extra, "match", report)))
                 ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
                 : write_response(&jobs[0], a, extra, out, err);
        json_decref(report);
        json_decref(extra);
    } else {
        st = gr_api_panel_write(&panel, NULL, to_file, out, err);
        if (!st && fflush(out))
            st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "the response could not be written");
    }
    if (st || !a->variant_log)
        return st;
    FILE *log = fopen(a->variant_log, "w");
    if (!log)
        return gr_error_set(err, GR_EIO, NULL, 0, NULL, "cannot write the variant log %s",
                            a->variant_log);
    st = gr_api_variant_log_write(&panel, to_file, log, err);
    if (fclose(log) && !st)
        st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "cannot write the variant log %s",
                          a->variant_log);
    return st;
}

/* Loads every --model; returns an exit code (0 ok). */
/* --reference DIR: m's scores are read against DIR's population. */
static gr_status attach_reference(gr_model *m, const char *dir, gr_error *err)
{
    gr_reference *r = NULL;
    gr_status st = gr_reference_load(dir, &r, err);
    return st ? st : gr_model_set_reference(m, r, err);
}

static int load_models(const predict_args *a, gr_model **ms)
{
    gr_error err;
    for (size_t k = 0; k < a->n_models; k++) {
        gr_status st = gr_model_load_threads(a->model_dirs[k], (int)a->threads, &ms[k], &err);
        if (st) {
            print_error("cannot load model", &err);
            return exit_for(st, 1);
        }
        for (size_t j = 0; j < k; j++)
            if (!strcmp(gr_model_get_info(ms[j])->name, gr_model_get_info(ms[k])->name)) {
                fprintf(stderr,
                        "genorisk: model %s is named twice (%s, %s); each model of a panel "
                        "once\n",
                        gr_model_get_info(ms[k])->name, a->model_dirs[j], a->model_dirs[k]);
                return EXIT_USAGE;
            }
        if (k && strcmp(gr_model_get_info(ms[k])->genome_build,
                        gr_model_get_info(ms[0])->genome_build)) {
            fprintf(stderr,
                    "genorisk: models %s and %s are on different genome builds; a panel "
                    "scores one input, on one build\n",
                    gr_model_get_info(ms[0])->name, gr_model_get_info(ms[k])->name);
            return EXIT_USAGE;
        }
        char why[320];
        if (!gr_api_group_by_ok(ms[k], &a->given, why, sizeof why)) {
            fprintf(stderr, "genorisk: --group-by: %s\n", why);
            return EXIT_USAGE;
        }
        if (a->reference && (st = attach_reference(ms[k], a->reference, &err))) {
            print_error("--reference", &err);
            return exit_for(st, 1);
        }
    }
    return 0;
}

static int cmd_predict(int argc, char **argv)
{
    predict_args a = { 0 };
    gr_model **ms = NULL;
    gr_api_request *reqs = NULL;
    gr_api_job *jobs = NULL;
    const gr_model **all = NULL; /* the models, then the variant sets that place samples */
    uint8_t *usable = NULL;
    size_t total = 0;
    gr_vcf_result *vcf = NULL;
    FILE *out = NULL;
    gr_error err;
    int rc = parse_predict_flags(argc, argv, &a);
    json_input in = { .path = a.input, .threads = (int)a.threads };
    if (rc >= 0)
        goto done;
    size_t n = a.n_models;
    ms = calloc(n, sizeof *ms);
    reqs = calloc(2 * n, sizeof *reqs);
    jobs = calloc(2 * n, sizeof *jobs);
    all = calloc(2 * n, sizeof *all);
    usable = calloc(2 * n, 1);
    if (!ms || !reqs || !jobs || !all || !usable) {
        fprintf(stderr, "genorisk: out of memory\n");
        rc = 1;
        goto done;
    }
    if (a.input && a.threads > 1)
        input_start(&in, (const char *const *)a.model_dirs, a.n_models);
    rc = load_models(&a, ms);
    if (in.started) /* the models' errors come first, as when read in turn */
        input_wait(&in);
    if (rc)
        goto done;
    total = gr_api_read_list((const gr_model *const *)ms, n, all);
    if (a.vcf_path && (rc = load_vcf(all, n, total, &a, &vcf)))
        goto done;
    if (!a.vcf_path && (rc = load_json(all, n, total, &in, (int)a.threads, reqs, usable)))
        goto done;
    out = a.output ? fopen(a.output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "genorisk: cannot write %s: %s\n", a.output, strerror(errno));
        rc = 1;
        goto done;
    }
    /* only a regular file is ours to remove if the answer fails: --output
     * /dev/null (or a FIFO, or a link to one) must survive a failed run */
    struct stat os;
    int regular = a.output && fstat(fileno(out), &os) == 0 && S_ISREG(os.st_mode);
    for (size_t k = 0; k < total; k++) {
        gr_api_job_init(&jobs[k], all[k], a.vcf_path ? NULL : &reqs[k], vcf,
                        k < n ? &a.given : NULL);
        if (vcf)
            gr_api_job_set_vcf_model(&jobs[k], k);
    }
    gr_api_bind_places(jobs, all, n, total, vcf ? NULL : usable);
    gr_status st = answer(jobs, n, &a, out, &err);
    if (out != stdout && fclose(out) && !st)
        st = gr_error_set(&err, GR_EIO, NULL, 0, NULL, "the response could not be written");
    out = NULL;
    if (st == GR_EIO) {
        fprintf(stderr, "genorisk: cannot write %s: %s\n", a.output ? a.output : "<stdout>",
                strerror(errno));
        rc = 1;
    } else if (st) {
        const char *source = a.vcf_path ? a.vcf_path : a.input;
        snprintf(err.source, sizeof err.source, "%s", strcmp(source, "-") ? source : "<stdin>");
        print_error(NULL, &err);
        rc = exit_for(st, 0);
    }
    if (rc && regular) /* no half-written answer left behind */
        unlink(a.output);

done:
    input_clear(&in);
    if (out && out != stdout)
        fclose(out);
    for (size_t k = 0; k < total && reqs; k++)
        gr_api_request_clear(&reqs[k]);
    for (size_t k = 0; k < a.n_models && ms; k++)
        gr_model_free(ms[k]);
    gr_vcf_result_free(vcf);
    free(a.samples);
    free(a.model_dirs);
    free(ms);
    free(reqs);
    free(jobs);
    free(all);
    free(usable);
    return rc;
}

/* `genorisk report ARGS`: `genorisk predict --format html ARGS` (a
 * --format among ARGS, svg for one, comes later and wins). */
static int cmd_report(int argc, char **argv)
{
    char **v = calloc((size_t)argc + 3, sizeof *v);
    if (!v) {
        fprintf(stderr, "genorisk: out of memory\n");
        return 1;
    }
    v[0] = argv[0];
    v[1] = (char *)"--format";
    v[2] = (char *)"html";
    for (int i = 1; i < argc; i++)
        v[i + 2] = argv[i];
    int rc = cmd_predict(argc + 2, v);
    free(v);
    return rc;
}

/* ---- adjust ---- */

typedef struct {
    const char *reference, *pcs, *scores, *sampleset, *output, *similarity;
} adjust_args;

static int parse_adjust_flags(int argc, char **argv, adjust_args *a)
{
    static const struct option opts[] = { { "reference", required_argument, NULL, 'r' },
                                          { "pcs", required_argument, NULL, 'p' },
                                          { "scores", required_argument, NULL, 's' },
                                          { "sampleset", required_argument, NULL, 'S' },
                                          { "output", required_argument, NULL, 'o' },
                                          { "similarity", required_argument, NULL, 'y' },
                                          { "help", no_argument, NULL, 'h' },
                                          { "version", no_argument, NULL, 'V' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': a->reference = optarg; break;
        case 'p': a->pcs = optarg; break;
        case 's': a->scores = optarg; break;
        case 'S': a->sampleset = optarg; break;
        case 'o': a->output = optarg; break;
        case 'y': a->similarity = optarg; break;
        case 'h': fputs(usage_adjust, stdout); return 0;
        case 'V': printf("genorisk %s\n", GR_VERSION); return 0;
        default: fputs(usage_adjust, stderr); return EXIT_USAGE;
        }
    }
    if (!a->reference || !a->pcs || !a->scores || optind != argc) {
        fprintf(stderr, "genorisk: adjust needs --reference, --pcs and --scores%s\n\n%s",
                optind != argc ? ", and no other arguments" : "", usage_adjust);
        return EXIT_USAGE;
    }
    return -1;
}

/* Opens path for writing ("-" or NULL: standard output). */
static FILE *open_out(const char *path)
{
    return !path || !strcmp(path, "-") ? stdout : fopen(path, "w");
}

static int cmd_adjust(int argc, char **argv)
{
    adjust_args a = { 0 };
    gr_reference *ref = NULL;
    FILE *out = NULL, *sim = NULL;
    gr_error err;
    size_t rows = 0;
    int rc = parse_adjust_flags(argc, argv, &a);
    if (rc >= 0)
        return rc;
    rc = 0; /* -1 meant "go on"; it must not become the exit status */
    gr_status st = gr_reference_load(a.reference, &ref, &err);
    if (st) {
        print_error("cannot load reference", &err);
        return exit_for(st, 1);
    }
    if (!(out = open_out(a.output)) || (a.similarity && !(sim = open_out(a.similarity)))) {
        fprintf(stderr, "genorisk: cannot write %s: %s\n", out ? a.similarity : a.output,
                strerror(errno));
        rc = 1;
        goto done;
    }
    gr_api_adjust_args args = {
        ref, a.pcs, a.scores, a.sampleset, to_file, out, sim ? to_file : NULL, sim
    };
    st = gr_api_adjust(&args, &rows, &err);
    if (!st && (fflush(out) || (sim && fflush(sim))))
        st = gr_error_set(&err, GR_EIO, NULL, 0, NULL, "the output could not be written");
    if (st) {
        print_error(NULL, &err);
        rc = exit_for(st, 0);
    }

done:
    if (out && out != stdout)
        fclose(out);
    if (sim && sim != stdout)
        fclose(sim);
    gr_reference_free(ref);
    return rc;
}

/* ---- models ---- */

/* A reference population bundle: reference.json and no manifest.json. */
static int is_reference_dir(const char *dir)
{
    char a[4096], b[4096];
    struct stat sb;
    snprintf(a, sizeof a, "%s/manifest.json", dir);
    snprintf(b, sizeof b, "%s/reference.json", dir);
    return stat(a, &sb) != 0 && stat(b, &sb) == 0;
}

/* `models validate` of one bundle: prints ok or FAIL; returns the exit code. */
static int validate_model(const char *dir)
{
    gr_model *m = NULL;
    gr_error err;
    char buf[1200];
    gr_status st = gr_model_load(dir, &m, &err);
    if (st) {
        printf("FAIL %s: %s\n", dir, gr_error_format(&err, buf, sizeof buf));
        return exit_for(st, 1);
    }
    const gr_model_info *in = gr_model_get_info(m);
    printf("ok   %s: %s %s, %s, %zu features\n", dir, in->name, in->version, in->algorithm,
           in->n_features);
    gr_model_free(m);
    return 0;
}

static int validate_reference(const char *dir)
{
    gr_reference *r = NULL;
    gr_error err;
    char buf[1200];
    gr_status st = gr_reference_load(dir, &r, &err);
    if (st) {
        printf("FAIL %s: %s\n", dir, gr_error_format(&err, buf, sizeof buf));
        return exit_for(st, 1);
    }
    const gr_reference_info *in = gr_reference_get_info(r);
    printf("ok   %s: reference population %s, %zu populations, %zu projection variants, %zu "
           "score%s\n",
           dir, in->name, in->n_populations, in->n_variants, in->n_scores,
           in->n_scores == 1 ? "" : "s");
    gr_reference_free(r);
    return 0;
}

static int cmd_models(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_models, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--version")) {
            printf("genorisk %s\n", GR_VERSION);
            return 0;
        }
    if (!strcmp(argv[1], "validate")) {
        if (argc < 3) {
            fputs(usage_models, stderr);
            return EXIT_USAGE;
        }
        int rc = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--help")) {
                fputs(usage_models, stdout);
                return 0;
            }
            int st =
                is_reference_dir(argv[i]) ? validate_reference(argv[i]) : validate_model(argv[i]);
            if (st && !rc)
                rc = st;
        }
        return rc;
    }
    if (!strcmp(argv[1], "show")) {
        if (argc != 3 || !strcmp(argv[2], "--help")) {
            fputs(usage_models, argc == 3 ? stdout : stderr);
            return argc == 3 ? 0 : EXIT_USAGE;
        }
        gr_model *m = NULL;
        gr_error err;
        gr_status st = gr_model_load(argv[2], &m, &err);
        if (st) {
            print_error("cannot load model", &err);
            return exit_for(st, 1);
        }
        json_t *o = gr_api_model_json(m, 1);
        json_object_set_new(o, "directory", json_string(gr_model_get_info(m)->dir));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        putchar('\n');
        json_decref(o);
        gr_model_free(m);
        return 0;
    }
    fprintf(stderr, "genorisk: unknown models command '%s'\n%s", argv[1], usage_models);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* Our own messages say what failed; htslib's stderr chatter would repeat it. */
    hts_set_log_level(HTS_LOG_OFF);
    /* Large buffers from their own mappings, always: glibc otherwise raises
     * the threshold to the largest one freed (a model's text, its tables),
     * and the tables grown after it (a forest's, a request's) come from the
     * heap, copied and faulted in again at each doubling. */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    char why[200];
    if (gr_process_no_core_dumps(why, sizeof why)) { /* genotypes are read into memory */
        fprintf(stderr, "genorisk: %s\n", why);
        return 1;
    }
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("genorisk %s\n", GR_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "predict"))
        return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(argv[1], "models"))
        return cmd_models(argc - 1, argv + 1);
    if (!strcmp(argv[1], "adjust"))
        return cmd_adjust(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report"))
        return cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "genorisk: unknown command '%s'\n\n%s", argv[1], usage_main);
    return EXIT_USAGE;
}
