"""How fast the reconciliation review answers on a million-row reconciliation, in a browser.

A real run: ``nx.datasets.synth_reconciliation(--rows)`` is ingested into a SQLite store,
reconciled from it and saved (``nx.workflows.reconcile_from_store``: about a million
matches and their open items), an examiner with a password is added, and ``nexus-lab
dashboards serve`` is started in its own process. Debian's chromium (Playwright) signs
in, then:

* **open**: from navigating to ``/review`` until the page shows the run's figures and the
  open items' first page ("rows 1–50 of N") and Bokeh is idle — measured with the
  browser's own clock (``performance.now()`` in the page, from navigation start);
* **filter**: from a change in the page (set on the widget's Bokeh model, as a user's
  click would) until the table's rows are replaced by the server's answer and the
  document is idle, for: a reason filter on the open items, opening the Matches tab (its
  first page), a transaction-id search on the matches, a confidence range, the next
  page, a sort by a column header.

Each is repeated ``--repeats`` times (the median and the slowest are reported). The
anchor, in this process: what the obvious alternative costs before anything can show —
reading the run's matches whole (``store.read``) into the frame a Tabulator with
``pagination="remote"`` would page.

Usage::

    python experiments/bench_dashboards.py [--rows 1000000] [--repeats 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _tables import markdown  # experiments/_tables.py, beside this script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import nexus_lab as nx  # noqa: E402
from nexus_lab import auth, workflows  # noqa: E402

USER, PASSWORD = "ana", "ana-passphrase"


def _env(folder: Path) -> dict[str, str]:
    return {"NEXUS_LAB_STORE": f"sqlite:///{(folder / 'nexus.db').as_posix()}",
            "XDG_DATA_HOME": str(folder / "data"),
            "NEXUS_LAB_COOKIE_SECRET": "bench-cookie-secret-" + "x" * 30,
            "NEXUS_LAB_ACTOR": USER}


def build(folder: Path, rows: int) -> dict:
    """The store: ingested, reconciled and saved; seconds of each step."""
    env = _env(folder)
    os.environ.update(env)
    s = nx.store.connect(env["NEXUS_LAB_STORE"])
    s.migrate()
    if len(auth.users(store=s)) == 0:
        auth.add_user("lead", role="admin", store=s)
        with auth.acting_as("lead"):
            auth.add_user(USER, role="examiner", password=PASSWORD, store=s)
    existing = s.query("select run_id, matched_pairs, open_items from reconciliation_runs")
    if len(existing):
        run = existing.iloc[0]
        return {"run_id": run["run_id"], "matches": int(run["matched_pairs"]),
                "open_items": int(run["open_items"]), "steps": {}}
    steps = {}
    t = time.perf_counter()
    bank, ledger, _ = nx.datasets.synth_reconciliation(rows, seed=11)
    steps["generate"] = time.perf_counter() - t
    t = time.perf_counter()
    s.ingest("bank_statements", bank)
    s.ingest("expenses", ledger)
    steps["ingest both sides"] = time.perf_counter() - t
    del bank, ledger
    t = time.perf_counter()
    _, run_id = workflows.reconcile_from_store(s, device="cpu")
    steps["reconcile and save"] = time.perf_counter() - t
    run = s.query("select matched_pairs, open_items from reconciliation_runs where run_id = "
                  ":r", {"r": run_id}).iloc[0]
    return {"run_id": run_id, "matches": int(run["matched_pairs"]),
            "open_items": int(run["open_items"]), "steps": steps}


def anchor(folder: Path, run_id: str) -> float:
    """Seconds to read the run's matches whole, as remote pagination would need them."""
    s = nx.store.connect(_env(folder)["NEXUS_LAB_STORE"])
    t = time.perf_counter()
    frame = s.read("reconciliation_matches", where={"run_id": run_id})
    seconds = time.perf_counter() - t
    del frame
    return seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexus_lab.cli", "dashboards", "serve", "--port", str(port)],
        env={**os.environ, **_env(folder), "PYTHONPATH": str(ROOT)}, stdout=log,
        stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError((folder / "server.log").read_text())


