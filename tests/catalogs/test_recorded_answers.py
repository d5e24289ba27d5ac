"""The catalog parser on real recorded service answers (not hand-written ones).

Each answer is read the way production reads the service's bytes, then goes through the
production check (``_checked``: the columns the catalog's description names must be there) and
the parser, so that a wrong column name in :data:`potpyri.catalogs.query.CATALOGS` fails here.

Answers, and where they come from (the inventory behind this choice is in
tests/data/catalogs/README.md):

- Gaia DR3 (``gaiadr3.gaia_source``): three answers of the ESA Gaia archive that astroquery
  ships with its own tests, read from the installed package: a VOTable (the format the pipeline
  receives: astroquery's Gaia default output is ``votable_gzip``), an ECSV and a JSON cone search.
- 2MASS (VizieR ``II/246/out``): a VizieR answer recorded in 2013 for astroquery's tests, copied
  with its BSD-3 licence to tests/data/catalogs/recorded/. It carries the identifier, the
  position and K only (the query asked for those), so J, H and the errors stay untested here.

No real recorded answer was found for PS1 (II/349/ps1), SDSS (V/147/sdss12), SkyMapper
(II/358/smss) or the GSPC; their parser is tested on hand-written answers (test_catalogs.py,
test_gspc.py), which do not prove the column names.
"""

from __future__ import annotations

import ast
import gzip
import io
import types
from pathlib import Path

import astroquery
import numpy as np
import pytest
from astropy.table import Table

from potpyri.catalogs import parse
from potpyri.catalogs.query import CATALOGS, _checked

GAIA_DATA = Path(astroquery.__file__).parent / "gaia" / "tests" / "data"
#: SELECT TOP 20 * FROM gaiadr3.gaia_source WHERE source_id = ... (two bright stars)
GAIA_VOTABLE = GAIA_DATA / "1710099405832VAL-result.vot"
#: the first five rows of a cone search at ra 280, dec -60, as ECSV
GAIA_ECSV = GAIA_DATA / "1712337806100O-result.ecsv"
#: a 50-source cone search at ra 280, dec -60, as JSON
GAIA_JSON = GAIA_DATA / "cone_search_async.json"
VIZIER_2MASS = Path(__file__).resolve().parents[1] / "data" / "catalogs" / "recorded" / "ii246.xml"


def _installed(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"this astroquery version ({astroquery.__version__}) does not ship {path.name}")
    return path


def _gaia_votable(*, names_over_ids: bool) -> Table:
    """The recorded VOTable through astroquery's own reader of an async job's HTTP answer,
    gzipped as the archive sends it, with the column naming astroquery's Gaia class uses."""
    from astroquery.utils.tap.xmlparser import utils as tap_utils

    body = gzip.compress(_installed(GAIA_VOTABLE).read_bytes())
    response = types.SimpleNamespace(read=io.BytesIO(body).read)
    return tap_utils.read_http_response(response, "votable_gzip", use_names_over_ids=names_over_ids)


def _gaia_file(path: Path, fmt: str) -> Table:
    from astroquery.utils.tap.model.modelutils import read_results_table_from_file

    return read_results_table_from_file(str(_installed(path)), fmt)


def _gaia_names_over_ids() -> bool:
    """``GaiaClass.USE_NAMES_OVER_IDS`` of the installed astroquery, read from its source:
    importing ``astroquery.gaia`` would ask the archive for its status messages (network)."""
    source = (Path(astroquery.__file__).parent / "gaia" / "core.py").read_text()
    (gaia_class,) = (
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "GaiaClass"
    )
    for node in gaia_class.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["USE_NAMES_OVER_IDS"]:
            return bool(ast.literal_eval(node.value))
    return False  # astroquery < 0.4.8: columns were named by their ID


def test_gaia_archive_votable_parses_with_the_columns_the_pipeline_asks_for():
    raw = _checked(CATALOGS["gaia"], _gaia_votable(names_over_ids=_gaia_names_over_ids()))
    table = parse("gaia", raw)
    assert list(table["source_id"]) == ["4583627001381815936", "5348723816842275584"]
    # The values written in the recorded answer.
    assert table["ra"] == pytest.approx([268.0676646661466, 171.55081173633306], abs=1e-12)
    assert table["dec"] == pytest.approx([26.50748605871529, -51.3606309660715], abs=1e-12)
    assert table["G_mag"] == pytest.approx([7.0120187, 7.0179033], abs=1e-6)
    assert table["BP_mag"] == pytest.approx([9.272621, 9.790323], abs=1e-6)
    assert table["RP_mag"] == pytest.approx([5.6080775, 5.5675364], abs=1e-6)
    # Proper motions carried from 2016.0 to 2026.0: pmdec -27.673 mas/yr for ten years.
    moved = parse("gaia", raw, epoch=2026.0)
    assert (moved["dec"][0] - table["dec"][0]) * 3.6e6 == pytest.approx(-276.7299135507808)


def test_gaia_archive_votable_read_by_column_ids_is_refused():
    """The archive's VOTables give ``source_id`` the ID ``SOURCE_ID`` (astroquery issue #2965).
    Astroquery before 0.4.8 named columns by ID, so the answer lacked ``source_id`` and every
    Gaia query failed: hence ``astroquery>=0.4.8`` in pyproject.toml."""
    raw = _gaia_votable(names_over_ids=False)
    assert "SOURCE_ID" in raw.colnames
    with pytest.raises(ValueError, match=r"lacks the catalog's column\(s\) source_id$"):
        _checked(CATALOGS["gaia"], raw)


def test_gaia_archive_ecsv_and_json_answers_parse():
    ecsv = parse("gaia", _checked(CATALOGS["gaia"], _gaia_file(GAIA_ECSV, "ecsv")))
    assert list(ecsv["source_id"][:2]) == ["6636090334814214528", "6636090339112400000"]
    assert ecsv["G_mag"] == pytest.approx(
        [19.761656, 21.066229, 16.610226, 21.137058, 18.831448], abs=1e-6
    )
    # Two-parameter solutions have no proper motion in the archive: the parser moves them not.
    assert list(ecsv["pmra"][[1, 3]]) == [0.0, 0.0]
    assert ecsv["pmra"][2] == pytest.approx(-30.1195194)

    cone = parse("gaia", _checked(CATALOGS["gaia"], _gaia_file(GAIA_JSON, "json")))
    assert len(cone) == 50 and np.isfinite(cone["G_mag"]).sum() == 50
    same = [np.flatnonzero(cone["source_id"] == s) for s in ecsv["source_id"]]
    assert all(len(rows) == 1 for rows in same)  # the ECSV rows are in the JSON cone too
    rows = np.concatenate(same)
    assert cone["ra"][rows] == pytest.approx(ecsv["ra"], abs=1e-12)
    assert cone["G_mag"][rows] == pytest.approx(ecsv["G_mag"], abs=1e-6)


def test_vizier_2mass_answer_has_the_identifier_position_and_k_columns_the_parser_reads():
    from astroquery.vizier.core import VizierClass

    response = types.SimpleNamespace(content=VIZIER_2MASS.read_bytes())
    (raw,) = VizierClass()._parse_result(response)
    spec = CATALOGS["2mass"]
    # The query asked VizieR for RAJ2000, DEJ2000, 2MASS and Kmag only: every other column of the
    # description is missing, and nothing else (a wrong name of those four would be listed here).
    with pytest.raises(ValueError, match=r"column\(s\) Jmag, e_Jmag, Hmag, e_Hmag, e_Kmag$"):
        _checked(spec, raw)
    assert {spec.id_col, spec.ra_col, spec.dec_col, spec.bands["K"][0]} <= set(raw.colnames)
    assert len(raw) == 11 and raw[spec.id_col][0] == "00424433+4116085"
    assert raw[spec.ra_col][0] == pytest.approx(10.684737)
    assert raw[spec.bands["K"][0]][0] == pytest.approx(8.475)
