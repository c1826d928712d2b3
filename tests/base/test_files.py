"""Reading tables from files, and writes that leave nothing half-done."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import textwrap
import warnings

import pandas as pd
import pytest

from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.files import (
    atomic_dir,
    check_out_dir,
    describe_file,
    read_table,
    write_frame,
    write_json,
    write_text,
)


def _leftovers(folder):
    """Hidden temporary files or folders left in a folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- readers


@pytest.mark.parametrize("ext", ["csv", "parquet", "xlsx"])
def test_read_each_format(tables, tmp_path, write_tables, ext):
    bank, ledger, _ = tables
    bank_path, _ = write_tables(bank.head(50), ledger.head(5), tmp_path, ext)
    got = read_table(bank_path, name="bank")
    assert list(got.columns) == list(bank.columns)
    assert len(got) == 50
    assert got["transaction_id"].tolist() == bank["transaction_id"].head(50).tolist()
    assert got["amount"].round(2).tolist() == bank["amount"].head(50).round(2).tolist()
    assert pd.to_datetime(got["date"]).tolist() == bank["date"].head(50).tolist()
    # a reference column with blanks stays text: no "344176.0"
    refs = got["reference"].dropna()
    assert len(refs) and refs.map(lambda r: isinstance(r, str) and not r.endswith(".0")).all()


def test_csv_keeps_ids_as_text_and_understands_encodings(tmp_path):
    rows = "transaction_id,amount,description\n007,1.50,Café\n010,2.00,Crème\n"
    utf8_bom = tmp_path / "bom.csv"
    utf8_bom.write_bytes(b"\xef\xbb\xbf" + rows.encode())
    cp1252 = tmp_path / "win.csv"
    cp1252.write_bytes(rows.encode("cp1252"))
    zipped = tmp_path / "z.csv.gz"
    zipped.write_bytes(gzip.compress(rows.encode()))
    tsv = tmp_path / "t.tsv"
    tsv.write_text(rows.replace(",", "\t"))
    for path in (utf8_bom, cp1252, zipped, tsv):
        df = read_table(path, name="bank")
        assert df.columns[0] == "transaction_id", path  # the BOM is not part of the name
        assert df["transaction_id"].tolist() == ["007", "010"], path
        assert df["description"].tolist() == ["Café", "Crème"], path


def test_mapped_text_columns_and_stripped_names(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text(" Id ,Amt\n001,1\n002,2\n")
    df = read_table(path, name="bank", columns={"transaction_id": "Id"})
    assert df.columns.tolist() == ["Id", "Amt"]
    assert df["Id"].tolist() == ["001", "002"]


def test_read_errors_say_what_is_wrong(tmp_path):
    (tmp_path / "ledger.csv").write_text("a\n1\n")
    with pytest.raises(NexusError, match=r"no such file .*bank\.csv.*ledger\.csv"):
        read_table(tmp_path / "bank.csv", name="bank")
    with pytest.raises(NexusError, match="is a folder"):
        read_table(tmp_path, name="bank")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(NexusError, match=r"unknown file type '\.xls'.*save as \.xlsx"):
        read_table(tmp_path / "old.xls", name="bank")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(NexusError, match=r"unknown file type '\.json'.*\.csv, \.parquet or \.xlsx"):
        read_table(tmp_path / "x.json", name="bank")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SchemaError, match="is empty"):
        read_table(tmp_path / "empty.csv", name="bank")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(NexusError, match=r"not a well-formed CSV.*line 3"):
        read_table(tmp_path / "ragged.csv", name="bank")
    for ext, kind in (("parquet", "Parquet file"), ("xlsx", "Excel workbook")):
        bad = tmp_path / f"broken.{ext}"
        bad.write_bytes(b"this is not a real file at all" * 10)
        with pytest.raises(NexusError, match=rf"cannot read 'broken\.{ext}' as an? {kind}"):
            read_table(bad, name="bank")


