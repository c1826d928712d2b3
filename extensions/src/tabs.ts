/**
 * Main-area tabs: a page of the server in a sandboxed frame (a dashboard, a run's
 * report), and a case's timeline.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IFrame, LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ITimeline } from './api';
import { fullTime, tone } from './format';
import { nexusIcon } from './icons';

const open = new Map<string, Widget>();

/** Bring the tab of this id forward when it is open; true when it was. */
function reveal(app: JupyterFrontEnd, id: string): boolean {
  const widget = open.get(id);
  if (widget && !widget.isDisposed) {
    app.shell.activateById(widget.id);
    return true;
  }
  return false;
}

function add(app: JupyterFrontEnd, id: string, widget: MainAreaWidget): void {
  widget.id = id;
  open.set(id, widget);
  widget.disposed.connect(() => open.delete(id));
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
}

function tabId(kind: string, name: string): string {
  return `nexus-${kind}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export interface IFrameTabOptions {
  /** A short, unique key for this page (a dashboard's name, a run's id). */
  key: string;
  kind: 'dashboard' | 'report';
  title: string;
  url: string;
  caption?: string;
  icon?: LabIcon;
}

/**
 * A page of this server in a main-area tab. Dashboards are Panel apps that need
 * scripts, their own origin (cookies, websockets) and forms (sign-in); reports are
 * static pages and get scripts only, in an opaque origin.
 */
export function openFrameTab(app: JupyterFrontEnd, options: IFrameTabOptions): Widget {
  const id = tabId(options.kind, options.key);
  if (reveal(app, id)) {
    return open.get(id)!;
  }
  const sandbox: IFrame.SandboxExceptions[] =
    options.kind === 'dashboard'
      ? ['allow-scripts', 'allow-same-origin', 'allow-forms', 'allow-downloads']
      : ['allow-scripts', 'allow-popups', 'allow-downloads'];
  const content = new IFrame({ sandbox, referrerPolicy: 'same-origin' });
  content.url = options.url;
  content.addClass('nx-FrameTab');
  const widget = new MainAreaWidget({ content });
  widget.title.label = options.title;
  widget.title.caption = options.caption ?? options.title;
  widget.title.icon = options.icon ?? nexusIcon;
  widget.title.closable = true;
  add(app, id, widget);
  return widget;
}

/** A case's timeline in a main-area tab: who did what, when, oldest first. */
export function openTimelineTab(app: JupyterFrontEnd, timeline: ITimeline): Widget {
  const id = tabId('timeline', timeline.case_id);
  const existing = open.get(id);
  if (existing && !existing.isDisposed) {
    existing.dispose(); // redrawn: the case may have moved on since
  }
  const content = new Widget();
  content.addClass('nx-Timeline');
  renderTimeline(content.node, timeline);
  const widget = new MainAreaWidget({ content });
  widget.title.label = `Timeline: ${timeline.case_id}`;
  widget.title.caption = timeline.title;
  widget.title.icon = nexusIcon;
  widget.title.closable = true;
  add(app, id, widget);
  return widget;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function renderTimeline(root: HTMLElement, timeline: ITimeline): void {
  const header = el('header', 'nx-Timeline-header');
  header.append(el('h2', 'nx-Timeline-title', timeline.title || timeline.case_id));
  const meta = el('div', 'nx-Timeline-meta');
  meta.append(el('span', 'nx-Timeline-id', timeline.case_id));
  const status = el('span', `nx-Badge nx-tone-${tone(timeline.status)}`, timeline.status);
  meta.append(status);
  meta.append(el('span', 'nx-muted', `${timeline.timeline.length} events`));
  header.append(meta);
  root.append(header);

  if (!timeline.timeline.length) {
    root.append(el('p', 'nx-empty', 'Nothing has happened to this case yet.'));
    return;
  }
  const list = el('ol', 'nx-Timeline-list');
  for (const event of timeline.timeline) {
    const item = el('li', 'nx-Timeline-event');
    const time = el('time', 'nx-Timeline-at', fullTime(event.at));
    time.dateTime = event.at;
    item.append(time);
    const body = el('div', 'nx-Timeline-body');
    const line = el('div', 'nx-Timeline-line');
    line.append(el('span', 'nx-Timeline-event-name', event.event));
    line.append(el('span', 'nx-muted', ` by ${event.actor}`));
    body.append(line);
    if (event.detail) {
      body.append(el('div', 'nx-Timeline-detail', event.detail));
    }
    item.append(body);
    list.append(item);
  }
  root.append(list);
}
