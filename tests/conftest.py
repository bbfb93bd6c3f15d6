import shutil
from pathlib import Path

import pytest

collect_ignore = ["benchmarks"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "input_templates" / "samples"
TEMPLATES = ROOT / "input_templates"

needs_soffice = pytest.mark.skipif(
    not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice (soffice) 未安装"
)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES
