"""The aggregate of units: one cell-wise sum for the summary workbook and the aggregate report."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import seed_unit, unit_2021
from gkreport.aggregate import aggregate_unit, sum_units
from gkreport.docx_out import write_summary_docx
from gkreport.xlsx_out import write_summary_xlsx
from test_docx_out import Docx, _value_positions, table_grid
from test_xlsx_out import FORMS, random_units, read_summary_tables, same_number


@settings(max_examples=60, deadline=None)
@given(fid=st.sampled_from(FORMS), n=st.integers(1, 6), seed=st.integers(0, 10**6), blank=st.floats(0, 1))
def test_sum_units_is_cellwise_sum(fid, n, seed, blank):
    units = random_units(fid, n, seed, blank)
    totals = sum_units(units)
    for cid in units[0].form.cells:
        present = [u.values[cid] for u in units if u.values.get(cid) is not None]
        want = sum(present) if present else None
        assert totals[cid] == want and type(totals[cid]) is type(want), cid
        if isinstance(want, Decimal):
            assert totals[cid].as_tuple().exponent == want.as_tuple().exponent


def test_values_that_are_not_numbers_count_as_blank():
    a, b = unit_2021(name="甲"), unit_2021(name="乙")
    a.values["t3.new.natural"] = "约10"
    b.values["t3.new.natural"] = None
    a.values["t2.normative.made"] = 2.0  # a float read from somewhere: still a number
    totals = sum_units([a, b])
    assert totals["t3.new.natural"] is None
    assert totals["t2.normative.made"] == 2 + b.values["t2.normative.made"]


def test_the_aggregate_unit_sums_values_and_fees():
    a = unit_2021(name="甲局", processing_fee=Decimal("10"))
    b = unit_2021(name="乙局", processing_fee="2.5")
    b.values["t4.cases.review_upheld"] = None
    a.values["t4.cases.review_upheld"] = None
    agg = aggregate_unit([a, b], "某某区人民政府", meta={"date_written": "2023年3月1日"})
    assert agg.unit == "某某区人民政府" and agg.year == 2022 and agg.form is a.form
    assert agg.values["t3.new.total"] == a.values["t3.new.total"] + b.values["t3.new.total"]
    assert agg.values["t2.fees.fee_amount"] == Decimal("2.50")
    assert agg.values["t4.cases.review_upheld"] is None  # blank + blank = blank
    assert agg.meta["processing_fee"] == Decimal("12.5") and agg.meta["signer"] == "某某区人民政府"
    assert agg.meta["date_written"] == "2023年3月1日"
    assert agg.values == sum_units([a, b])


def test_an_amount_some_units_did_not_give_is_not_summed():
    a = unit_2021(name="甲局", processing_fee=Decimal("10"))
    b = unit_2021(name="乙局", processing_fee=None)
    assert "processing_fee" not in aggregate_unit([a, b], "某区").meta  # a partial sum would be false
    b.meta["processing_fee"] = "不详"  # not an amount: as good as not given
    assert "processing_fee" not in aggregate_unit([a, b], "某区").meta
    b.meta["processing_fee"] = "0"
    assert aggregate_unit([a, b], "某区").meta["processing_fee"] == Decimal("10")


def test_mixed_forms_and_years_are_refused():
    with pytest.raises(ValueError, match="不同的表样"):
        aggregate_unit([unit_2021(), seed_unit()], "某区")
    with pytest.raises(ValueError, match="不同年度"):
        aggregate_unit([unit_2021(), unit_2021(year=2024)], "某区")
    with pytest.raises(ValueError, match="没有可汇总"):
        aggregate_unit([], "某区")


def test_summary_workbook_and_aggregate_report_show_the_same_totals(tmp_path):
    units = random_units("2021", 3, seed=5, blank=0.2)
    totals = sum_units(units)
    shown = read_summary_tables(
        openpyxl.load_workbook(write_summary_xlsx(units, tmp_path / "汇总.xlsx")), units[0].form, 2025
    )
    doc = Docx(write_summary_docx(units, "某某区人民政府", tmp_path / "汇总.docx"))
    form = units[0].form
    tables = {s.table: i for i, s in enumerate(s for s in form.sections if s.kind == "table")}
    for tid in ("t3", "t4"):
        grid = table_grid(doc.tables()[tables[tid]])
        positions = _value_positions(form, tid, grid)
        assert len(positions) >= len(form.tables[tid].value_columns())
        for cid, (r, c) in positions.items():
            assert same_number(shown[cid], totals[cid]), cid
            want = "" if totals[cid] is None else str(totals[cid])
            assert grid[r][c] == want, cid
