"""Any analytics table as a file an analyst opens in a spreadsheet: CSV and XLSX (issue 18, point
5). Pure: a `ShownTable` in, bytes out, no ORM and no request.

Both files carry exactly what the page shows: the same rows, the same place columns (population,
distance to the regional hub, link) and the same figures; a hidden figure is the text "×"
(`tables.SUPPRESSED_TEXT`, whether it is small or hidden beside a small one) and never its
number (suppression is decided once, by the computation; `Figure.value` of a hidden figure is
already None and nothing here looks further). Both files say what the mark means.

A cell that starts with = + - @ (or a tab or carriage return) is what a spreadsheet reads as a
formula; names of places and facilities come from the directory, which many people edit, so in CSV
such a text is prefixed with an apostrophe and in XLSX it is written as a string, never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .indicators import Indicator, Kind
from .tables import SUPPRESSED_TEXT, Figure, Place, Row, ShownTable

# Excel opens a UTF-8 CSV as the local ANSI code page unless it begins with the byte order mark:
# without it, Cyrillic and Hangul arrive as mojibake.
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Column widths of the XLSX, in characters.
NARROWEST, WIDEST = 8, 48
# Number formats of the XLSX by kind: counts whole, rates and shares with one decimal.
NUMBER_FORMATS = {
    Kind.COUNT: "0",
    Kind.RATE: "0.0",
    Kind.MINUTES: "0",
    Kind.SHARE: "0.0",
}

Value = str | int | float | None
# What the mark means (the pages, the map, the exports and the report all say it so).
HIDDEN_NOTE = gettext_noop(
    "hidden: fewer than 5, or hidden with such a figure so that it cannot be found by subtraction."
)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], Value]
    # The indicator a figure column shows (None for the label and place columns).
    indicator: Indicator | None = None


def defused(text: str) -> str:
    """A text a spreadsheet will not run as a formula (for CSV, where a cell has no type)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def columns(table: ShownTable, *, by_month: bool = False) -> list[Column]:
    """The label (the place, or the month of a trend: `by_month`), the region and the place
    columns where the table has them, then one column per indicator, in the table's order."""
    rows = _all_rows(table)
    first = _("Month") if by_month else _dimension_label(table.dimension)
    result = [Column(first, lambda row: row.label)]
    if any(row.region for row in rows):
        result.append(Column(_("Region"), lambda row: row.region))
    places = [row.place for row in rows if row.place is not None]
    for header, present, read in _place_columns():
        if any(present(place) for place in places):
            result.append(Column(header, _place_reader(read)))
    for indicator in table.indicators:
        result.append(Column(figure_header(indicator), _figure_reader(indicator), indicator))
    return result


def figure_header(indicator: Indicator) -> str:
    """An indicator's column header with the unit its numbers are in (the page says "1 h 25
    min" and "83 %"; a spreadsheet holds 85 and 83.3)."""
    if indicator.kind == Kind.MINUTES:
        return _("%(indicator)s, min") % {"indicator": indicator.label}
    if indicator.kind == Kind.SHARE:
        return _("%(indicator)s, %%") % {"indicator": indicator.label}
    return str(indicator.label)


def table_csv(table: ShownTable, *, by_month: bool = False) -> bytes:
    """UTF-8 with a byte order mark, one header row, then the rows and the total (if any).
    A figure is a plain number (no grouping, a decimal point), "×" when hidden, empty when
    there is none. The last line is the note on what "×" means (`suppression_note`)."""
    chosen = columns(table, by_month=by_month)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([defused(column.header) for column in chosen])
    for row in _all_rows(table):
        writer.writerow([_csv_text(column.cell(row)) for column in chosen])
    # After the rows, not above the header, and as wide as they are: a program reading the file
    # still finds the header on the first line and the same number of cells on every line.
    writer.writerow([defused(suppression_note()), *[""] * (len(chosen) - 1)])
    return out.getvalue().encode("utf-8")


