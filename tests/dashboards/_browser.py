"""Helpers of the dashboards' browser tests: a filled workbench, signing in, screenshots,
and the audit rows to check."""

from __future__ import annotations

import http.cookiejar
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "dashboards"
PEOPLE = {  # user: role; each one's password is "<user>-passphrase"
    "lead": "admin", "ana": "examiner", "jo": "judge", "pat": "prosecutor",
    "eve": "executive", "cora": "compliance_officer", "aud": "auditor",
}


def password(user: str) -> str:
    return f"{user}-passphrase"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Markup an adversary types wherever the workbench keeps text (it must show as text).
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = "<script>alert(2)</script>"


def fill_workbench(folder: Path, *, monthly: bool = False, hostile: bool = False) -> dict:
    """A store with every point of view's user, a saved reconciliation (of the year, or
    with ``monthly`` one per month) and fraud scores from the real kernels; returns what the
    tests need to know about it.

    With ``hostile``, markup (:data:`HOSTILE`, :data:`HOSTILE_SCRIPT`) is in the bank's
    descriptions, three bank transaction ids (left open), the name of the bank's file,
    vendor names, users' display names and the name of an examiner (password
    ``hostile-passphrase``), a cleared flag's justification and an escalated flag's case
    title and note.
    """
    import pandas as pd

    import nexus_lab as nx
    from nexus_lab import auth, config, review, workflows

    env = workbench_env(folder)
    with config.environ(env):
        s = nx.store.connect(env["NEXUS_LAB_STORE"])
        s.migrate()
        auth.add_user("lead", role="admin", password=password("lead"), store=s)
        with auth.acting_as("lead"):
            for user, role in PEOPLE.items():
                if user != "lead":
                    auth.add_user(user, role=role, password=password(user), store=s,
                                  display_name=HOSTILE + user if hostile else user.title())
            if hostile:
                auth.add_user(HOSTILE, role="examiner", password="hostile-passphrase",
                              store=s, display_name=HOSTILE_SCRIPT)
        bank, ledger, _ = nx.datasets.synth_reconciliation(1500, seed=3)
        tx = nx.datasets.synth_transactions(4000, seed=2, days=90)
        if hostile:
            bank, tx = _hostile(bank, tx)
        with auth.acting_as("ana"):
            if hostile:  # a file whose name is markup
                bank.to_csv(folder / f"{HOSTILE}.csv", index=False)
                workflows.ingest_file(folder / f"{HOSTILE}.csv", store=s, check_balance=False)
            else:
                s.ingest("bank_statements", bank)
            s.ingest("expenses", ledger)
            months = pd.date_range(bank["date"].min(), bank["date"].max(), freq="MS")
            for start in months if monthly else [None]:
                _, run_id = workflows.reconcile_from_store(
                    s, device="cpu", start=start, end=None if start is None else
                    start + pd.offsets.MonthEnd(0))
            det = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(
                tx.drop(columns=["pattern", "is_fraud"], errors="ignore"))
            scored = det.score(tx.drop(columns=["pattern", "is_fraud"], errors="ignore"))
            fraud_run = workflows.save_fraud_scores(scored, tx, store=s, model="test",
                                                  detector=det)
            if hostile:
                first, second = review.fraud_queue_page(fraud_run, limit=2, store=s)[0]["id"]
                review.clear_flag(int(first), f"{HOSTILE}{HOSTILE_SCRIPT} cleared", store=s)
                workflows.escalate_to_case(int(second), f"{HOSTILE}{HOSTILE_SCRIPT} why",
                                           title=f"{HOSTILE}{HOSTILE_SCRIPT} title", store=s)
        s.close()
    return {"store": env["NEXUS_LAB_STORE"], "run_id": run_id, "fraud_run": fraud_run,
            "env": env, "folder": folder}


def _hostile(bank, tx):
    """The bank statement and transactions with markup in their text (see fill_workbench)."""
    import pandas as pd

    bank = bank.copy()
    bank["description"] = [(HOSTILE if i % 2 else HOSTILE_SCRIPT) + " " + str(d)
                           for i, d in enumerate(bank["description"])]
    extra = bank.head(3).assign(transaction_id=[f"{HOSTILE}{i}" for i in range(3)],
                                amount=[-7.77, -8.88, -9.99])
    tx = tx.assign(vendor=[(HOSTILE if i % 2 else HOSTILE_SCRIPT) + str(v)
                           for i, v in enumerate(tx["vendor"])])
    return pd.concat([bank, extra], ignore_index=True), tx


