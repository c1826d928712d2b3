/**
 * How the panel writes times, numbers, statuses and stores (no JupyterLab import:
 * `jlpm test` checks these functions alone).
 */

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A time as people say it: "just now", "5 min ago", "in 3 h", "2 d ago", or the
 * date itself beyond a week. An empty or unreadable value gives "—".
 */
export function when(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) {
    return '—';
  }
  const at = new Date(iso);
  if (isNaN(at.getTime())) {
    return iso;
  }
  const seconds = Math.round((at.getTime() - now.getTime()) / 1000);
  const size = Math.abs(seconds);
  const ago = seconds <= 0;
  let amount: string;
  if (size < 45) {
    return 'just now';
  } else if (size < HOUR) {
    amount = `${Math.round(size / MINUTE)} min`;
  } else if (size < DAY) {
    amount = `${Math.round(size / HOUR)} h`;
  } else if (size < 7 * DAY) {
    amount = `${Math.round(size / DAY)} d`;
  } else {
    return at.toISOString().slice(0, 10);
  }
  return ago ? `${amount} ago` : `in ${amount}`;
}

/** The full local date and time, for a tooltip. */
export function fullTime(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const at = new Date(iso);
  return isNaN(at.getTime()) ? iso : at.toLocaleString();
}

/**
 * A figure, short: integers with thousands separators, fractions with three
 * significant digits ("0.965", "12.3", "1,234").
 */
export function figure(value: number | null | undefined): string {
  if (value === null || value === undefined || typeof value !== 'number') {
    return '—';
  }
  if (!isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value)) {
    return value.toLocaleString('en-US');
  }
  const size = Math.abs(value);
  if (size >= 1000) {
    return Math.round(value).toLocaleString('en-US');
  }
  return Number(value.toPrecision(3)).toString();
}

/**
 * A run's first `count` figures as "name figure" pairs, in the server's order (it
 * sends the workflow's key figures, the telling one first).
 */
export function keyFigures(
  metrics: Record<string, number> | null | undefined,
  count = 3
): Array<[string, string]> {
  return Object.entries(metrics ?? {})
    .filter(([, value]) => typeof value === 'number')
    .slice(0, count)
    .map(([name, value]) => [name, figure(value)]);
}

export type Tone = 'good' | 'bad' | 'busy' | 'idle' | 'warn';

/** The colour family of a status word (runs, cases, schedules, verdicts). */
export function tone(status: string | null | undefined): Tone {
  const s = (status ?? '').toLowerCase();
  if (/^(finished|success|succeeded|completed|complete|pass|passed|ok|approved|closed|champion)$/.test(s)) {
    return 'good';
  }
  if (/^(failed|failure|fail|error|killed|stopped|refused|broken)$/.test(s)) {
    return 'bad';
  }
  if (/^(running|in_progress|in progress|queued|scheduled|created|started)$/.test(s)) {
    return 'busy';
  }
  if (/^(open|review|under_review|escalated|pending|staging|warning)$/.test(s)) {
    return 'warn';
  }
  return 'idle';
}

/**
 * A store's short name for the status bar: the file of a SQLite URL or path, the
 * host and database of a PostgreSQL URL (never a password).
 */
export function storeLabel(store: string | null | undefined): string {
  if (!store) {
    return '—';
  }
  const postgres = /^postgres(?:ql)?(?:\+\w+)?:\/\/(?:[^@/]*@)?([^/?]*)\/?([^?]*)/.exec(store);
  if (postgres) {
    const host = postgres[1] || 'localhost';
    return postgres[2] ? `${postgres[2]} on ${host}` : host;
  }
  const path = store.replace(/^sqlite:\/*/, '/').split('?')[0];
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : store;
}

/**
 * An address the panel may link to: an `http(s)` URL as given, anything else (a
 * `javascript:` URL, a scheduler's `tcp://`, nothing) null.
 */
export function webLink(address: string | null | undefined): string | null {
  const text = (address ?? '').trim();
  return /^https?:\/\/\S+$/i.test(text) ? text : null;
}

/** A quality score 0-100 as a word for its colour: good from 90, fair from 70. */
export function qualityTone(score: number | null | undefined): Tone {
  if (score === null || score === undefined) {
    return 'idle';
  }
  return score >= 90 ? 'good' : score >= 70 ? 'warn' : 'bad';
}

/** A case check's figures (`summary` of `POST .../verify`), or a sentence already. */
export type CheckSummary = string | Record<string, unknown> | null | undefined;

function count(value: unknown): number | null {
  return typeof value === 'number' && isFinite(value) ? value : null;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * A case check's figures in a line: "2/2 evidence items intact · 4 custody events ·
 * 7 audit entries"; a string is kept as it is.
 */
export function checkText(summary: CheckSummary): string {
  if (summary === null || summary === undefined) {
    return '';
  }
  if (typeof summary === 'string') {
    return summary;
  }
  const parts: string[] = [];
  const evidence = count(summary.evidence);
  const intact = count(summary.evidence_ok);
  if (evidence !== null) {
    parts.push(
      intact !== null ? `${intact}/${plural(evidence, 'evidence item')} intact` : plural(evidence, 'evidence item')
    );
  }
  const custody = count(summary.custody_events);
  if (custody !== null) {
    parts.push(plural(custody, 'custody event'));
  }
  const audit = count(summary.audit_entries);
  if (audit !== null) {
    parts.push(plural(audit, 'audit entry', 'audit entries'));
  }
  return parts.join(' \u00b7 ');
}

/** Every figure of a case check, one "name: value" a line (a tooltip). */
export function checkDetail(summary: CheckSummary): string {
  if (!summary || typeof summary === 'string') {
    return summary ?? '';
  }
  return Object.entries(summary)
    .filter(([, value]) => value !== null && value !== undefined && typeof value !== 'object')
    .map(([name, value]) => `${name.replace(/_/g, ' ')}: ${value}`)
    .join('\n');
}
