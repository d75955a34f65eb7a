"""An analyst opens an exported table in a spreadsheet: the same rows and figures as the page,
"×" where the page hides one, the hidden number nowhere, Cyrillic and Hangul intact, and no
place name that a spreadsheet would run as a formula. Tables built by hand: the writers are
pure."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook

from farcare.analytics.indicators import BY_CODE
from farcare.analytics.spreadsheets import table_csv, table_xlsx
from farcare.analytics.tables import SUPPRESSED_TEXT, Figure, Place, Row, ShownTable

# A number no other cell holds: were it hidden badly, a search of the file would find it.
HIDDEN = 3

# What the mark of a hidden figure means, as every page, export and report says it (English).
HIDDEN_NOTE = (
    "× — hidden: fewer than 5, or hidden with such a figure so that it cannot be found by "
    "subtraction."
)


def settlement_table() -> ShownTable:
    codes = ("consultations", "consultations_per_1000", "conclusion_minutes_median")
    return ShownTable(
        title="Settlements",
        dimension="settlement",
        months=(date(2026, 11, 1),),
        indicators=tuple(BY_CODE[code] for code in codes),
        rows=(
            Row(
                key="a",
                label="Уэлен",
                region="Чукотка",
                figures={
                    "consultations": Figure(None, SUPPRESSED_TEXT, suppressed=True),
                    "consultations_per_1000": Figure(None, SUPPRESSED_TEXT, suppressed=True),
                    "conclusion_minutes_median": Figure(None, SUPPRESSED_TEXT, suppressed=True),
                },
                place=Place(
                    population=640, distance_km=612, link_label="satellite", bandwidth_kbps=64
                ),
            ),
            Row(
                key="b",
                label='=HYPERLINK("http://evil")',
                region="Чукотка",
                figures={
                    "consultations": Figure(27.0, "27"),
                    "consultations_per_1000": Figure(12.5, "12.5"),
                    "conclusion_minutes_median": Figure(95.0, "95"),
                },
                place=Place(
                    population=2160, distance_km=0, link_label="fibre", bandwidth_kbps=10000
                ),
            ),
            Row(
                key="c",
                label="울릉",
                region="Чукотка",
                figures={
                    "consultations": Figure(0.0, "0"),
                    "consultations_per_1000": Figure(0.0, "0"),
                    "conclusion_minutes_median": Figure(None, "—"),
                },
                place=Place(population=85, distance_km=240, link_label="-radio", bandwidth_kbps=9),
            ),
        ),
        total=Row(
            key="Chukotka",
            label="Чукотка",
            figures={
                "consultations": Figure(None, SUPPRESSED_TEXT, suppressed=True),
                "consultations_per_1000": Figure(None, SUPPRESSED_TEXT, suppressed=True),
                "conclusion_minutes_median": Figure(101.0, "101"),
            },
        ),
    )


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def sheet_rows(content: bytes) -> list[tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


def test_csv_opens_in_excel_with_cyrillic_and_hangul_and_the_page_figures() -> None:
    content = table_csv(settlement_table())

    assert content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    header, *rows = read_csv(content)
    assert header == [
        "Settlement",
        "Region",
        "Population",
        "Distance to the regional hub, km",
        "Link",
        "Bandwidth, kbit/s",
        "Consultations",
        "Consultations per 1,000 residents",
        "Request to signed conclusion, median, min",
    ]
    assert rows[0] == ["Уэлен", "Чукотка", "640", "612", "satellite", "64", "×", "×", "×"]
    assert rows[1][6:] == ["27", "12.5", "95"]
    assert rows[2][0] == "울릉" and rows[2][6:] == ["0", "0", ""]
    assert rows[3] == ["Чукотка", "", "", "", "", "", "×", "×", "101"]
    # Below the rows, as wide as they are: what the mark means.
    assert rows[4] == [HIDDEN_NOTE, *[""] * 8]


def test_a_place_name_is_never_a_formula_in_csv() -> None:
    rows = read_csv(table_csv(settlement_table()))

    assert rows[2][0] == '\'=HYPERLINK("http://evil")'
    assert rows[3][4] == "'-radio"


def test_xlsx_has_title_note_numbers_and_hides_what_the_page_hides() -> None:
    content = table_xlsx(settlement_table(), heading="Settlements — November 2026")
    rows = sheet_rows(content)

    assert rows[0][0] == "Settlements — November 2026"
    assert rows[1][0] == HIDDEN_NOTE
    header = rows[3]
    assert header[0] == "Settlement" and header[-1] == "Request to signed conclusion, median, min"
    uelen, injected, ulleung, total = rows[4:8]
    assert uelen[6:] == ("×", "×", "×")
    assert injected[6:] == (27, 12.5, 95)
    assert ulleung[0] == "울릉" and ulleung[6:] == (0, 0, None)
    assert total[0] == "Чукотка" and total[6:] == ("×", "×", 101)


def test_a_place_name_is_a_string_not_a_formula_in_xlsx() -> None:
    book = load_workbook(io.BytesIO(table_xlsx(settlement_table(), heading="t")))
    sheet = book.active

    name = sheet.cell(row=6, column=1)
    assert name.value == '=HYPERLINK("http://evil")'
    assert name.data_type == "s"
    formulas = [cell for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []


def test_columns_are_wide_enough_to_read() -> None:
    sheet = load_workbook(io.BytesIO(table_xlsx(settlement_table(), heading="t"))).active

    assert sheet.column_dimensions["A"].width >= 10
    assert sheet.column_dimensions["C"].width >= 8


def test_a_table_without_places_has_no_place_columns() -> None:
    table = ShownTable(
        title="Regions",
        dimension="region",
        months=(date(2026, 11, 1),),
        indicators=(BY_CODE["consultations"],),
        rows=(Row(key="Chukotka", label="Chukotka", figures={"consultations": Figure(9, "9")}),),
    )

    assert read_csv(table_csv(table))[:2] == [["Region", "Consultations"], ["Chukotka", "9"]]


def test_a_hidden_figure_is_written_as_less_than_five_even_if_its_number_came_along() -> None:
    """Suppression is the computation's, and a hidden figure's value is None; should a number
    ever come along with the flag, the flag wins."""
    leaky = ShownTable(
        title="Regions",
        dimension="region",
        months=(date(2026, 11, 1),),
        indicators=(BY_CODE["consultations"], BY_CODE["conclusion_minutes_median"]),
        rows=(
            Row(
                key="Chukotka",
                label="Chukotka",
                figures={
                    "consultations": Figure(HIDDEN, SUPPRESSED_TEXT, suppressed=True),
                    "conclusion_minutes_median": Figure(4711, SUPPRESSED_TEXT, suppressed=True),
                },
            ),
        ),
    )
    csv_bytes = table_csv(leaky)
    xlsx_cells = [cell for row in sheet_rows(table_xlsx(leaky, heading="t")) for cell in row]

    assert read_csv(csv_bytes)[1] == ["Chukotka", "×", "×"]
    assert b"4711" not in csv_bytes
    assert xlsx_cells.count("×") == 2
    assert HIDDEN not in xlsx_cells and 4711 not in xlsx_cells
