/* test_pgs.c - PGS Catalog scoring files read natively: the real PGS000001
 * (plain and gzip), dominant/recessive terms and frequency imputation, and
 * malformed files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/lines.h"
#include "core/vcf.h"
#include "helpers.h"

static void check(const char *name)
{
    gr_model *m = fixture_model(name);
    fixture_cases fc;
    fixture_cases_load(name, &fc);
    gr_workspace *ws = gr_workspace_new(m);
    double *phi = malloc(fc.cols * sizeof *phi);
    for (size_t r = 0; r < fc.rows; r++) {
        gr_prediction p;
        cr_assert_eq(gr_predict(m, ws, fc.X + r * fc.cols, &p, phi, NULL, NULL), GR_OK);
        cr_assert(fabs(p.margin - fc.margin[r]) <= 1e-12 * fmax(1, fabs(fc.margin[r])),
                  "%s row %zu: %.17g vs %.17g", name, r, p.margin, fc.margin[r]);
        cr_assert_eq(p.score, p.margin);
        double sum = p.base_value;
        for (size_t j = 0; j < fc.cols; j++)
            sum += phi[j];
        cr_assert(fabs(sum - p.margin) <= 1e-12 * fmax(1, fabs(p.margin)));
    }
    free(phi);
    gr_workspace_free(ws);
    fixture_cases_free(&fc);
    gr_model_free(m);
}

Test(pgs, pgs000001_sums)
{
    check("pgs000001");
}
Test(pgs, dominant_recessive_and_frequencies)
{
    check("pgs_synth");
}

Test(pgs, pgs000001_metadata_and_features)
{
    gr_model *m = fixture_model("pgs000001");
    const gr_model_info *in = gr_model_get_info(m);
    cr_assert_eq(in->n_features, 77);
    cr_assert_str_eq(in->pgs_id, "PGS000001");
    cr_assert_eq(in->space, GR_SPACE_IDENTITY);
    const gr_feature *f = gr_model_feature(m, 0);
    cr_assert_str_eq(f->id, "rs78540526");
    cr_assert_str_eq(f->chrom, "11");
    cr_assert_eq(f->pos, 69516650);
    cr_assert_str_eq(f->alt, "T"); /* the effect allele is counted */
    cr_assert_str_eq(f->ref, "C");
    cr_assert(isnan(f->mean));
    cr_assert_eq(gr_model_find_feature(m, "rs78540526"), 0);
    cr_assert_eq(gr_model_find_feature(m, "chr11:69516650:C:T"), 0);
    cr_assert_eq(gr_model_find_feature(m, "11:69516650:T:C"), 0); /* swapped, as a VCF record */
    cr_assert_eq(gr_model_find_feature(m, "11:69516650:T:G"), -1);
    gr_model_free(m);
}

/* The scoring file's locus_name is each variant's locus, as the file
 * writes it (read here from the file itself); a scoring file has no gene. */
