/* genorisk.c - the offline command-line front end: predict from a JSON file,
 * validate and show model bundles. Prints the same JSON as the HTTP API.
 * Exit codes: 0 ok, 1 internal or output error, 2 usage, 3 bad model, 4 bad input. */
#include <errno.h>
#include <getopt.h>
#include <htslib/hts.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/predict_json.h"
#include "api/predict_vcf.h"
#include "core/model.h"

enum { EXIT_USAGE = 2, EXIT_MODEL = 3, EXIT_INPUT = 4 };

static const char usage_main[] =
    "usage: genorisk <command> [options]\n"
    "\n"
    "Commands:\n"
    "  predict --model DIR --input FILE.json   risk scores and SHAP attributions\n"
    "  predict --model DIR --vcf FILE          the same for the samples of a VCF/BCF\n"
    "  models validate DIR...                  load each bundle, report what is wrong\n"
    "  models show DIR                         print a bundle's metadata as JSON\n"
    "\n"
    "Options: --help, --version. 'genorisk <command> --help' for details.\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad model, 4 bad input.\n";

static const char usage_predict[] =
    "usage: genorisk predict --model DIR (--input FILE.json | --vcf FILE) [options]\n"
    "\n"
    "  -m, --model DIR      model bundle directory (holds manifest.json)\n"
    "  -i, --input FILE     predict request JSON; '-' reads standard input\n"
    "      --vcf FILE       VCF or BCF (plain, gzip or BGZF); '-' reads standard input\n"
    "  -t, --threads N      threads (default 1): samples are split among them, and a\n"
    "                       VCF is inflated and scanned by N workers when N > 1\n"
    "  -o, --output FILE    write the response there instead of standard output\n"
    "      --compact        one-line JSON instead of indented\n"
    "      --explain B      true|false: attributions or not (default: the request's, else true)\n"
    "      --top-k N        attributions per sample, 0 = all (default: the request's, else 10)\n"
    "VCF options (docs/vcf-matching.md):\n"
    "      --sample ID      score this sample (repeatable; default every sample)\n"
    "      --absent A       missing|ref: what a variant the VCF does not list is (missing)\n"
    "      --genotype G     auto|gt|ds: where dosages come from (auto: DS when declared)\n"
    "      --filter F       pass|any: skip records failing FILTER, or not (pass)\n"
    "      --allow-low-coverage  score samples below the model's min_coverage\n"
    "\n"
    "Request: {\"samples\": [{\"id\": \"P001\", \"genotypes\": {\"rs123\": 2, \"rs456\": \"0/1\"}}],\n"
    "          \"explain\": true, \"top_k\": 10}  (docs/predict-json.md)\n";

static const char usage_models[] =
    "usage: genorisk models validate DIR...\n"
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

typedef struct {
    const gr_model *m;
    const gr_api_request *req;  /* JSON input, or */
    const gr_vcf_result *vcf;   /* VCF input */
    const gr_api_output *out;
    int allow_low;
    size_t n;                   /* samples */
    json_t **results;
    gr_error *errs; /* one per sample slot that failed */
    gr_status *status;
    size_t first, step;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    size_t nf = gr_model_get_info(j->m)->n_features;
    gr_workspace *ws = gr_workspace_new(j->m);
    double *phi = malloc((nf ? nf : 1) * sizeof *phi);
    double *used = malloc((nf ? nf : 1) * sizeof *used);
    double *x = malloc((nf ? nf : 1) * sizeof *x);
    for (size_t i = j->first; i < j->n; i += j->step) {
        if (!ws || !phi || !used || !x) {
            j->status[i] = gr_error_set(&j->errs[i], GR_ENOMEM, NULL, 0, NULL, "out of memory");
            break;
        }
        if (j->vcf)
            j->status[i] = gr_api_vcf_result(j->m, ws, j->vcf, i, j->out, j->allow_low, x, phi,
                                             used, &j->results[i], &j->errs[i]);
        else
            j->status[i] = gr_api_predict_sample(j->m, ws, j->req, i, phi, used, &j->results[i],
                                                 &j->errs[i]);
        if (j->status[i])
            break;
    }
    gr_workspace_free(ws);
    free(phi);
    free(used);
    free(x);
    return NULL;
}

