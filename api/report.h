/* report.h - the clinician's report: one self-contained HTML page, and the
 * attribution waterfall alone as an SVG document, rendered from a "report
 * document" (docs/report.md: a result as `genorisk predict` prints it, with
 * the population context, the risk, the reference distribution, the match
 * report, provenance and warnings beside it).
 *
 * Every member of the document is optional: what is present is shown, what
 * is absent is said to be absent. Every string from the document is
 * HTML-escaped (sample ids and feature names are untrusted) and cut at a
 * ceiling; lists are drawn up to a ceiling and the rest counted. The page
 * holds no script and refers to nothing outside itself. */
#ifndef GR_API_REPORT_H
#define GR_API_REPORT_H

#include <jansson.h>

#include "api/predict_run.h"
#include "core/error.h"

/* Attributions drawn in a waterfall at most; the others are counted in a
 * note and in the "all other features" bar. */
#define GR_REPORT_MAX_BARS 50

/* Writes the whole page for report (borrowed; must be a JSON object) through
 * write, in pieces. GR_EINVAL when report is not an object; GR_EIO when
 * write returns non-zero (nothing more is written after that). */
gr_status gr_api_report_html(const json_t *report, gr_api_write_fn write, void *arg, gr_error *err);

/* Writes the waterfall of report's result.explanation alone: a standalone
 * SVG document (starts with "<svg", carries the SVG xmlns). A report with
 * no attributions gets a small SVG saying so. Errors as gr_api_report_html. */
gr_status gr_api_report_svg(const json_t *report, gr_api_write_fn write, void *arg, gr_error *err);

#endif
