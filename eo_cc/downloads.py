"""Downloads for admins (CSV, BLT): spreadsheet-safe cells, UTF-8 that Excel reads, never cached."""
import csv
import io

from flask import Response

# A cell starting with one of these runs as a formula in a spreadsheet ("=1+1@example.org"
# is even a valid email address), so it is written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Neutralise spreadsheet formulas: a cell starting with = + - @ is shown as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(header, records, filename):
    """A CSV attachment of header + records, every cell spreadsheet-safe."""
    out = io.StringIO()
    out.write("\ufeff")  # so Excel reads the file as UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(cell) for cell in record] for record in records)
    return no_store(Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'}))


def no_store(response):
    """Downloads hold results or voters' data: never kept in a browser's or proxy's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response