# In the page: make a change as a user's click would (on the widget's Bokeh model), and
# time until the table's rows are replaced by the server's answer and drawn.
_TIMED = """async ([change, table]) => {
  const doc = Bokeh.documents[0];
  const find = (c) => [...doc.all_models].find(m => (m.css_classes || []).includes(c));
  const rows = () => { const m = find('nx-table-' + table); return m ? m.source.data : null; };
  const before = rows();
  const t0 = performance.now();
  const done = new Promise((resolve) => {
    const check = () => (rows() !== before && doc.is_idle ? resolve(performance.now() - t0)
                                                          : requestAnimationFrame(check));
    requestAnimationFrame(check);
  });
  eval(change);
  const ms = await Promise.race([done, new Promise(r => setTimeout(() => r(-1), 20000))]);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return ms;
}"""
_MODEL = "[...Bokeh.documents[0].all_models].find(m => (m.css_classes || []).includes('{}'))"
_CLICK = "{}.trigger_event(new (Bokeh.require('core/bokeh_events').ButtonClick)())"
_TABS = ("[...Bokeh.documents[0].all_models].find(m => m.type && m.type.endsWith('Tabs') && "
         "m.tabs.length === 2)")

# (what, change, the table whose rows it replaces, the change that undoes it (untimed))
ACTIONS = [
    ("filter open items by a reason",
     f"const m = {_MODEL.format('nx-filter-reasons')}; m.value = [m.options[0]]", "open-items",
     f"{_MODEL.format('nx-filter-reasons')}.value = []"),
    ("open the Matches tab (its first page)", f"{_TABS}.active = 1", "matches", None),
    ("search matches by transaction id", f"{_MODEL.format('nx-filter-search')}.value = 'B00123'",
     "matches", f"{_MODEL.format('nx-filter-search')}.value = ''"),
    ("confidence range 60-95",
     f"const m = {_MODEL.format('nx-filter-confidence')}; m.value = [60, 95]; "
     "m.value_throttled = [60, 95]", "matches",
     f"const m = {_MODEL.format('nx-filter-confidence')}; m.value = [0, 100]; "
     "m.value_throttled = [0, 100]"),
    ("next page of matches", _CLICK.format(_MODEL.format("nx-table-matches-next")), "matches",
     None),
    ("sort matches by bank id (header click)",
     f"{_MODEL.format('nx-table-matches')}.sorters = [{{field: 'Bank id', dir: 'desc'}}]",
     "matches", None),
]


def _open(page, base: str) -> float:
    page.goto(f"{base}/review")
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle && "
        "[...Bokeh.documents[0].all_models].filter(m => (m.css_classes || [])"
        ".includes('nx-pager-status') && /of /.test(m.text || '')).length >= 1",
        polling="raf", timeout=60_000)
    return page.evaluate("() => performance.now()")


def browser_timings(base: str, repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium: install Debian's `chromium` package")
    times: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        _open(page, base)  # a first visit warms the server's imports
        for _ in range(repeats):
            times.setdefault("open the review (to its figures and first page)", []).append(
                _open(page, base))
            for name, change, table, undo in ACTIONS:
                times.setdefault(name, []).append(page.evaluate(_TIMED, [change, table]))
                if undo:
                    page.evaluate(_TIMED, [undo, table])
        page.screenshot(path=str(ROOT / "out" / "bench-review.png"), full_page=True)
        browser.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per side")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", default=None,
                    help="a folder to keep the store in (reused when it holds one)")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nx-dash-"))
    folder.mkdir(parents=True, exist_ok=True)
    (ROOT / "out").mkdir(exist_ok=True)
    made = build(folder, args.rows)
    read_whole = anchor(folder, made["run_id"])
    proc, base = _serve(folder)
    try:
        times = browser_timings(base, args.repeats)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    rows = [{"what": name, "median ms": f"{statistics.median(v):.0f}",
             "slowest ms": f"{max(v):.0f}", "target": "≤ 2000" if name.startswith("open the review")
             else "≤ 300"} for name, v in times.items()]
    print(f"# bench_dashboards: {platform.node()} ({os.cpu_count()} cores), "
          f"{time.strftime('%Y-%m-%d')}, chromium headless")
    print(f"run: {made['matches']:,} matches, {made['open_items']:,} open items "
          f"({args.rows:,} rows per side); store {folder / 'nexus.db'} "
          f"({(folder / 'nexus.db').stat().st_size / 1e9:.2f} GB)")
    for step, seconds in made["steps"].items():
        print(f"  {step}: {seconds:.1f} s")
    print()
    print(markdown(pd.DataFrame(rows)))
    print()
    print(f"anchor: reading the run's matches whole (store.read, as Tabulator's remote "
          f"pagination needs them in memory): {read_whole:.2f} s before the first row shows")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
