/**
 * The NEXUS panel in the left sidebar: runs and models, cases, the store's tables,
 * dashboards and schedules, each a collapsible section that loads on its own and
 * shows the server's message when it cannot.
 */
import { CommandRegistry } from '@lumino/commands';
import { ISignal, Signal } from '@lumino/signaling';
import { ReactWidget, refreshIcon, caretDownIcon, caretRightIcon, launchIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  api,
  ICase,
  IDashboard,
  IModel,
  IRun,
  ISchedule,
  ITable,
  IVerification,
  IWhoAmI,
  NexusApiError
} from './api';
import { CommandIDs } from './commands';
import { checkDetail, checkText, figure, fullTime, keyFigures, qualityTone, tone, webLink, when } from './format';

/** The sections, by the name `refresh([...])` takes. */
export type SectionName = 'runs' | 'cases' | 'data' | 'dashboards' | 'schedules';

const SECTIONS: SectionName[] = ['runs', 'cases', 'data', 'dashboards', 'schedules'];

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Loads `load()` now and again each time `version` changes. */
function useLoad<T>(load: () => Promise<T>, version: number) {
  const [state, setState] = React.useState<{ data?: T; error?: string; loading: boolean }>({
    loading: true
  });
  React.useEffect(() => {
    let live = true;
    setState(previous => ({ ...previous, loading: true }));
    load().then(
      data => live && setState({ data, loading: false }),
      error => live && setState(previous => ({ data: previous.data, error: messageOf(error), loading: false }))
    );
    return () => {
      live = false;
    };
  }, [version]);
  return state;
}

function Badge(props: { text: string; tone?: string; title?: string }) {
  return (
    <span className={`nx-Badge nx-tone-${props.tone ?? tone(props.text)}`} title={props.title}>
      {props.text}
    </span>
  );
}

function When(props: { at: string | null | undefined; prefix?: string }) {
  return (
    <time className="nx-When" dateTime={props.at ?? undefined} title={fullTime(props.at)}>
      {props.prefix}
      {when(props.at)}
    </time>
  );
}

function ErrorLine(props: { message?: string }) {
  return props.message ? (
    <div className="nx-Error" role="alert">
      {props.message}
    </div>
  ) : null;
}

function Empty(props: { children: React.ReactNode }) {
  return <div className="nx-empty">{props.children}</div>;
}

function Action(props: {
  label: string;
  title?: string;
  onClick: () => void;
  busy?: boolean;
  disabled?: boolean;
  icon?: boolean;
}) {
  return (
    <button
      type="button"
      className={`nx-Action${props.icon ? ' nx-Action-icon' : ''}`}
      title={props.title ?? props.label}
      aria-label={props.icon ? props.label : undefined}
      onClick={event => {
        event.stopPropagation();
        props.onClick();
      }}
      disabled={props.busy || props.disabled}
      aria-busy={props.busy}
    >
      {props.icon ? <launchIcon.react tag="span" elementSize="small" /> : props.busy ? `${props.label}\u2026` : props.label}
    </button>
  );
}

function Section(props: {
  name: SectionName;
  title: string;
  count?: number;
  loading: boolean;
  error?: string;
  children: React.ReactNode;
}) {
  const [open, setOpen] = React.useState(true);
  const Caret = open ? caretDownIcon : caretRightIcon;
  return (
    <section className="nx-Section" data-section={props.name} aria-busy={props.loading}>
      <h3 className="nx-Section-header">
        <button
          type="button"
          className="nx-Section-toggle"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          <Caret.react tag="span" elementSize="small" className="nx-Section-caret" />
          <span className="nx-Section-title">{props.title}</span>
          {props.count !== undefined && <span className="nx-Section-count">{props.count}</span>}
          {props.loading && <span className="nx-Spinner" aria-label="loading" />}
        </button>
      </h3>
      {open && (
        <div className="nx-Section-body">
          <ErrorLine message={props.error} />
          {props.children}
        </div>
      )}
    </section>
  );
}

interface IPanelProps {
  commands: CommandRegistry;
  versions: Record<SectionName, number>;
  whoami?: IWhoAmI;
}