static int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        { "model", required_argument, NULL, 'm' },   { "input", required_argument, NULL, 'i' },
        { "threads", required_argument, NULL, 't' }, { "output", required_argument, NULL, 'o' },
        { "compact", no_argument, NULL, 'c' },       { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },       { "vcf", required_argument, NULL, 'v' },
        { "sample", required_argument, NULL, 's' },  { "absent", required_argument, NULL, 'a' },
        { "genotype", required_argument, NULL, 'g' }, { "filter", required_argument, NULL, 'f' },
        { "allow-low-coverage", no_argument, NULL, 'L' },
        { "explain", required_argument, NULL, 'e' }, { "top-k", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 }
    };
    const char *model_dir = NULL, *input = NULL, *output = NULL, *vcf_path = NULL;
    long threads = 1, top_k = -1;
    int compact = 0, c, rc = 0, explain = -1, allow_low = 0, vcf_flags = 0;
    gr_vcf_options vopt = { 0 };
    const char **samples = NULL;
    size_t n_samples = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'c': compact = 1; break;
        case 't': {
            char *end;
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 256) {
                fprintf(stderr, "genorisk: --threads must be a number from 1 to 256\n");
                return EXIT_USAGE;
            }
            break;
        }
        case 'v': vcf_path = optarg; break;
        case 'L': allow_low = 1; break;
        case 's': {
            const char **more = realloc(samples, (n_samples + 1) * sizeof *more);
            if (!more) {
                free(samples);
                fprintf(stderr, "genorisk: out of memory\n");
                return 1;
            }
            samples = more;
            samples[n_samples++] = optarg;
            break;
        }
        case 'a':
        case 'g':
        case 'f':
            vcf_flags = 1;
            if ((c == 'a' && !gr_api_parse_absent(optarg, &vopt.absent)) ||
                (c == 'g' && !gr_api_parse_genotype(optarg, &vopt.genotype)) ||
                (c == 'f' && !gr_api_parse_filter(optarg, &vopt.filter_any))) {
                fprintf(stderr, "genorisk: --%s: '%s' is not one of %s\n",
                        c == 'a' ? "absent" : c == 'g' ? "genotype" : "filter", optarg,
                        c == 'a' ? "missing, ref" : c == 'g' ? "auto, gt, ds" : "pass, any");
                free(samples);
                return EXIT_USAGE;
            }
            break;
        case 'e':
            if (strcmp(optarg, "true") && strcmp(optarg, "false")) {
                fprintf(stderr, "genorisk: --explain must be true or false\n");
                free(samples);
                return EXIT_USAGE;
            }
            explain = !strcmp(optarg, "true");
            break;
        case 'k': {
            char *end;
            top_k = strtol(optarg, &end, 10);
            if (*end || !*optarg || top_k < 0) {
                fprintf(stderr, "genorisk: --top-k must be a whole number >= 0\n");
                free(samples);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h': free(samples); fputs(usage_predict, stdout); return 0;
        case 'V': free(samples); printf("genorisk %s\n", GR_VERSION); return 0;
        default: free(samples); fputs(usage_predict, stderr); return EXIT_USAGE;
        }
    }
    if (!model_dir || !input == !vcf_path || optind != argc) {
        fprintf(stderr, "genorisk: predict needs --model and one of --input or --vcf%s\n\n%s",
                optind != argc ? ", and no other arguments" : "", usage_predict);
        free(samples);
        return EXIT_USAGE;
    }
    if (!vcf_path && (n_samples || allow_low || vcf_flags)) {
        fprintf(stderr, "genorisk: --sample, --absent, --genotype, --filter and "
                        "--allow-low-coverage go with --vcf\n");
        free(samples);
        return EXIT_USAGE;
    }

    gr_model *m = NULL;
    gr_api_request req = { 0 };
    size_t ns_alloc = 0;
    gr_vcf_result *vcf = NULL;
    json_t *warnings = NULL;
    gr_api_output outopt = { 1, GR_API_DEFAULT_TOP_K };
    const char *source = vcf_path ? vcf_path : input;
    gr_error err;
    json_t *body = NULL, *resp = NULL, *results = NULL, **slots = NULL;
    gr_error *errs = NULL;
    gr_status *status = NULL;
    pthread_t *tids = NULL;
    job *jobs = NULL;
    FILE *out = NULL;

    gr_status st = gr_model_load(model_dir, &m, &err);
    if (st) {
        print_error("cannot load model", &err);
        rc = exit_for(st, 1);
        goto done;
    }
    if (!strcmp(source, "-"))
        source = "<stdin>";
    size_t ns;
    if (vcf_path) {
        vopt.samples = samples;
        vopt.n_samples = n_samples;
        vopt.threads = threads > 1 ? (int)threads : 0;
        /* offline, a header of any size is read, but a file's header is
         * still measured first, for the IDX claims htslib would size its
         * tables by (a pipe cannot be read twice, so stdin is not) */
        vopt.max_header = strcmp(vcf_path, "-") ? SIZE_MAX : 0;
        st = gr_vcf_read(m, strcmp(vcf_path, "-") ? vcf_path : "<stdin>",
                         strcmp(vcf_path, "-") ? -1 : dup(0), &vopt, &vcf, &err);
        if (st) {
            print_error(NULL, &err);
            rc = exit_for(st, 0);
            goto done;
        }
        ns = vcf->n_samples;
        if (!(warnings = gr_api_vcf_warnings(vcf))) {
            fprintf(stderr, "genorisk: out of memory\n");
            rc = 1;
            goto done;
        }
        if (explain >= 0)
            outopt.explain = explain;
        if (top_k >= 0)
            outopt.top_k = top_k;
        goto run;
    }
    json_error_t je;
    errno = 0; /* jansson may go on past a failed allocation: see gr_api_json_loadb */
    body = strcmp(input, "-") ? json_load_file(input, JSON_REJECT_DUPLICATES, &je)
                              : json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
    if (errno == ENOMEM || (!body && json_error_code(&je) == json_error_out_of_memory)) {
        fprintf(stderr, "genorisk: out of memory\n");
        rc = 1;
        goto done;
    }
    if (!body) {
        char why[300];
        if (strstr(je.text, "unable to open"))
            fprintf(stderr, "genorisk: cannot read input: %s\n", je.text);
        else
            fprintf(stderr, "genorisk: %s: invalid JSON at %s\n",
                    strcmp(input, "-") ? input : "<stdin>", gr_api_json_error(&je, why, sizeof why));
        rc = EXIT_INPUT;
        goto done;
    }
    if ((st = gr_api_request_parse(m, body, NULL, &req, &err))) {
        snprintf(err.source, sizeof err.source, "%s", strcmp(input, "-") ? input : "<stdin>");
        print_error(NULL, &err);
        rc = exit_for(st, 0);
        goto done;
    }
    if (explain >= 0)
        req.explain = explain;
    if (top_k >= 0)
        req.top_k = top_k;
    ns = req.n_samples;
    warnings = json_incref(req.warnings);