def workbench_env(folder: Path) -> dict[str, str]:
    """The settings a workbench in ``folder`` runs with (store, keys, cases, tracking)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "NEXUS_LAB_STORE": f"sqlite:///{(folder / 'nexus.db').as_posix()}",
        "XDG_DATA_HOME": str(folder / "data"),
        "NEXUS_LAB_KEY_PASSWORD": "workbench key password",
        "NEXUS_LAB_CASES": str(folder / "cases"),
        "NEXUS_LAB_REPORTS": str(folder / "reports"),
        "NEXUS_LAB_COOKIE_SECRET": "cookie-secret-of-the-tests-" + "x" * 24,
        "MLFLOW_TRACKING_URI": f"sqlite:///{(folder / 'mlflow.db').as_posix()}",
    }


def login(page, base: str, user: str, path: str = "") -> None:
    """Sign ``user`` in through the login form and wait for the page they land on."""
    page.goto(f"{base}/login" if not path else f"{base}/{path}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password(user))
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    wait_rendered(page)


def wait_rendered(page, timeout: float = 30_000) -> None:
    """Wait until Bokeh has rendered the page's document and the server is idle: no
    callback under way in its threads (the template's busy spinner is off)."""
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents && Bokeh.documents.length > 0 && "
        "Bokeh.documents[0].is_idle && ![...Bokeh.documents[0].all_models].some("
        "m => m.type && m.type.endsWith('LoadingSpinner') && m.value)", timeout=timeout)


def shot(page, name: str) -> Path:
    """Screenshot the page into out/dashboards/NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def audit_rows(store_url: str, action: str) -> list[dict]:
    import nexus_lab as nx

    s = nx.store.connect(store_url)
    try:
        rows = s.query("select user_id, action, resource_id, outcome from audit_logs where "
                       "action = :a order by id", {"a": action})
        return rows.to_dict("records")
    finally:
        s.close()


def bokeh_click(page, css_class: str) -> None:
    """Send the server a click of the button with ``css_class`` straight through Bokeh's
    websocket, as a forged request would: whether or not the page shows it."""
    page.evaluate("""(cls) => {
        const doc = Bokeh.documents[0];
        const m = [...doc.all_models].find(m => (m.css_classes || []).includes(cls));
        if (!m) throw new Error('no model with class ' + cls);
        const {ButtonClick} = Bokeh.require('core/bokeh_events');
        m.trigger_event(new ButtonClick());
    }""", css_class)


def rows_sent(page, table: str) -> int:
    """How many rows the server sent the browser for the table named ``table``."""
    return page.evaluate("""(cls) => {
        const doc = Bokeh.documents[0];
        const m = [...doc.all_models].find(m => (m.css_classes || []).includes(cls));
        return m.source.get_length();
    }""", f"nx-table-{table.replace(' ', '-')}")


def store_query(workbench: dict, sql: str, params: dict | None = None):
    """The rows of ``sql`` in the workbench's store (a connection of its own)."""
    import nexus_lab as nx

    s = nx.store.connect(workbench["store"])
    try:
        return s.query(sql, params or {})
    finally:
        s.close()


def until(check, timeout: float = 20.0):
    """What ``check()`` returns once it is not None (the server acts after a click), or
    None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got is not None or time.monotonic() > deadline:
            return got
        time.sleep(0.25)


def page_text(page) -> str:
    """All the text the page shows, inside Panel's shadow roots too (``inner_text`` of the
    body stops at them)."""
    return page.evaluate("""() => {
        const out = [];
        const walk = (node) => {
            if (node.shadowRoot) walk(node.shadowRoot);
            for (const child of node.childNodes) {
                if (child.nodeType === Node.TEXT_NODE) out.push(child.textContent);
                else if (!['SCRIPT', 'STYLE'].includes(child.nodeName)) walk(child);
            }
        };
        walk(document.body);
        return out.join(' ').replace(/\\s+/g, ' ');
    }""")


def plot_data(page, name: str) -> dict | None:
    """The labels and values the Bokeh chart named ``name`` draws (a chart drawn again is
    a new model: the last one), or None when the page has no such chart."""
    return page.evaluate("""(name) => {
        const fig = [...Bokeh.documents[0].all_models].filter(m => m.name === name).pop();
        if (!fig) return null;
        const source = fig.renderers.find(r => r.data_source).data_source;
        return {label: Array.from(source.data.label), value: Array.from(source.data.value)};
    }""", name)


class Client:
    """A cookie jar that follows no redirect: each answer is seen as the server sent it."""

    class _Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), self._Stay)

    def open(self, path: str, form: dict | None = None) -> tuple[int, str, str]:
        """``(status, Location, body)`` of a GET, or of a POST of ``form``."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as answer:
                return answer.status, answer.headers.get("Location", ""), answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Location", ""), err.read().decode()

    def sign_in(self, user: str, secret: str | None = None, next_url: str | None = None
                ) -> tuple[int, str, str]:
        self.open("/login" + (f"?{urllib.parse.urlencode({'next': next_url})}"
                              if next_url is not None else ""))
        return self.open("/login", {"username": user,
                                    "password": password(user) if secret is None else secret})