/** Run a command from the panel: its error comes back here, a cancel is no error. */
async function runCommand<T>(commands: CommandRegistry, id: string, args: Record<string, any>): Promise<T | undefined> {
  try {
    return (await commands.execute(id, { ...args, fromPanel: true })) as T;
  } catch (error) {
    if (error instanceof Error && error.name === 'Cancelled') {
      return undefined;
    }
    throw error;
  }
}

/** An action's state: busy while it runs, its error after. */
function useAction() {
  const [busy, setBusy] = React.useState<string | null>(null);
  const [errors, setErrors] = React.useState<Record<string, string>>({});
  const run = async <T,>(key: string, action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(key);
    setErrors(previous => ({ ...previous, [key]: '' }));
    try {
      return await action();
    } catch (error) {
      setErrors(previous => ({ ...previous, [key]: messageOf(error) }));
      return undefined;
    } finally {
      setBusy(null);
    }
  };
  return { busy, errors, run };
}

function RunRow(props: { run: IRun; commands: CommandRegistry }) {
  const { run, commands } = props;
  const { busy, errors, run: act } = useAction();
  const open = (browser: boolean) =>
    act('report', () =>
      runCommand(commands, CommandIDs.openReport, { runId: run.run_id, title: run.workflow, browser })
    );
  const dashboard = webLink(run.dask_dashboard);
  return (
    <li className="nx-Item" data-run-id={run.run_id}>
      <div className="nx-Item-line">
        <span className="nx-Item-name" title={`${run.experiment} \u00b7 run ${run.run_id}`}>
          {run.workflow}
        </span>
        <Badge text={run.status} />
      </div>
      {keyFigures(run.metrics).length > 0 && (
        <div className="nx-Figures">
          {keyFigures(run.metrics).map(([name, value]) => (
            <span className="nx-Figure" key={name} title={`${name}: ${run.metrics[name]}`}>
              <span className="nx-Figure-name">{name}</span> {value}
            </span>
          ))}
        </div>
      )}
      <div className="nx-Item-line nx-Item-meta">
        <span>
          <When at={run.started} /> · {run.user || 'unknown'}
        </span>
        {run.has_report && (
          <span className="nx-Actions">
            <Action label="Report" title="Open the report in a tab" busy={busy === 'report'} onClick={() => open(false)} />
            <Action label="Report in a browser tab" icon onClick={() => open(true)} />
          </span>
        )}
      </div>
      {dashboard !== null && (
        <div className="nx-Item-line nx-Item-meta nx-Dask">
          <span>Computed on Dask</span>
          <a
            className="nx-Link nx-DaskLink"
            href={dashboard}
            target="_blank"
            rel="noopener noreferrer"
            title={`${dashboard} (live while the cluster runs: a cluster made for one job closes when it ends)`}
          >
            Dask dashboard
          </a>
        </div>
      )}
      <ErrorLine message={errors.report} />
    </li>
  );
}