run:
    if ((size_t)threads > ns)
        threads = (long)ns;
    slots = calloc(ns, sizeof *slots);
    ns_alloc = slots ? ns : 0;
    errs = calloc(ns, sizeof *errs);
    status = calloc(ns, sizeof *status);
    tids = calloc((size_t)threads, sizeof *tids);
    jobs = calloc((size_t)threads, sizeof *jobs);
    if (!slots || !errs || !status || !tids || !jobs) {
        fprintf(stderr, "genorisk: out of memory\n");
        rc = 1;
        goto done;
    }
    for (long t = 0; t < threads; t++) {
        jobs[t] = (job){ m, &req, vcf, &outopt, allow_low, ns, slots, errs, status, (size_t)t,
                         (size_t)threads };
        if (t > 0 && pthread_create(&tids[t], NULL, run_job, &jobs[t])) {
            jobs[t].step = 0; /* not started: run its share below */
        }
    }
    run_job(&jobs[0]);
    for (long t = 1; t < threads; t++) {
        if (jobs[t].step)
            pthread_join(tids[t], NULL);
        else {
            jobs[t].step = (size_t)threads;
            run_job(&jobs[t]);
        }
    }
    results = json_array();
    for (size_t i = 0; i < ns; i++) {
        if (status[i]) {
            snprintf(errs[i].source, sizeof errs[i].source, "%s", source);
            print_error(NULL, &errs[i]);
            rc = exit_for(status[i], 0);
            goto done;
        }
        int lost = json_array_append_new(results, slots[i]);
        slots[i] = NULL;
        if (lost) {
            fprintf(stderr, "genorisk: out of memory\n");
            rc = 1;
            goto done;
        }
    }
    resp = gr_api_response_new(m, results, warnings);
    results = NULL;
    if (!resp) {
        fprintf(stderr, "genorisk: out of memory\n");
        rc = 1;
        goto done;
    }
    out = output ? fopen(output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "genorisk: cannot write %s: %s\n", output, strerror(errno));
        rc = 1;
        goto done;
    }
    size_t flags = (compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_REAL_PRECISION(17);
    char *text = gr_api_json_dumps(resp, flags);
    if (!text) {
        fprintf(stderr, "genorisk: out of memory\n");
        rc = 1;
        goto done;
    }
    int failed = fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out);
    free(text);
    if (failed) {
        fprintf(stderr, "genorisk: cannot write %s: %s\n", output ? output : "<stdout>",
                strerror(errno));
        rc = 1;
    }

done:
    if (out && out != stdout && fclose(out) && !rc) {
        fprintf(stderr, "genorisk: cannot write %s: %s\n", output, strerror(errno));
        rc = 1;
    }
    if (slots)
        for (size_t i = 0; i < ns_alloc; i++)
            json_decref(slots[i]);
    free(slots);
    free(errs);
    free(status);
    free(tids);
    free(jobs);
    json_decref(results);
    json_decref(resp);
    json_decref(body);
    gr_api_request_clear(&req);
    gr_vcf_result_free(vcf);
    json_decref(warnings);
    free(samples);
    gr_model_free(m);
    return rc;
}

/* ---- models ---- */

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
            gr_model *m = NULL;
            gr_error err;
            gr_status st = gr_model_load(argv[i], &m, &err);
            if (st) {
                char buf[1200];
                printf("FAIL %s: %s\n", argv[i], gr_error_format(&err, buf, sizeof buf));
                if (!rc)
                    rc = exit_for(st, 1);
                continue;
            }
            const gr_model_info *in = gr_model_get_info(m);
            printf("ok   %s: %s %s, %s, %zu features\n", argv[i], in->name, in->version,
                   in->algorithm, in->n_features);
            gr_model_free(m);
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
    fprintf(stderr, "genorisk: unknown command '%s'\n\n%s", argv[1], usage_main);
    return EXIT_USAGE;
}
