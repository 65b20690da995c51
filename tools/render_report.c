/* render_report.c - renders a report document (api/report.h) to stdout:
 *   build/render_report REPORT.json         the HTML page
 *   build/render_report --svg REPORT.json   the waterfall alone
 * For docs/report-example.png and tools/check_report.py; not installed. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/report.h"

static int write_stdout(void *arg, const char *bytes, size_t n)
{
    return fwrite(bytes, 1, n, (FILE *)arg) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    int svg = argc == 3 && !strcmp(argv[1], "--svg");
    if (argc != 2 + svg) {
        fprintf(stderr, "usage: render_report [--svg] REPORT.json\n");
        return 2;
    }
    json_error_t jerr;
    json_t *doc = json_load_file(argv[1 + svg], 0, &jerr);
    if (!doc) {
        fprintf(stderr, "render_report: %s:%d: %s\n", argv[1 + svg], jerr.line, jerr.text);
        return 1;
    }
    gr_error err;
    gr_status st = svg ? gr_api_report_svg(doc, write_stdout, stdout, &err)
                       : gr_api_report_html(doc, write_stdout, stdout, &err);
    json_decref(doc);
    if (st || fflush(stdout)) {
        fprintf(stderr, "render_report: %s\n", st ? err.text : "stdout could not be written");
        return 1;
    }
    return 0;
}