function ModelCard(props: { model: IModel; commands: CommandRegistry; mayPromote: boolean }) {
  const { model, commands, mayPromote } = props;
  const [expanded, setExpanded] = React.useState(false);
  const { busy, errors, run } = useAction();
  const champion = model.champion === null || model.champion === undefined ? null : String(model.champion);
  const versions = [...model.versions].sort((a, b) => Number(b.version) - Number(a.version));
  return (
    <li className="nx-Item nx-Model" data-model={model.name}>
      <div className="nx-Item-line">
        <span className="nx-Item-name">{model.name}</span>
        {champion !== null ? <Badge text={`champion v${champion}`} tone="good" /> : <Badge text="no champion" tone="idle" />}
      </div>
      <div className="nx-Item-line nx-Item-meta">
        <span>
          {versions.length} version{versions.length === 1 ? '' : 's'}
        </span>
        <button type="button" className="nx-Link" aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>
          {expanded ? 'Hide versions' : 'Versions & history'}
        </button>
      </div>
      <ErrorLine message={Object.values(errors).find(Boolean)} />
      {expanded && (
        <div className="nx-Model-detail">
          <ul className="nx-Versions">
            {versions.map(version => {
              const isChampion = String(version.version) === champion;
              return (
                <li key={String(version.version)} className="nx-Version" data-version={String(version.version)}>
                  <div className="nx-Item-line">
                    <span>
                      <strong>v{String(version.version)}</strong>{' '}
                      {isChampion ? <Badge text="champion" tone="good" /> : version.status && <Badge text={version.status} />}
                    </span>
                    {!isChampion && (
                      <Action
                        label="Promote"
                        title={mayPromote ? `Make version ${version.version} the champion` : 'Promoting needs the models.promote permission'}
                        busy={busy === `v${version.version}`}
                        onClick={() =>
                          run(`v${version.version}`, () =>
                            runCommand(commands, CommandIDs.promote, { name: model.name, version: String(version.version) })
                          ).then(() => undefined)
                        }
                      />
                    )}
                  </div>
                  <div className="nx-Item-meta">
                    <When at={version.created} />
                    {keyFigures(version.metrics, 2).map(([name, value]) => (
                      <span key={name}>
                        {' \u00b7 '}
                        {name} {value}
                      </span>
                    ))}
                  </div>
                </li>
              );
            })}
          </ul>
          <div className="nx-Subtitle">History</div>
          {model.history.length === 0 && <Empty>No promotions yet.</Empty>}
          {model.history.length > 0 && (
            <>
              <ol className="nx-History">
                {[...model.history].reverse().map((event, index) => (
                  <li key={index}>
                    <span>
                      v{String(event.version)} by {event.by}
                    </span>{' '}
                    <When at={event.at} />
                    {event.note && <div className="nx-muted">{event.note}</div>}
                  </li>
                ))}
              </ol>
            </>
          )}
        </div>
      )}
    </li>
  );
}

function RunsSection(props: IPanelProps) {
  const runs = useLoad(() => api.runs(20), props.versions.runs);
  const models = useLoad(() => api.models(), props.versions.runs);
  const mayPromote = props.whoami?.permissions?.includes('models.promote') ?? true;
  return (
    <Section
      name="runs"
      title="Runs & models"
      count={runs.data?.length}
      loading={runs.loading || models.loading}
      error={runs.error}
    >
      <div className="nx-Subtitle">Recent runs</div>
      {runs.data && runs.data.length === 0 && <Empty>No runs yet.</Empty>}
      <ul className="nx-List nx-Runs">
        {runs.data?.map(run => <RunRow key={run.run_id} run={run} commands={props.commands} />)}
      </ul>
      <div className="nx-Subtitle">Registered models</div>
      <ErrorLine message={models.error} />
      {models.data && models.data.length === 0 && <Empty>No registered models.</Empty>}
      <ul className="nx-List nx-Models">
        {models.data?.map(model => (
          <ModelCard key={model.name} model={model} commands={props.commands} mayPromote={mayPromote} />
        ))}
      </ul>
    </Section>
  );
}

function CaseRow(props: { item: ICase; commands: CommandRegistry }) {
  const { item, commands } = props;
  const { busy, errors, run } = useAction();
  const [verdict, setVerdict] = React.useState<IVerification | null>(null);
  return (
    <li className="nx-Item" data-case-id={item.case_id}>
      <div className="nx-Item-line">
        <span className="nx-Item-name" title={item.title}>
          {item.case_id}
        </span>
        <Badge text={item.status} />
      </div>
      {item.title && <div className="nx-Item-title">{item.title}</div>}
      <div className="nx-Item-line nx-Item-meta">
        <span>
          <When at={item.last_activity} /> · {figure(item.evidence)} evidence
        </span>
        <span className="nx-Actions">
          <Action
            label="Verify"
            title="Check the evidence, the custody chain and the signatures"
            busy={busy === 'verify'}
            onClick={() =>
              run('verify', () => runCommand<IVerification>(commands, CommandIDs.verifyCase, { caseId: item.case_id })).then(
                result => result && setVerdict(result)
              )
            }
          />
          <Action
            label="Timeline"
            busy={busy === 'timeline'}
            onClick={() => run('timeline', () => runCommand(commands, CommandIDs.caseTimeline, { caseId: item.case_id }))}
          />
        </span>
      </div>
      {verdict && (
        <div className="nx-Verdict" data-verdict={verdict.verdict}>
          <Badge text={verdict.verdict} tone={verdict.ok ? 'good' : 'bad'} title={checkDetail(verdict.summary)} />
          <span className="nx-Verdict-text" title={checkDetail(verdict.summary)}>
            {verdict.ok ? checkText(verdict.summary) : verdict.first_problem ?? checkText(verdict.summary)}
          </span>
        </div>
      )}
      <ErrorLine message={errors.verify || errors.timeline} />
    </li>
  );
}

