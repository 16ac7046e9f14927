"""The bulletin spreadsheet's small rules: Excel's sheet names, and widths that count CJK double."""
from __future__ import annotations

from dashboard.documents.bulletin import text
from dashboard.documents.bulletin_xlsx import MAX_SHEET, display_width, sheet_name


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    long = "满意率低于阈值的单位（责令整改）：分局、县局、支队与派出所的完整名单[附表]"
    names = [sheet_name(long, taken), sheet_name(long, taken), sheet_name("a/b\\c?d*e:f", taken),
             sheet_name("Topics", taken), sheet_name("topics", taken), sheet_name("''", taken)]
    assert all(1 <= len(n) <= MAX_SHEET for n in names), names
    assert not any(set(n) & set("[]:*?/\\") for n in names), names
    assert len({n.lower() for n in names}) == len(names), names
    assert names[0] == long[:MAX_SHEET] and names[1].endswith("(2)") and names[2] == "a_b_c_d_e_f"
    assert names[4] == "topics(2)"


def test_wide_characters_count_double() -> None:
    assert display_width("历下分局") == 8 and display_width("MS2026") == 6 and display_width("（件）") == 6
    assert display_width("12345热线") == 9


def test_numbers_print_one_way() -> None:
    assert text(0.8751, "rate") == "87.5%" and text(None, "rate") == "—" and text(3, "change") == "+3"
    assert text(-0.023, "pp", "%(value)s个百分点") == "-2.3个百分点"
    assert text([0.801, 0.9023], "interval") == "80.1%–90.2%" and text(20.45, "hours") == "20.4"
