"""``maps_to``: the cells of an older form that carry over onto a later form, as data in the spec."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gkreport.errors import SpecError
from gkreport.spec import BUILTIN_DIR, load_form, load_form_file, load_forms
from gkreport.spec.mapping import form_map


def raw_2019() -> dict:
    return yaml.safe_load((BUILTIN_DIR / "2019.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, raw: dict, name: str = "old") -> Path:
    raw = copy.deepcopy(raw)
    raw["id"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_2019_form_maps_onto_2021():
    f19, f21 = load_form("2019"), load_form("2021")
    m = form_map(f19)
    assert m is not None and m.target is f21
    pairs = dict(m.cells)
    # 表三、表四: the same cells; 2019's single row （六）其他处理 becomes 2021's （六） subtotal
    assert all(pairs[c] == c for c in f19.tables["t3"].cells) and all(pairs[c] == c for c in f19.tables["t4"].cells)
    assert pairs["t3.other.natural"] == "t3.other.natural" and f21.cells["t3.other.natural"].optional
    # 表二: only the 处理决定数量 mean the same in both forms
    assert {k: v for k, v in pairs.items() if k.startswith("t2.")} == {
        "t2.licensing.decisions": "t2.licensing.decisions",
        "t2.penalty.decisions": "t2.penalty.decisions",
        "t2.enforcement.decisions": "t2.enforcement.decisions",
    }
    missing = set(m.missing)
    assert {f"t3.other_{i}.natural" for i in (1, 2, 3)} <= missing
    assert {"t2.normative.made", "t2.normative.valid", "t2.fees.fee_amount"} <= missing
    assert not missing & set(pairs.values())
    assert not any(f21.cells[c].optional for c in missing)  # a subtotal left blank is not missing
    assert set(m.notes) == {"t2", "t3"}
    assert form_map(f21) is None  # the current form maps nowhere


def test_every_builtin_mapping_resolves():
    for form in load_forms().values():
        m = form_map(form)
        if m is not None:
            assert m.target.id != form.id and m.cells


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda m: m["cells"].update({"t2.normative.produced": "t2.normative.nothing"}), "t2.normative.nothing"),
        (lambda m: m["cells"].update({"t9.x.y": "t2.normative.made"}), "不是本表样的单元格"),
        (lambda m: m["cells"].update({"t2.normative.produced": "t2.licensing.decisions"}), "都换算到"),
        (lambda m: m.update({"same": ["t2"]}), "请在 cells 中写明"),
        (lambda m: m.update({"form": "1999"}), "1999"),
        (lambda m: m.update({"notes": {"t7": "x"}}), "t7"),
    ],
)
def test_a_broken_mapping_is_refused_when_used(tmp_path, change, words):
    raw = raw_2019()
    change(raw["maps_to"])
    form = load_form_file(write(tmp_path, raw))
    with pytest.raises(SpecError) as exc:
        form_map(form)
    assert "maps_to" in exc.value.message and words in exc.value.message and "old.yaml" in exc.value.message


def test_a_misspelt_mapping_key_is_refused_when_loaded(tmp_path):
    raw = raw_2019()
    raw["maps_to"]["sames"] = raw["maps_to"].pop("same")
    with pytest.raises(SpecError, match=r"sames.*是否应为“same”"):
        load_form_file(write(tmp_path, raw))
    raw = raw_2019()
    del raw["maps_to"]["form"]
    with pytest.raises(SpecError, match="缺少“form”"):
        load_form_file(write(tmp_path, raw, "old2"))