/** A section that is one list: loaded with `load`, each item drawn by `children`. */
function ListSection<T>(props: {
  name: SectionName;
  title: string;
  version: number;
  load: () => Promise<T[]>;
  empty: string;
  children: (item: T) => React.ReactNode;
}) {
  const list = useLoad(props.load, props.version);
  return (
    <Section name={props.name} title={props.title} count={list.data?.length} loading={list.loading} error={list.error}>
      {list.data && list.data.length === 0 && <Empty>{props.empty}</Empty>}
      <ul className="nx-List">{list.data?.map(props.children)}</ul>
    </Section>
  );
}

function CasesSection(props: IPanelProps) {
  return (
    <ListSection name="cases" title="Cases" version={props.versions.cases} load={api.cases} empty="No open cases.">
      {item => <CaseRow key={item.case_id} item={item} commands={props.commands} />}
    </ListSection>
  );
}

function TableRow(props: { table: ITable; commands: CommandRegistry }) {
  const { table, commands } = props;
  const { busy, errors, run } = useAction();
  return (
    <li className="nx-Item" data-table={table.table}>
      <div className="nx-Item-line">
        <span className="nx-Item-name">{table.table}</span>
        {table.quality !== null && table.quality !== undefined ? (
          <Badge text={`quality ${Math.round(table.quality)}`} tone={qualityTone(table.quality)} title="Quality score, 0-100" />
        ) : (
          <Badge text="quality —" tone="idle" title="No quality score yet" />
        )}
      </div>
      <div className="nx-Item-line nx-Item-meta">
        <span title={table.source ? `latest source: ${table.source}` : undefined}>
          {figure(table.rows)} {table.rows === 1 ? 'row' : 'rows'}
          {table.source ? ` \u00b7 ${table.source}` : ''}
        </span>
        <Action
          label="Open as DataFrame"
          title="A new notebook that loads this table"
          busy={busy === 'open'}
          onClick={() => run('open', () => runCommand(commands, CommandIDs.openTable, { table: table.table }))}
        />
      </div>
      <ErrorLine message={errors.open} />
    </li>
  );
}

function DataSection(props: IPanelProps) {
  return (
    <ListSection name="data" title="Data" version={props.versions.data} load={api.tables} empty="The store has no tables yet.">
      {table => <TableRow key={table.table} table={table} commands={props.commands} />}
    </ListSection>
  );
}

function DashboardRow(props: { dashboard: IDashboard; commands: CommandRegistry }) {
  const { dashboard: d, commands } = props;
  const { errors, run } = useAction();
  const open = () =>
    run('open', () => runCommand(commands, CommandIDs.openDashboard, { name: d.name, title: d.title, url: d.url }));
  return (
    <li className="nx-Item" data-dashboard={d.name}>
      <button type="button" className="nx-Item-button" title={`Open ${d.title || d.name} in a tab`} onClick={open}>
        <span className="nx-Item-name">{d.title || d.name}</span>
        {d.description && <span className="nx-Item-title">{d.description}</span>}
      </button>
      <ErrorLine message={errors.open} />
    </li>
  );
}

function DashboardsSection(props: IPanelProps) {
  return (
    <ListSection
      name="dashboards"
      title="Dashboards"
      version={props.versions.dashboards}
      load={api.dashboards}
      empty="No dashboards you may open."
    >
      {d => <DashboardRow key={d.name} dashboard={d} commands={props.commands} />}
    </ListSection>
  );
}

