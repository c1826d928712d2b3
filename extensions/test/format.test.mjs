// The panel's formatting, checked alone on the compiled lib/ (`jlpm build:lib` first).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkDetail, checkText, figure, keyFigures, qualityTone, storeLabel, tone, webLink, when } from '../lib/format.js';

const now = new Date('2026-03-01T12:00:00Z');

test('when: past, future, old, empty, unreadable', () => {
  assert.equal(when('2026-03-01T11:59:40Z', now), 'just now');
  assert.equal(when('2026-03-01T11:55:00Z', now), '5 min ago');
  assert.equal(when('2026-03-01T09:00:00Z', now), '3 h ago');
  assert.equal(when('2026-03-01T15:00:00Z', now), 'in 3 h');
  assert.equal(when('2026-02-27T12:00:00Z', now), '2 d ago');
  assert.equal(when('2026-01-02T08:00:00Z', now), '2026-01-02');
  assert.equal(when(null, now), '—');
  assert.equal(when('', now), '—');
  assert.equal(when('next tuesday', now), 'next tuesday');
});

test('figure: integers grouped, fractions to three digits', () => {
  assert.equal(figure(1234567), '1,234,567');
  assert.equal(figure(0.96512), '0.965');
  assert.equal(figure(12.345), '12.3');
  assert.equal(figure(2500.7), '2,501');
  assert.equal(figure(-0.5), '-0.5');
  assert.equal(figure(null), '—');
  assert.equal(figure(Number.NaN), 'NaN');
});

test('keyFigures: the first numbers, in the server\u2019s order', () => {
  assert.deepEqual(keyFigures({ rate: 0.9651, matched: 2050, f1: 0.988, extra: 1 }), [
    ['rate', '0.965'],
    ['matched', '2,050'],
    ['f1', '0.988']
  ]);
  assert.deepEqual(keyFigures({ note: 'x', auc: 0.9 }, 3), [['auc', '0.9']]);
  assert.deepEqual(keyFigures(undefined), []);
});

test('tone: a status word to its colour family', () => {
  assert.equal(tone('FINISHED'), 'good');
  assert.equal(tone('PASS'), 'good');
  assert.equal(tone('FAILED'), 'bad');
  assert.equal(tone('RUNNING'), 'busy');
  assert.equal(tone('open'), 'warn');
  assert.equal(tone('something else'), 'idle');
  assert.equal(tone(null), 'idle');
  assert.equal(qualityTone(95), 'good');
  assert.equal(qualityTone(75), 'warn');
  assert.equal(qualityTone(40), 'bad');
  assert.equal(qualityTone(null), 'idle');
});

test('webLink: only an http(s) address becomes a link', () => {
  assert.equal(webLink('http://127.0.0.1:8787/status'), 'http://127.0.0.1:8787/status');
  assert.equal(webLink(' https://dask.example/status '), 'https://dask.example/status');
  assert.equal(webLink('javascript:alert(1)'), null);
  assert.equal(webLink('tcp://127.0.0.1:40123'), null);
  assert.equal(webLink('http://a b'), null);
  assert.equal(webLink(''), null);
  assert.equal(webLink(null), null);
  assert.equal(webLink(undefined), null);
});

test('storeLabel: the file of a SQLite store, the database of a PostgreSQL one, no password', () => {
  assert.equal(storeLabel('sqlite:////tmp/wb/store/books.db'), 'books.db');
  assert.equal(storeLabel('/tmp/wb/store/books.db'), 'books.db');
  assert.equal(storeLabel('postgresql://nexus:s3cret@db.example:5432/books'), 'books on db.example:5432');
  assert.equal(storeLabel('postgresql+psycopg://db/books?sslmode=require'), 'books on db');
  assert.ok(!storeLabel('postgresql://nexus:s3cret@db/books').includes('s3cret'));
  assert.equal(storeLabel(''), '—');
});

test('checkText and checkDetail: a case check\u2019s figures in a line', () => {
  const summary = {
    folder: '/x/cases',
    ok: true,
    cases: 1,
    evidence: 2,
    evidence_ok: 2,
    evidence_failed: 0,
    custody_events: 4,
    audit_entries: 1,
    signer: null
  };
  assert.equal(checkText(summary), '2/2 evidence items intact \u00b7 4 custody events \u00b7 1 audit entry');
  assert.equal(checkText({ evidence: 1, audit_entries: 7 }), '1 evidence item \u00b7 7 audit entries');
  assert.equal(checkText('all intact'), 'all intact');
  assert.equal(checkText(null), '');
  assert.match(checkDetail(summary), /^folder: \/x\/cases\nok: true\ncases: 1\n/);
  assert.ok(!checkDetail(summary).includes('signer'));
});
