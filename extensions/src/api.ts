/**
 * The NEXUS REST API (extensions/API.md), typed.
 *
 * Every call goes through `ServerConnection.makeRequest`, which sends the Jupyter
 * token or the login cookie plus the XSRF header; an error reply becomes a
 * `NexusApiError` carrying the server's message.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IWhoAmI {
  user: string;
  display_name: string;
  roles: string[];
  role: string;
  permissions: string[];
  store: string;
  store_kind: 'sqlite' | 'postgresql';
  tracking: string;
}

export interface IRun {
  run_id: string;
  workflow: string;
  experiment: string;
  status: string;
  started: string;
  user: string;
  metrics: Record<string, number>;
  has_report: boolean;
  /** For a run computed on Dask, its Dask dashboard's address (live only while that
   * cluster runs); else null. */
  dask_dashboard?: string | null;
}

export interface IModelVersion {
  version: string | number;
  run_id: string;
  created: string;
  status: string;
  metrics: Record<string, number>;
}

export interface IModelEvent {
  version: string | number;
  by: string;
  at: string;
  note: string;
}

export interface IModel {
  name: string;
  champion: string | number | null;
  versions: IModelVersion[];
  history: IModelEvent[];
}

export interface IPromotion {
  name: string;
  version: string | number;
  previous: string | number | null;
}

export interface ICase {
  case_id: string;
  title: string;
  status: string;
  last_activity: string;
  evidence: number;
  created_by: string;
  found: string;
}

export interface IVerification {
  case_id: string;
  ok: boolean;
  verdict: 'PASS' | 'FAIL';
  first_problem: string | null;
  /** The check's figures ({folder, ok, cases, evidence, custody_events, ...}). */
  summary: Record<string, unknown> | string;
}

export interface ITimelineEvent {
  at: string;
  actor: string;
  event: string;
  detail: string;
}

export interface ITimeline {
  case_id: string;
  title: string;
  status: string;
  timeline: ITimelineEvent[];
}

export interface ITable {
  table: string;
  rows: number;
  source: string;
  quality: number | null;
}

export interface IDashboard {
  name: string;
  title: string;
  description: string;
  url: string;
}

export interface ISchedule {
  schedule_id: string;
  name: string;
  notebook: string;
  cron: string;
  next_run: string | null;
  last_status: string | null;
  last_run: string | null;
  output: string | null;
}

export interface IScheduledRun {
  schedule: string;
  status: string;
  output: string | null;
}

export type ParameterKind = 'text' | 'path' | 'number' | 'date' | 'choice';

export interface IParameter {
  name: string;
  label: string;
  kind: ParameterKind;
  default: unknown;
  choices: unknown[] | null;
}

export interface IWorkflow {
  name: string;
  title: string;
  description: string;
  category: string;
  parameters: IParameter[];
}

/**
 * An error reply of the NEXUS API: the HTTP status, the error's class and the
 * server's message (shown to the user as it is).
 */
export class NexusApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorClass: string,
    message: string
  ) {
    super(message);
    this.name = 'NexusApiError';
  }
}

/** The part of the base URL every NEXUS route lives under. */
export const API_ROOT = 'nexus/api';

function settings(): ServerConnection.ISettings {
  return ServerConnection.makeSettings();
}

/** The absolute URL of a route under the server's base URL (`path` is already encoded). */
export function nexusUrl(path: string): string {
  return URLExt.join(settings().baseUrl, API_ROOT, path);
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

async function errorOf(response: Response): Promise<NexusApiError> {
  const text = await response.text();
  let errorClass = 'Error';
  let message = text.trim() || response.statusText || `HTTP ${response.status}`;
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object') {
      errorClass = String(body.error ?? errorClass);
      message = String(body.message ?? body.reason ?? message);
    }
  } catch {
    // not JSON: a proxy's or Tornado's own page; keep its text short
    message = message.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
    if (message.length > 300) {
      message = message.slice(0, 300) + '…';
    }
  }
  return new NexusApiError(response.status, errorClass, message);
}

/**
 * Call a route of the NEXUS API and return its JSON reply.
 *
 * @param path - the route below `nexus/api`, segments already encoded
 * @param init - the request (method, body); a body is sent as JSON
 */
export async function requestAPI<T>(
  path: string,
  init: { method?: string; body?: unknown } = {}
): Promise<T> {
  const request: RequestInit = { method: init.method ?? 'GET' };
  if (init.body !== undefined) {
    request.body = JSON.stringify(init.body);
    request.headers = { 'Content-Type': 'application/json' };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(nexusUrl(path), request, settings());
  } catch (error) {
    throw new NexusApiError(0, 'NetworkError', `The server did not answer: ${error}`);
  }
  if (!response.ok) {
    throw await errorOf(response);
  }
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new NexusApiError(
      response.status,
      'BadReply',
      `The server's reply to ${path} is not JSON: ${text.slice(0, 120)}`
    );
  }
}

export const api = {
  whoami: () => requestAPI<IWhoAmI>('whoami'),
  runs: (limit = 20) =>
    requestAPI<{ runs: IRun[] }>(`runs?limit=${limit}`).then(r => r.runs),
  reportUrl: (runId: string) => nexusUrl(`runs/${segment(runId)}/report`),
  models: () => requestAPI<{ models: IModel[] }>('models').then(r => r.models),
  promote: (name: string, version: string | number, note: string) =>
    requestAPI<IPromotion>(`models/${segment(name)}/promote`, {
      method: 'POST',
      body: { version, note }
    }),
  cases: () => requestAPI<{ cases: ICase[] }>('cases').then(r => r.cases),
  verify: (caseId: string) =>
    requestAPI<IVerification>(`cases/${segment(caseId)}/verify`, { method: 'POST' }),
  timeline: (caseId: string) =>
    requestAPI<ITimeline>(`cases/${segment(caseId)}/timeline`),
  tables: () => requestAPI<{ tables: ITable[] }>('data').then(r => r.tables),
  tableNotebook: (table: string, folder: string) =>
    requestAPI<{ path: string }>(`data/${segment(table)}/notebook`, {
      method: 'POST',
      body: { folder }
    }),
  dashboards: () =>
    requestAPI<{ dashboards: IDashboard[] }>('dashboards').then(r => r.dashboards),
  schedules: () =>
    requestAPI<{ schedules: ISchedule[] }>('schedules').then(r => r.schedules),
  runSchedule: (name: string) =>
    requestAPI<IScheduledRun>(`schedules/${segment(name)}/run`, { method: 'POST' }),
  launchers: () =>
    requestAPI<{ workflows: IWorkflow[] }>('launchers').then(r => r.workflows),
  createNotebook: (workflow: string, parameters: Record<string, unknown>, folder: string) =>
    requestAPI<{ path: string }>('notebooks', {
      method: 'POST',
      body: { workflow, parameters, folder }
    })
};

/**
 * The absolute URL a dashboard's `url` names: the server gives it under its base URL
 * (either absolute or relative to the base URL).
 */
export function dashboardUrl(url: string): string {
  if (/^https?:\/\//.test(url) || url.startsWith('/')) {
    return url;
  }
  return URLExt.join(settings().baseUrl, url);
}