def test_missing_worksheet_lists_the_sheets(tmp_path):
    path = tmp_path / "book.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(path, index=False, sheet_name="Statement")
    assert read_table(path, name="bank", sheet="Statement")["a"].tolist() == [1]
    with pytest.raises(NexusError, match=r"no worksheet 'Ledger'.*\['Statement'\]"):
        read_table(path, name="bank", sheet="Ledger")


def test_describe_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    info = describe_file(path)
    assert info["name"] == "a.txt" and info["bytes"] == 3
    assert info["sha256"].startswith("ba7816bf8f01cfea")


# ----------------------------------------------------------------------------- writers


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("disk pulled out mid-write")


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_write_frame_round_trip_and_mode(tmp_path, ext):
    df = pd.DataFrame({"id": ["a", "b"], "x": [1.5, 2.0], "mixed": [1, "two"]})
    path = write_frame(df, tmp_path / "sub" / f"t.{ext}")
    back = read_table(path, name="t", text_columns=None)
    assert back["id"].tolist() == ["a", "b"] and back["x"].tolist() == [1.5, 2.0]
    assert back["mixed"].astype(str).tolist() == ["1", "two"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert _leftovers(path.parent) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "t.csv"
    write_frame(pd.DataFrame({"a": [1, 2]}), path)
    before = path.read_bytes()
    bad = pd.DataFrame({"a": [1, _Unprintable()]})
    with pytest.raises(RuntimeError, match="mid-write"):
        write_frame(bad, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError, match="mid-write"):
        write_frame(bad, tmp_path / "new.csv")
    assert not (tmp_path / "new.csv").exists() and _leftovers(tmp_path) == []
    with pytest.raises(TypeError):
        write_text(12345, tmp_path / "note.txt")  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    with pytest.raises(NexusError, match=r"\.parquet or \.csv"):
        write_frame(pd.DataFrame({"a": [1]}), tmp_path / "t.json")


def test_write_json_has_no_nan(tmp_path):
    import json

    import numpy as np

    path = write_json({"a": float("nan"), "b": np.int64(3), "c": [np.float64(0.5)]},
                      tmp_path / "s.json")
    assert json.loads(path.read_text()) == {"a": None, "b": 3, "c": [0.5]}


# ----------------------------------------------------------------------------- atomic_dir


def test_atomic_dir_appears_whole(tmp_path):
    out = tmp_path / "runs" / "one"
    with atomic_dir(out) as work:
        write_text("a", work / "a.txt")
        assert not out.exists()  # nothing shows until the block ends
    assert (out / "a.txt").read_text() == "a"
    assert (out / ".nexus-lab").exists()
    assert _leftovers(out.parent) == []
    # a later run replaces what it writes again, and removes nothing else
    with atomic_dir(out) as work:
        write_text("a2", work / "a.txt")
        write_text("b", work / "b.txt")
    assert sorted(p.name for p in out.iterdir()) == [".nexus-lab", "a.txt", "b.txt"]
    assert (out / "a.txt").read_text() == "a2"
    assert _leftovers(out.parent) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_block_writes_nothing(tmp_path, error):
    out = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(error):
        with atomic_dir(out) as work:
            write_frame(pd.DataFrame({"a": [1]}), work / "a.parquet")
            write_text("half", work / "report.html")
            raise error("stopped mid-run")
    assert not out.exists()
    assert not (tmp_path / "new").exists()  # folders it made for the output are gone too
    assert list(tmp_path.iterdir()) == []


def test_failed_rerun_keeps_the_previous_outputs(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as work:
        write_text("good", work / "a.txt")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as work:
            write_text("bad", work / "a.txt")
            raise RuntimeError
    assert (out / "a.txt").read_text() == "good"
    assert _leftovers(tmp_path) == []


def test_killed_process_leaves_no_output(tmp_path):
    """A process that dies mid-run (no exception handling at all) leaves no out_dir."""
    code = textwrap.dedent(f"""
        import os
        from nexus_lab.files import atomic_dir, write_text
        with atomic_dir({str(tmp_path / "out")!r}) as work:
            write_text("part", work / "a.txt")
            os._exit(9)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 9
    assert not (tmp_path / "out").exists()


def test_never_replaces_a_folder_it_did_not_make(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_text("years of work")
    with pytest.raises(NexusError, match=r"already holds files.*thesis\.docx.*new or empty"):
        with atomic_dir(home):
            pytest.fail("the block must not run")
    assert (home / "thesis.docx").read_text() == "years of work"
    (tmp_path / "file").write_text("x")
    with pytest.raises(NexusError, match="not a plain folder"):
        with atomic_dir(tmp_path / "file"):
            pass
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_dir(empty) as work:
        write_text("ok", work / "a.txt")
    assert (empty / "a.txt").exists()


def test_semicolon_csv_with_decimal_commas_is_read(tmp_path):
    import nexus_lab as nx

    bank, ledger, _ = nx.data.synth_reconciliation(200, seed=3)
    comma = bank.assign(amount=bank["amount"].map(lambda x: f"{x:.2f}".replace(".", ",")),
                        date=pd.to_datetime(bank["date"]).dt.strftime("%d.%m.%Y"))
    path = tmp_path / "bank.csv"
    comma.rename(columns={"transaction_id": "Transaction ID", "amount": "Amount"}).to_csv(
        path, sep=";", index=False)
    df = read_table(path, name="bank")
    assert df.columns.tolist()[:3] == ["Transaction ID", "date", "Amount"]
    assert df["Amount"].map(type).eq(str).all()  # money kept as text for read_money
    res = nx.reconcile(df, ledger, device="cpu")
    assert res.params["written"]["bank"] == {"decimal": ",", "currency": None,
                                             "dates": "day/month/year"}
    assert res.rate == pytest.approx(nx.reconcile(bank, ledger, device="cpu").rate)


def test_separator_is_sniffed_per_file(tmp_path):
    for sep in (",", ";", "\t", "|"):
        path = tmp_path / f"t{ord(sep)}.csv"
        path.write_text(sep.join(["transaction_id", "amount", "description"]) + "\n"
                        + sep.join(["007", "1,50" if sep != "," else "1.50", "a b"]) + "\n")
        df = read_table(path, name="t")
        assert df.columns.tolist() == ["transaction_id", "amount", "description"], sep
        assert df["transaction_id"].tolist() == ["007"]


def test_rerun_replaces_only_what_the_last_run_wrote(tmp_path):
    """Notes and signatures a person put into an output folder survive the next run."""
    out = tmp_path / "out"
    with atomic_dir(out) as work:
        write_text("old a", work / "a.txt")
        write_text("old b", work / "b.txt")
        (work / "tables").mkdir()
        write_text("old t", work / "tables" / "t.csv")
    assert json.loads((out / ".nexus-lab").read_text())["files"] == ["a.txt", "b.txt", "tables"]
    (out / "notes.txt").write_text("my notes")
    (out / "signed").mkdir()
    (out / "signed" / "report.sig").write_bytes(b"\x00sig")
    with atomic_dir(out) as work:
        write_text("new a", work / "a.txt")
        assert not (work / "a.txt").samefile(out / "a.txt")
    # what it did not write again (another command's outputs, say) stays, still listed
    assert sorted(p.name for p in out.iterdir()) == [".nexus-lab", "a.txt", "b.txt",
                                                     "notes.txt", "signed", "tables"]
    assert (out / "a.txt").read_text() == "new a"
    assert (out / "b.txt").read_text() == "old b"
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "signed" / "report.sig").read_bytes() == b"\x00sig"
    assert json.loads((out / ".nexus-lab").read_text())["files"] == ["a.txt", "b.txt",
                                                                      "tables"]
    assert _leftovers(tmp_path) == []
    # a failed run changes nothing, the person's files included
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(out) as work:
            write_text("half", work / "a.txt")
            raise KeyboardInterrupt
    assert (out / "a.txt").read_text() == "new a"
    assert (out / "notes.txt").read_text() == "my notes"
    assert _leftovers(tmp_path) == []


def test_rerun_refuses_to_replace_a_file_it_did_not_write(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as work:
        write_text("a", work / "a.txt")
    (out / "report.html").write_text("my own report")
    with pytest.raises(NexusError, match=r"report\.html.*not written by nexus-lab.*move"):
        with atomic_dir(out) as work:
            write_text("a", work / "a.txt")
            write_text("generated", work / "report.html")
    assert (out / "report.html").read_text() == "my own report"
    assert (out / "a.txt").read_text() == "a"
    assert _leftovers(tmp_path) == []


def _mount_tmpfs(path):
    """Mount a tmpfs at ``path`` (needs root), or skip: a mount point cannot be renamed."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "none", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def _unmount(path):
    subprocess.run(["umount", str(path)], check=True)


def test_a_folder_that_cannot_be_renamed_is_refused_and_nothing_is_left(tmp_path):
    out = tmp_path / "out"
    _mount_tmpfs(out)
    try:
        with pytest.raises(NexusError, match=r"out.*mount point.*another output folder"):
            check_out_dir(out)
    finally:
        _unmount(out)
    # the same when the folder becomes a mount point while the run is under way
    with atomic_dir(out) as work:
        write_text("first", work / "a.txt")
    try:
        with pytest.raises(NexusError, match=r"out.*mount point.*another output folder"):
            with atomic_dir(out) as work:
                write_text("second", work / "a.txt")
                _mount_tmpfs(out)
        assert _leftovers(tmp_path) == []
    finally:
        _unmount(out)
    assert (out / "a.txt").read_text() == "first"


def test_csv_cells_that_spreadsheets_would_run_are_neutralized(tmp_path):
    """OWASP's rule: a text cell starting with = + - @ tab or CR gets a leading quote."""
    import csv

    df = pd.DataFrame({
        "transaction_id": ["=1+1", "B2", "@SUM(A1)", "-2+3", "x", "+cmd|' /C calc'!A0", "\tT",
                           "\rR"],
        "description": ['=HYPERLINK("http://evil","click")', "plain - text", "-", None,
                        "-12.50", "+1", "@home", "=A1"],
        "amount": [-12.5, 3.0, 0.0, -1.0, 2.5, 7.0, 1.0, -0.5],
        "count": [-1, 2, 3, 4, 5, 6, 7, 8],
    }).rename(columns={"count": "=count"})
    path = write_frame(df, tmp_path / "out.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["transaction_id", "description", "amount", "'=count"]
    cells = [r[:2] for r in rows[1:]]
    assert cells == [
        ["'=1+1", "'=HYPERLINK(\"http://evil\",\"click\")"],
        ["B2", "plain - text"],
        ["'@SUM(A1)", "'-"],
        ["'-2+3", ""],
        ["x", "-12.50"],  # a number written as text is no formula
        ["'+cmd|' /C calc'!A0", "+1"],
        ["'\tT", "'@home"],
        ["'\rR", "'=A1"],
    ]
    assert [r[2] for r in rows[1:]][:2] == ["-12.5", "3.0"]  # numbers stay numbers
    assert rows[1][3] == "-1"
    # Parquet keeps the values as they are: it is read by programs, not spreadsheets
    back = pd.read_parquet(write_frame(df, tmp_path / "out.parquet"))
    assert back["transaction_id"][0] == "=1+1"


# ----------------------------------------------------------------------------- exports as they are


def _bank_columns(df, **kw):
    from nexus_lab.frames import select_columns

    return select_columns(df, name="bank", required=["transaction_id", "amount"],
                          optional=["description"], **kw)


@pytest.mark.parametrize("second", ["amount", " amount "])
@pytest.mark.parametrize("ext", ["csv", "xlsx"])
def test_repeated_headings_are_kept_so_that_the_repeat_is_refused(tmp_path, ext, second):
    rows = [["transaction_id", "date", "amount", second, "description"],
            ["T1", "2025-01-02", "1.50", "9.99", "coffee"]]
    path = tmp_path / f"bank.{ext}"
    if ext == "csv":
        path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    else:
        pd.DataFrame(rows[1:], columns=range(5)).to_excel(path, index=False, header=rows[0])
    df = read_table(path, name="bank")
    assert df.columns.tolist() == ["transaction_id", "date", "amount", "amount", "description"]
    with pytest.raises(SchemaError, match=r"more than one column named 'amount'.*\[2, 3\]"):
        _bank_columns(df)
    # a repeated text column too
    rows[0][2:4] = ["description", "amount"]
    if ext == "csv":
        path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    else:
        pd.DataFrame(rows[1:], columns=range(5)).to_excel(path, index=False, header=rows[0])
    with pytest.raises(SchemaError, match=r"more than one column named 'description'"):
        _bank_columns(read_table(path, name="bank"))
    # a heading that only looks like pandas' renaming stays as it is
    real = tmp_path / "real.csv"
    real.write_text("transaction_id,amount,amount.1\nT1,1.50,2.00\n")
    assert read_table(real, name="bank").columns.tolist() == ["transaction_id", "amount",
                                                              "amount.1"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_unicode_text_is_read(tmp_path, codec):
    rows = "transaction_id\tamount\tdescription\r\n007\t1.50\tCafé\r\n010\t2.00\tZürich ✓\r\n"
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    for path in (tmp_path / "unicode.txt", tmp_path / "unicode.csv.gz"):
        data = bom + rows.encode(codec)
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        df = read_table(path, name="bank")
        assert df.columns.tolist() == ["transaction_id", "amount", "description"], path
        assert df["transaction_id"].tolist() == ["007", "010"]
        assert df["description"].tolist() == ["Café", "Zürich ✓"]


def test_utf8_with_a_stray_byte_stays_utf8(tmp_path, caplog):
    path = tmp_path / "bank.csv"
    path.write_bytes("transaction_id,description\n1,Café\n2,Crème\n".encode()
                     + b"3,Caf\xe9 old\n" + "4,Zoë\n".encode())
    with caplog.at_level("WARNING", logger="nexus_lab"):
        df = read_table(path, name="bank")
    assert df["description"].tolist() == ["Café", "Crème", "Caf\ufffd old", "Zoë"]
    assert "line 4" in caplog.text and "U+FFFD" in caplog.text


@pytest.mark.parametrize("kind", ["zip", "zst"])
def test_separator_of_compressed_csv_is_sniffed(tmp_path, kind):
    rows = "transaction_id;amount;description\n007;1,50;Café\n010;2,00;Crème\n".encode()
    rows += b"011;3,00;Caf\xe9\n"  # a stray byte: the file is read again, decompressed
    path = tmp_path / f"bank.csv.{kind}"
    if kind == "zip":
        import zipfile

        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bank.csv", rows)
    else:
        zstandard = pytest.importorskip("zstandard")
        path.write_bytes(zstandard.ZstdCompressor().compress(rows))
    df = read_table(path, name="bank")
    assert df.columns.tolist() == ["transaction_id", "amount", "description"]
    assert df["transaction_id"].tolist() == ["007", "010", "011"]
    assert df["description"].tolist() == ["Café", "Crème", "Caf\ufffd"]
    assert df["amount"].tolist() == ["1,50", "2,00", "3,00"]  # text, for read_money


_TITLED = [["Account: 12345678"], ["Statement period 01.01.2025 - 31.01.2025"], [],
           ["Date", "Transaction ID", "Amount", "Description"],
           ["02.01.2025", "007", "-12.50", "Coffee"], ["03.01.2025", "010", "100.00", "Salary"]]


@pytest.mark.parametrize("sep", [",", ";"])
def test_title_rows_above_the_csv_header_are_skipped(tmp_path, caplog, sep):
    path = tmp_path / "bank.csv"
    path.write_text("\n".join(sep.join(r) for r in _TITLED) + "\n")
    with caplog.at_level("INFO", logger="nexus_lab"):
        df = read_table(path, name="bank")
    assert df.columns.tolist() == ["Date", "Transaction ID", "Amount", "Description"]
    assert df["Transaction ID"].tolist() == ["007", "010"]
    assert df["Amount"].tolist() == [-12.5, 100.0]
    assert "row 4" in caplog.text
    # the columns= mapping's names count as headings too
    path.write_text("Export of 2025-01-31\nId,Amt,Memo\n007,1.50,x\n")
    df = read_table(path, name="bank", columns={"transaction_id": "Id", "amount": "Amt"})
    assert df.columns.tolist() == ["Id", "Amt", "Memo"] and df["Id"].tolist() == ["007"]
    # no row that reads as a header: read as it is
    path.write_text("x,y\n1,2\n")
    assert read_table(path, name="t").columns.tolist() == ["x", "y"]


def test_title_rows_above_the_excel_header_are_skipped(tmp_path, caplog):
    from openpyxl import Workbook

    path = tmp_path / "bank.xlsx"
    wb = Workbook()
    for row in _TITLED:
        wb.active.append(row)
    wb.save(path)
    with caplog.at_level("INFO", logger="nexus_lab"):
        df = read_table(path, name="bank")
    assert df.columns.tolist() == ["Date", "Transaction ID", "Amount", "Description"]
    assert df["Transaction ID"].tolist() == ["007", "010"]
    assert "row 4" in caplog.text


def test_cover_sheet_names_the_sheet_with_the_table(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "bank.xlsx"
    wb = Workbook()
    wb.active.title = "Cover"
    for row in (["Bank statement", "Acme Bank"], ["Account", "12345678"],
                ["Period", "January 2025"]):
        wb.active.append(row)
    data = wb.create_sheet("Transactions")
    for row in _TITLED[3:]:
        data.append(row)
    wb.save(path)
    with pytest.raises(SchemaError, match=r"worksheet 'Cover' .* holds no table; the table is "
                                          r"on another sheet: 'Transactions'.*sheet='Trans"):
        read_table(path, name="bank")
    df = read_table(path, name="bank", sheet="Transactions")
    assert df["Transaction ID"].tolist() == ["007", "010"]  # text cells stay text


def test_formulas_behind_blanks_or_in_full_width_are_neutralized(tmp_path):
    import csv

    cells = ["\n-4U8", " =3+3", "\u200b=1+1", "\uff1d5", "fine", " 12"]
    path = write_frame(pd.DataFrame({"description": cells, "n": range(6)}), tmp_path / "o.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        got = [r[0] for r in list(csv.reader(fh))[1:]]
    assert got == ["'" + c for c in cells[:4]] + ["fine", " 12"]


def test_rerun_keeps_the_folders_mode(tmp_path):
    out = tmp_path / "private"
    with atomic_dir(out) as work:
        write_text("a", work / "a.txt")
    os.chmod(out, 0o700)
    with atomic_dir(out) as work:
        write_text("b", work / "a.txt")
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_half_built_folders_of_killed_runs_are_removed(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer runs
    stale = tmp_path / f".out.partial-{gone.pid}-x1"
    live = tmp_path / f".out.partial-{os.getppid()}-x2"  # a process that still runs
    for folder in (stale, live):
        folder.mkdir()
        (folder / "matches.csv").write_text("half")
    with atomic_dir(tmp_path / "out") as work:
        write_text("a", work / "a.txt")
    assert not stale.exists() and live.exists()


def test_a_column_blank_in_the_last_rows_reads_without_warnings(tmp_path):
    # the footer check looks at the last rows; a column blank there warned (pandas'
    # FutureWarning on downcasting), and the warning reached the command's output
    rows = [f"L{i},2025-01-{1 + i % 28:02d},{i}.50,payee {i}," for i in range(120)]
    path = tmp_path / "ledger.csv"
    path.write_text("transaction_id,date,amount,description,reference\n" + "\n".join(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = read_table(path)
    assert len(df) == 120 and df["reference"].isna().all()