function ScheduleRow(props: { schedule: ISchedule; commands: CommandRegistry }) {
  const { schedule, commands } = props;
  const { busy, errors, run } = useAction();
  return (
    <li className="nx-Item" data-schedule={schedule.name}>
      <div className="nx-Item-line">
        <span className="nx-Item-name" title={schedule.notebook}>
          {schedule.name}
        </span>
        {schedule.last_status ? <Badge text={schedule.last_status} /> : <Badge text="not run yet" tone="idle" />}
      </div>
      <div className="nx-Item-line nx-Item-meta">
        <span>
          <code title="cron">{schedule.cron}</code> · next <When at={schedule.next_run} />
        </span>
        <Action
          label="Run now"
          busy={busy === 'run'}
          onClick={() => run('run', () => runCommand(commands, CommandIDs.runSchedule, { name: schedule.name }))}
        />
      </div>
      {schedule.output && (
        <div className="nx-Item-meta">
          <button
            type="button"
            className="nx-Link"
            title={schedule.output}
            onClick={() => run('output', () => runCommand(commands, CommandIDs.openNotebook, { path: schedule.output }))}
          >
            Last output
          </button>{' '}
          <When at={schedule.last_run} />
        </div>
      )}
      <ErrorLine message={errors.run || errors.output} />
    </li>
  );
}

function SchedulesSection(props: IPanelProps) {
  return (
    <ListSection
      name="schedules"
      title="Schedules"
      version={props.versions.schedules}
      load={api.schedules}
      empty="No schedules."
    >
      {s => <ScheduleRow key={s.schedule_id || s.name} schedule={s} commands={props.commands} />}
    </ListSection>
  );
}

/** The panel: a header (who, refresh) over the five sections. */
export class NexusPanel extends ReactWidget {
  private versions: Record<SectionName, number> = { runs: 0, cases: 0, data: 0, dashboards: 0, schedules: 0 };
  private whoami?: IWhoAmI;
  private whoamiError?: string;
  private readonly _refreshed = new Signal<this, void>(this);

  constructor(private readonly commands: CommandRegistry) {
    super();
    this.id = 'nexus-lab-panel';
    this.addClass('nx-Panel');
    this.loadWhoami();
  }

  /** Emitted after each refresh (the status bar reloads who is signed in). */
  get refreshed(): ISignal<this, void> {
    return this._refreshed;
  }

  /** Reload the sections named (all by default) and who is signed in. */
  refresh(sections: string[] = SECTIONS): void {
    const next = { ...this.versions };
    for (const name of sections) {
      if (name in next) {
        next[name as SectionName] += 1;
      }
    }
    this.versions = next;
    if (sections.length === SECTIONS.length) {
      this.loadWhoami();
      this._refreshed.emit();
    }
    this.update();
  }

  private loadWhoami(): void {
    api.whoami().then(
      who => {
        this.whoami = who;
        this.whoamiError = undefined;
        this.update();
      },
      error => {
        this.whoamiError =
          error instanceof NexusApiError && error.status === 404
            ? 'The NEXUS server extension is not running on this server (enable it with: jupyter server extension enable nexus_lab).'
            : messageOf(error);
        this.update();
      }
    );
  }

  render(): JSX.Element {
    const props: IPanelProps = { commands: this.commands, versions: this.versions, whoami: this.whoami };
    return (
      <div className="nx-Panel-inner">
        <header className="nx-Panel-header">
          <div className="nx-Panel-heading">
            <h2 className="nx-Panel-title">NEXUS</h2>
            {this.whoami && (
              <span className="nx-Panel-who" title={`${this.whoami.display_name} (${this.whoami.roles.join(', ')})`}>
                {this.whoami.user} · {this.whoami.role}
              </span>
            )}
          </div>
          <button
            type="button"
            className="nx-Action nx-Action-icon nx-Refresh"
            title="Refresh"
            aria-label="Refresh"
            onClick={() => this.refresh()}
          >
            <refreshIcon.react tag="span" elementSize="small" />
          </button>
        </header>
        <ErrorLine message={this.whoamiError} />
        <div className="nx-Panel-sections">
          <RunsSection {...props} />
          <CasesSection {...props} />
          <DataSection {...props} />
          <DashboardsSection {...props} />
          <SchedulesSection {...props} />
        </div>
      </div>
    );
  }
}