Test(pgs, locus_name_is_each_variant_s_locus)
{
    gr_model *m = fixture_model("pgs000001");
    char *text = read_text("tests/fixtures/pgs000001/PGS000001_hmPOS_GRCh38.txt");
    int col = -1;
    size_t row = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *cells[32];
        int n = 0;
        for (char *p = line; n < 32;) { /* cells may be empty: no strtok */
            cells[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (col < 0) {
            for (int c = 0; c < n; c++)
                if (!strcmp(cells[c], "locus_name"))
                    col = c;
            cr_assert_geq(col, 0, "the fixture has locus_name");
            continue;
        }
        const gr_feature *f = gr_model_feature(m, row++);
        cr_assert_not_null(f);
        cr_assert_str_eq(f->locus, cells[col], "row %zu", row);
        cr_assert_str_eq(f->gene, "");
    }
    cr_assert_eq(row, 77);
    cr_assert_str_eq(gr_model_feature(m, 0)->locus, "CCND1");
    cr_assert_eq(gr_model_feature(m, 0)->locus, gr_model_feature(m, 1)->locus,
                 "a locus repeated on the next row is stored once");
    cr_assert_eq(gr_model_get_info(m)->n_features_with_locus, 77);
    cr_assert_eq(gr_model_get_info(m)->n_features_with_gene, 0);
    free(text);
    gr_model_free(m);
}

static void with_file(const char *manifest_build, const char *file, gr_status st,
                      const char *needle)
{
    char manifest[512];
    snprintf(manifest, sizeof manifest,
             "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"pgs-catalog\","
             "\"artifact\":\"s.txt\",\"genome_build\":\"%s\"}",
             manifest_build);
    char *dir = temp_bundle("manifest.json", manifest, "s.txt", file, NULL);
    if (st == GR_OK) {
        gr_model *m = NULL;
        gr_error err;
        cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
        gr_model_free(m);
    } else {
        expect_load_error(dir, st, needle, NULL);
    }
    temp_bundle_free(dir);
}

#define HDR "#format_version=2.0\n#genome_build=GRCh37\n"

Test(pgs, genome_build_must_match_manifest)
{
    const char *f = HDR "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                        "1\t100\tA\tG\t0.1\n";
    with_file("GRCh37", f, GR_OK, NULL);
    with_file("GRCh38", f, GR_EMODEL, "on GRCh37 but the manifest says GRCh38");
    /* a byte-order mark does not hide the header's first line */
    const char *bom = "\xEF\xBB\xBF" HDR "chr_name\tchr_position\teffect_allele\tother_allele\t"
                      "effect_weight\n1\t100\tA\tG\t0.1\n";
    with_file("GRCh38", bom, GR_EMODEL, "on GRCh37 but the manifest says GRCh38");
}

Test(pgs, malformed_rows)
{
    with_file("GRCh37", HDR "chr_name\tchr_position\tother_allele\teffect_weight\n1\t1\tA\t1\n",
              GR_EMODEL, "lacks effect_allele");
    with_file("GRCh37", HDR "chr_name\tchr_position\teffect_allele\n1\t1\tA\n", GR_EMODEL,
              "effect_weight");
    with_file("GRCh37", HDR "chr_name\tchr_position\teffect_allele\teffect_weight\n1\tx\tA\t0.1\n",
              GR_EMODEL, "not a positive integer");
    with_file("GRCh37", HDR "chr_name\tchr_position\teffect_allele\teffect_weight\n1\t5\tA\tNaN\n",
              GR_EMODEL, "not a finite number");
    with_file("GRCh37", HDR "chr_name\tchr_position\teffect_allele\teffect_weight\n1\t5\tA\t-inf\n",
              GR_EMODEL, "not a finite number");
    with_file("GRCh37",
              HDR
              "chr_name\tchr_position\teffect_allele\teffect_weight\tis_dominant\tis_recessive\n"
              "1\t5\tA\t0.1\tTrue\tTrue\n",
              GR_EMODEL, "both dominant and recessive");
    with_file("GRCh37",
              HDR "chr_name\tchr_position\teffect_allele\teffect_weight\tallelefrequency_effect\n"
                  "1\t5\tA\t0.1\t1.5\n",
              GR_EMODEL, "not a frequency");
    with_file("GRCh37",
              HDR "chr_name\tchr_position\teffect_allele\teffect_weight\n1\t5\tA\t0.1\t9\n",
              GR_EMODEL, "5 columns, but the header has 4");
    with_file("GRCh37", HDR, GR_EMODEL, "no column header");
    with_file("GRCh37", HDR "chr_name\tchr_position\teffect_allele\teffect_weight\n", GR_EMODEL,
              "no variants");
    with_file("GRCh37", HDR "rsID\teffect_allele\teffect_weight\nrs1\tA\t0.1\nrs1\tA\t0.2\n",
              GR_EMODEL, "listed twice");
}

Test(pgs, duplicate_rsid_with_other_alleles_falls_back_to_locus_ids)
{
    const char *f = HDR "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                        "rs5\t1\t100\tA\tG\t0.1\n"
                        "rs5\t1\t100\tT\tG\t0.2\n";
    char *dir = temp_bundle("manifest.json",
                            "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\","
                            "\"format\":\"pgs-catalog\",\"artifact\":\"s.txt\","
                            "\"genome_build\":\"GRCh37\"}",
                            "s.txt", f, NULL);
    gr_model *m = NULL;
    cr_assert_eq(gr_model_load(dir, &m, NULL), GR_OK);
    cr_assert_str_eq(gr_model_feature(m, 0)->id, "rs5");
    cr_assert_str_eq(gr_model_feature(m, 1)->id, "1:100:G:T");
    /* rs5 is feature 0's id, and an id always names its own feature */
    cr_assert_eq(gr_model_find_feature(m, "rs5"), 0);
    cr_assert_eq(gr_model_find_feature(m, "1:100:G:T"), 1);
    gr_model_free(m);
    temp_bundle_free(dir);
}

Test(pgs, truncated_gzip_is_an_error)
{
    /* the fixture cut in half, by the shell: the bytes hold NULs */
    char *dir = temp_bundle("manifest.json",
                            "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\","
                            "\"format\":\"pgs-catalog\",\"artifact\":\"s.txt.gz\","
                            "\"genome_build\":\"GRCh38\"}",
                            NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "f=tests/fixtures/pgs_synth/pgs_synth.txt.gz; head -c $(( $(stat -c %%s $f) / 2 )) $f "
             "> %s/s.txt.gz",
             dir);
    cr_assert_eq(system(cmd), 0);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_neq(gr_model_load(dir, &m, &err), GR_OK);
    cr_assert_null(m);
    cr_assert_str_eq(err.source + strlen(err.source) - 8, "s.txt.gz");
    temp_bundle_free(dir);
}

/* A harmonized row whose hm_chr is empty (its harmonization failed) has no
 * position: a VCF can find it only by rsID, and the answer says so. */
Test(pgs, a_row_without_a_harmonized_position_is_found_by_rsid_with_a_warning)
{
    const char *f = "#format_version=2.0\n#genome_build=GRCh37\n#HmPOS_build=GRCh38\n"
                    "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\t"
                    "hm_rsID\thm_chr\thm_pos\n"
                    "rs1\t1\t100\tA\tG\t0.5\trs1\t1\t150\n"
                    "rs9\t1\t900\tT\tC\t1\trs9\t\t\n";
    const char *vcf = "##fileformat=VCFv4.2\n"
                      "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                      "1\t150\t.\tG\tA\t.\tPASS\t.\tGT\t0/1\n"
                      "1\t950\trs9\tC\tT\t.\tPASS\t.\tGT\t1/1\n";
    char *dir = temp_bundle("manifest.json",
                            "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\","
                            "\"format\":\"pgs-catalog\",\"artifact\":\"s.txt\","
                            "\"genome_build\":\"GRCh38\"}",
                            "s.txt", f, "in.vcf", vcf, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    cr_assert_eq(gr_model_feature(m, 1)->pos, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/in.vcf", dir);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = NULL;
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    double x[2];
    gr_vcf_sample_dosages(r, 0, x);
    cr_assert_float_eq(x[1], 2, 1e-9, "rs9 found by its rsID");
    int told = 0, elsewhere = 0;
    for (size_t i = 0; i < r->n_warnings; i++) {
        told |= strstr(r->warnings[i], "1 model variant has no position (an empty hm_chr") &&
                strstr(r->warnings[i], "only by rsID: 1 found");
        elsewhere |= strstr(r->warnings[i], "at another position") != NULL;
    }
    cr_assert(told && !elsewhere, "warnings: %zu", r->n_warnings);
    gr_vcf_result_free(r);
    gr_model_free(m);
    temp_bundle_free(dir);
}

/* A scoring file may be hundreds of MB, but no line of it is long: a line
 * of GR_MODEL_MAX_LINE bytes loads, one byte more is refused at once, and a
 * compressed file is held to the same (its text is what is kept). */
Test(pgs, a_line_of_1_mib_loads_one_byte_more_does_not_compressed_or_not)
{
    char *scores = read_text("models/cad-pgs-demo/cad_pgs_demo.txt");
    size_t sl = strlen(scores);
    for (int extra = 0; extra < 2; extra++)
        for (int gz = 0; gz < 2; gz++) {
            char *dir = temp_bundle("manifest.json",
                                    "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\","
                                    "\"format\":\"pgs-catalog\",\"artifact\":\"s.txt\","
                                    "\"genome_build\":\"GRCh38\"}",
                                    NULL);
            char path[600], cmd[1400];
            snprintf(path, sizeof path, "%s/%s", dir, gz ? "plain.txt" : "s.txt");
            FILE *f = fopen(path, "w");
            cr_assert(f);
            fputs("##", f); /* a section banner: read and passed over */
            for (size_t i = 2; i < (size_t)GR_MODEL_MAX_LINE + (size_t)extra; i++)
                fputc('=', f);
            fputc('\n', f);
            fwrite(scores, 1, sl, f);
            fclose(f);
            if (gz) {
                snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s/s.txt'", path, dir);
                cr_assert_eq(system(cmd), 0);
            }
            gr_model *m = NULL;
            gr_error err;
            gr_status st = gr_model_load(dir, &m, &err);
            if (!extra) {
                cr_assert_eq(st, GR_OK, "gz %d: %s", gz, err.text);
                cr_assert_eq(gr_model_get_info(m)->n_features, 300);
            } else {
                cr_assert_eq(st, GR_ELIMIT, "gz %d: %s", gz, err.text);
                cr_assert_eq(err.line, 1);
                cr_assert(strstr(err.text, "line longer than 1 MiB"), "%s", err.text);
                cr_assert_str_eq(err.source + strlen(err.source) - 5, "s.txt");
            }
            gr_model_free(m);
            temp_bundle_free(dir);
        }
    free(scores);
}

/* Loads a scoring file with a manifest that may ask for weight_transform
 * (NULL: not given); returns the model (new) or NULL with err set. */
static gr_model *load_with(const char *transform, const char *file, gr_error *err)
{
    char manifest[512];
    snprintf(manifest, sizeof manifest,
             "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"pgs-catalog\","
             "\"artifact\":\"s.txt\",\"genome_build\":\"GRCh37\"%s%s%s}",
             transform ? ",\"weight_transform\":\"" : "", transform ? transform : "",
             transform ? "\"" : "");
    char *dir = temp_bundle("manifest.json", manifest, "s.txt", file, NULL);
    gr_model *m = NULL;
    gr_model_load(dir, &m, err);
    temp_bundle_free(dir);
    return m;
}

/* The score of one sample carrying one copy of each variant. */
static double one_copy_each(const gr_model *m)
{
    size_t n = gr_model_get_info(m)->n_features;
    double *x = malloc(n * sizeof *x);
    for (size_t j = 0; j < n; j++)
        x[j] = 1;
    gr_workspace *ws = gr_workspace_new(m);
    gr_prediction p;
    cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, NULL), GR_OK);
    gr_workspace_free(ws);
    free(x);
    return p.margin;
}

/* Odds ratios summed raw are no score (a file with #weight_type=OR summed
 * to 79.17): refused, unless the manifest asks for their logarithms. */
Test(pgs, odds_and_hazard_ratios_are_never_summed_raw)
{
    const char *ors = "#format_version=2.0\n#genome_build=GRCh37\n#weight_type=OR\n"
                      "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                      "1\t100\tA\tG\t1.5\n1\t200\tC\tT\t0.8\n";
    gr_error err;
    cr_assert_null(load_with(NULL, ors, &err));
    cr_assert(strstr(err.text, "the weights are odds ratios (#weight_type=OR): summed raw they "
                               "are no score; set \"weight_transform\": \"log\""),
              "%s", err.text);
    gr_model *m = load_with("log", ors, &err);
    cr_assert_not_null(m, "%s", err.text);
    cr_assert_float_eq(one_copy_each(m), log(1.5) + log(0.8), 1e-15);
    cr_assert_str_eq(gr_model_get_info(m)->weight_type, "OR");
    cr_assert_eq(gr_model_get_info(m)->weight_log, 1);
    gr_model_free(m);
    /* no effect_weight, only an HR column: ratios too */
    const char *hrs = "#format_version=2.0\n#genome_build=GRCh37\n"
                      "chr_name\tchr_position\teffect_allele\tother_allele\tHR\n"
                      "1\t100\tA\tG\t2.0\n";
    cr_assert_null(load_with(NULL, hrs, &err));
    cr_assert(strstr(err.text, "hazard ratios (the file has no effect_weight, only an HR column)"),
              "%s", err.text);
    m = load_with("log", hrs, &err);
    cr_assert_not_null(m, "%s", err.text);
    cr_assert_float_eq(one_copy_each(m), log(2.0), 1e-15);
    gr_model_free(m);
    const char *empty = "#format_version=2.0\n#genome_build=GRCh37\n"
                        "chr_name\tchr_position\teffect_allele\tother_allele\tHR\n"
                        "1\t100\tA\tG\t\n";
    cr_assert_null(load_with("log", empty, &err));
    cr_assert_str_eq(err.field, "HR", "the empty cell's column is named");
    /* a ratio that is not positive has no logarithm */
    const char *zero = "#format_version=2.0\n#genome_build=GRCh37\n#weight_type=odds ratio\n"
                       "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                       "1\t100\tA\tG\t0\n";
    cr_assert_null(load_with("log", zero, &err));
    cr_assert(strstr(err.text, "'0' is no ratio"), "%s", err.text);
    /* logarithms of betas would be wrong; of dosage weights, undefined */
    const char *betas = "#format_version=2.0\n#genome_build=GRCh37\n#weight_type=beta\n"
                        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                        "1\t100\tA\tG\t0.1\n";
    cr_assert_null(load_with("log", betas, &err));
    cr_assert(strstr(err.text, "but the file's #weight_type is beta"), "%s", err.text);
    m = load_with("none", betas, &err);
    cr_assert_not_null(m, "%s", err.text);
    cr_assert_float_eq(one_copy_each(m), 0.1, 1e-15);
    gr_model_free(m);
    const char *dosage = "#format_version=2.0\n#genome_build=GRCh37\n"
                         "chr_name\tchr_position\teffect_allele\tdosage_0_weight\t"
                         "dosage_1_weight\tdosage_2_weight\n1\t100\tA\t0\t1\t2\n";
    cr_assert_null(load_with("log", dosage, &err));
    cr_assert(strstr(err.text, "not to dosage_N_weight columns"), "%s", err.text);
    cr_assert_null(load_with("exp", betas, &err));
    cr_assert(strstr(err.text, "must be \"none\" or \"log\""), "%s", err.text);
    /* PGS000001 has an OR column beside its effect_weight: its betas are used */
    m = fixture_model("pgs000001");
    cr_assert_str_eq(gr_model_get_info(m)->weight_type, "NR");
    gr_model_free(m);
}

/* Haplotypes, diplotypes, interaction terms and alleles by name (APOE e4,
 * HLA types) are left out, as pgsc_calc leaves them, and counted. */
Test(pgs, complex_rows_are_counted_and_not_scored)
{
    const char *f = "#format_version=2.0\n#genome_build=GRCh37\n#weight_type=beta\n"
                    "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\t"
                    "is_haplotype\tis_diplotype\tis_interaction\n"
                    "1\t100\tA\tG\t0.1\tFalse\tFalse\tFalse\n"
                    "1\t200\tC\tT\t0.2\tTrue\t\t\n"
                    "1\t300\tC\tT\t0.3\t\tTrue\t\n"
                    "1\t400\tC\tT\t0.4\t\t\tTrue\n"
                    "19\t45411941\te4\t\t0.5\t\t\t\n"
                    "6\t32000000\tHLA-DRB1*15:01\t\t0.6\t\t\t\n"
                    "1\t500\tg\tA\t0.7\t\t\t\n";
    gr_error err;
    gr_model *m = load_with(NULL, f, &err);
    cr_assert_not_null(m, "%s", err.text);
    const gr_model_info *in = gr_model_get_info(m);
    cr_assert_eq(in->n_features, 2, "only the plain SNVs are variants of the score");
    cr_assert_eq(in->pgs_unscored[GR_PGS_HAPLOTYPE], 1);
    cr_assert_eq(in->pgs_unscored[GR_PGS_DIPLOTYPE], 1);
    cr_assert_eq(in->pgs_unscored[GR_PGS_INTERACTION], 1);
    cr_assert_eq(in->pgs_unscored[GR_PGS_NOT_ACGT], 2);
    cr_assert_float_eq(one_copy_each(m), 0.1 + 0.7, 1e-15);
    cr_assert_str_eq(gr_pgs_unscored_name(GR_PGS_NOT_ACGT), "effect_allele_not_acgt");
    gr_model_free(m);
    const char *bad = "#format_version=2.0\n#genome_build=GRCh37\n"
                      "chr_name\tchr_position\teffect_allele\teffect_weight\tis_haplotype\n"
                      "1\t100\tA\t0.1\tperhaps\n";
    cr_assert_null(load_with(NULL, bad, &err));
    cr_assert_str_eq(err.field, "is_haplotype");
    cr_assert(strstr(err.text, "expected True or False"), "%s", err.text);
}