def table_xlsx(table: ShownTable, *, heading: str, by_month: bool = False) -> bytes:
    """One sheet: a title row (`heading`: what, which month, which dimension), a note on
    suppression, the header, the rows and the total. Figures are numbers; a hidden one is the
    text "×"; texts are strings, never formulas."""
    chosen = columns(table, by_month=by_month)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = _sheet_title(chosen[0].header)
    _put(sheet.cell(row=1, column=1), heading).font = Font(bold=True, size=13)
    _put(sheet.cell(row=2, column=1), suppression_note()).font = Font(italic=True, size=9)
    header_row = 4
    for index, column in enumerate(chosen, start=1):
        cell = _put(sheet.cell(row=header_row, column=index), column.header)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    rows = _all_rows(table)
    for offset, row in enumerate(rows, start=1):
        is_total = table.total is not None and row is table.total
        for index, column in enumerate(chosen, start=1):
            cell = _put(sheet.cell(row=header_row + offset, column=index), column.cell(row))
            if column.indicator is not None and isinstance(cell.value, int | float):
                cell.number_format = NUMBER_FORMATS[column.indicator.kind]
            elif column.indicator is not None:
                cell.alignment = Alignment(horizontal="right")
            if is_total:
                cell.font = Font(bold=True)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)
    for index, column in enumerate(chosen, start=1):
        longest = max(
            [_width(column.header) // 2 + 1]  # a long header wraps onto two lines
            + [_width(column.cell(row)) for row in rows]
        )
        sheet.column_dimensions[get_column_letter(index)].width = max(
            NARROWEST, min(WIDEST, longest + 2)
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def suppression_note() -> str:
    """What the mark of a hidden figure means, in the reader's language. One mark for a small
    figure and for its complement: a complement may be 5 or more, and two marks would tell the
    reader which hidden figure is the small one."""
    return f"{SUPPRESSED_TEXT} — " + _(HIDDEN_NOTE)


# --- reading a row --------------------------------------------------------------------------


def _all_rows(table: ShownTable) -> list[Row]:
    return [*table.rows, *([table.total] if table.total is not None else [])]


def _figure_reader(indicator: Indicator) -> Callable[[Row], Value]:
    def read(row: Row) -> Value:
        return _figure_value(indicator, row.figures.get(indicator.code))

    return read


def _figure_value(indicator: Indicator, figure: Figure | None) -> Value:
    """The number to write: "×" for a hidden figure (its number never leaves the table),
    None where there is nothing to show."""
    if figure is None:
        return None
    if figure.suppressed:
        return SUPPRESSED_TEXT
    if figure.value is None:
        return None
    if indicator.kind == Kind.COUNT:
        return round(figure.value)
    return figure.value


def _place_columns() -> Sequence[tuple[str, Callable[[Place], bool], Callable[[Place], Value]]]:
    return (
        (_("Population"), lambda p: p.population is not None, lambda p: p.population),
        (
            _("Distance to the regional hub, km"),
            lambda p: p.distance_km is not None,
            lambda p: p.distance_km,
        ),
        (
            _("Link"),
            lambda p: bool(p.link_label or p.link_type),
            lambda p: p.link_label or p.link_type,
        ),
        (
            _("Bandwidth, kbit/s"),
            lambda p: p.bandwidth_kbps is not None,
            lambda p: p.bandwidth_kbps,
        ),
    )


def _place_reader(read: Callable[[Place], Value]) -> Callable[[Row], Value]:
    def cell(row: Row) -> Value:
        return read(row.place) if row.place is not None else None

    return cell


def _dimension_label(dimension: str) -> str:
    labels = {
        "all": _("All regions"),
        "region": _("Region"),
        "settlement": _("Settlement"),
        "facility": _("Facility"),
        "specialty": _("Specialty"),
        "partner": _("Partner hospital"),
        "month": _("Month"),
    }
    return labels.get(dimension, _("Month"))


def _sheet_title(name: str) -> str:
    """The sheet is named as its first column (what its rows are): at most 31 characters,
    none of []:*?/\\ (Excel's rules for a sheet's name)."""
    return "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "Sheet"


# --- writing a cell -------------------------------------------------------------------------


def _csv_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return defused(value)
    return _plain_number(value)


def _plain_number(value: int | float) -> str:
    """A number as a spreadsheet in any locale reads it back: no grouping, a point."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _put(cell: Cell, value: Value) -> Cell:
    """Write `value` into `cell`: a number as a number, a text always as a string (openpyxl
    would take "=..." as a formula)."""
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def _width(value: Value) -> int:
    if value is None:
        return 0
    text = value if isinstance(value, str) else _plain_number(value)
    # Hangul and other wide characters take about two columns each.
    return sum(2 if ord(ch) >= 0x1100 else 1 for ch in text)
