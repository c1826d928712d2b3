/**
 * Every NEXUS action is a command: the palette runs it with no arguments (it asks
 * which run, model, case, ... in a dialog), the panel runs it with its arguments and
 * `fromPanel: true` (errors are then thrown back for the panel to show inline;
 * from the palette they open a dialog with the server's message).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, InputDialog, Notification, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { api, dashboardUrl, IVerification, IWorkflow, NexusApiError } from './api';
import { checkText, figure } from './format';
import { nexusIcon } from './icons';
import { askParameters } from './launcher';
import { openFrameTab, openTimelineTab } from './tabs';

export namespace CommandIDs {
  export const showPanel = 'nexus:show-panel';
  export const refresh = 'nexus:refresh';
  export const openReport = 'nexus:open-report';
  export const promote = 'nexus:promote-model';
  export const verifyCase = 'nexus:verify-case';
  export const caseTimeline = 'nexus:case-timeline';
  export const openTable = 'nexus:open-table';
  export const openDashboard = 'nexus:open-dashboard';
  export const runSchedule = 'nexus:run-schedule';
  export const openNotebook = 'nexus:open-notebook';
  export const newNotebook = 'nexus:new-notebook';
}

/** The palette's category for every NEXUS command. */
export const CATEGORY = 'NEXUS Lab';

export interface ICommandContext {
  app: JupyterFrontEnd;
  docManager: IDocumentManager;
  fileBrowser: IDefaultFileBrowser | null;
  /** Show the panel (the sidebar's NEXUS tab). */
  showPanel: () => void;
  /** Reload the panel's sections (all, or those named). */
  refresh: (sections?: string[]) => void;
  /** The workflows the launcher's cards name, by name (filled at start, or when asked). */
  workflows: Map<string, IWorkflow>;
}

type Args = ReadonlyPartialJSONObject;

/** Thrown (and kept quiet) when the user closes a dialog without going on. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

function text(args: Args, key: string): string | undefined {
  const value = args[key];
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

/** Ask for one of `items` (label shown, key returned); `Cancelled` when closed. */
async function pick(title: string, label: string, items: Array<[string, string]>): Promise<string> {
  if (!items.length) {
    throw new NexusApiError(404, 'NotFound', `There is nothing to choose: ${label.toLowerCase()}`);
  }
  const result = await InputDialog.getItem({
    title,
    label,
    items: items.map(([, shown]) => shown)
  });
  if (!result.button.accept || result.value === null) {
    throw new Cancelled();
  }
  const index = items.findIndex(([, shown]) => shown === result.value);
  return items[Math.max(index, 0)][0];
}

/** The folder new notebooks go to: the file browser's, else the server's root. */
function currentFolder(ctx: ICommandContext, args: Args): string {
  return text(args, 'folder') ?? ctx.fileBrowser?.model.path ?? '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A note to go with a promotion, in the confirm dialog. */
class NoteBody extends Widget implements Dialog.IBodyWidget<string> {
  private readonly input: HTMLTextAreaElement;

  constructor(question: string) {
    super();
    this.addClass('nx-Form');
    const p = document.createElement('p');
    p.textContent = question;
    const label = document.createElement('label');
    label.className = 'nx-Form-field';
    const caption = document.createElement('span');
    caption.className = 'nx-Form-label';
    caption.textContent = 'Note (kept in the model\u2019s history)';
    this.input = document.createElement('textarea');
    this.input.className = 'jp-mod-styled nx-Form-input';
    this.input.rows = 3;
    this.input.name = 'note';
    label.append(caption, this.input);
    this.node.append(p, label);
  }

  getValue(): string {
    return this.input.value.trim();
  }

  protected onAfterAttach(): void {
    this.input.focus();
  }
}

/** Register the commands; returns the ids of those the palette shows. */
export function registerCommands(ctx: ICommandContext): string[] {
  const { app, docManager } = ctx;
  const { commands } = app;

  /** Run an action; from the palette, a refusal or an error opens a dialog. */
  const guard =
    (title: string, action: (args: Args) => Promise<unknown>) =>
    async (args: Args): Promise<unknown> => {
      try {
        return await action(args);
      } catch (error) {
        if (args.fromPanel || error instanceof Cancelled) {
          throw error;
        }
        await showErrorMessage(title, messageOf(error));
        return undefined;
      }
    };

  commands.addCommand(CommandIDs.showPanel, {
    label: 'Show the NEXUS Panel',
    icon: nexusIcon,
    execute: () => ctx.showPanel()
  });

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh the NEXUS Panel',
    execute: () => ctx.refresh()
  });

  commands.addCommand(CommandIDs.openReport, {
    label: args => (args.runId ? 'Report' : 'Open a Run\u2019s Report\u2026'),
    caption: 'Open a run\u2019s report in a tab (browser: true opens a browser tab)',
    execute: guard('Cannot open the report', async args => {
      let runId = text(args, 'runId');
      let title = text(args, 'title');
      if (!runId) {
        const runs = (await api.runs(50)).filter(run => run.has_report);
        runId = await pick(
          'Open a Run\u2019s Report',
          'Run',
          runs.map(run => [
            run.run_id,
            `${run.workflow} \u00b7 ${run.run_id.slice(0, 8)} \u00b7 ${run.started.slice(0, 16)}`
          ])
        );
        title = runs.find(run => run.run_id === runId)?.workflow;
      }
      const url = api.reportUrl(runId);
      if (args.browser) {
        window.open(url, '_blank', 'noopener');
        return url;
      }
      openFrameTab(app, {
        key: runId,
        kind: 'report',
        title: `Report: ${title ?? runId.slice(0, 8)}`,
        caption: `The report of run ${runId}`,
        url
      });
      return url;
    })
  });

  commands.addCommand(CommandIDs.promote, {
    label: args => (args.version !== undefined ? 'Promote' : 'Promote a Model Version\u2026'),
    caption: 'Make a registered model\u2019s version its champion',
    execute: guard('Promotion refused', async args => {
      let name = text(args, 'name');
      let version = text(args, 'version');
      if (!name || !version) {
        const models = await api.models();
        name = name ?? (await pick('Promote a Model Version', 'Model', models.map(m => [m.name, m.name])));
        const model = models.find(m => m.name === name);
        const versions = (model?.versions ?? []).filter(v => String(v.version) !== String(model?.champion));
        version = await pick(
          `Promote a Version of ${name}`,
          'Version',
          versions.map(v => [String(v.version), `version ${v.version} (${v.status || 'registered'})`])
        );
      }
      const answer = await showDialog({
        title: `Promote ${name} version ${version}?`,
        body: new NoteBody(
          `Version ${version} becomes the champion of ${name}: the model scored against from now on.`
        ),
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
      });
      if (!answer.button.accept) {
        throw new Cancelled();
      }
      try {
        const promoted = await api.promote(name, version, answer.value ?? '');
        Notification.success(
          `${promoted.name} version ${promoted.version} is the champion` +
            (promoted.previous !== null && promoted.previous !== undefined
              ? ` (was version ${promoted.previous})`
              : ''),
          { autoClose: 5000 }
        );
        ctx.refresh(['runs']);
        return promoted;
      } catch (error) {
        if (error instanceof NexusApiError && error.status === 403) {
          // a refusal is shown as a dialog whichever way the promotion was asked for
          await showErrorMessage('Promotion refused', error.message);
        }
        throw error;
      }
    })
  });

  commands.addCommand(CommandIDs.verifyCase, {
    label: args => (args.caseId ? 'Verify' : 'Verify a Case\u2026'),
    caption: 'Check a case\u2019s evidence, custody chain and signatures',
    execute: guard('Cannot verify the case', async args => {
      const caseId = text(args, 'caseId') ?? (await pickCase('Verify a Case'));
      const result: IVerification = await api.verify(caseId);
      if (!args.fromPanel) {
        await showDialog({
          title: `${caseId}: ${result.verdict}`,
          body: [checkText(result.summary), result.first_problem ? `First problem: ${result.first_problem}` : '']
            .filter(Boolean)
            .join('\n\n'),
          buttons: [Dialog.okButton()]
        });
      }
      ctx.refresh(['cases']);
      return result;
    })
  });

  commands.addCommand(CommandIDs.caseTimeline, {
    label: args => (args.caseId ? 'Timeline' : 'Open a Case\u2019s Timeline\u2026'),
    caption: 'Who did what to a case, and when',
    execute: guard('Cannot open the timeline', async args => {
      const caseId = text(args, 'caseId') ?? (await pickCase('Open a Case\u2019s Timeline'));
      const timeline = await api.timeline(caseId);
      openTimelineTab(app, timeline);
      return timeline.case_id;
    })
  });

  commands.addCommand(CommandIDs.openTable, {
    label: args => (args.table ? 'Open as DataFrame' : 'Open a Store Table as a DataFrame\u2026'),
    caption: 'A new notebook that loads a table of the store as a DataFrame',
    execute: guard('Cannot open the table', async args => {
      let table = text(args, 'table');
      if (!table) {
        const tables = await api.tables();
        table = await pick(
          'Open a Store Table as a DataFrame',
          'Table',
          tables.map(t => [t.table, `${t.table} (${figure(t.rows)} rows)`])
        );
      }
      const { path } = await api.tableNotebook(table, currentFolder(ctx, args));
      docManager.openOrReveal(path);
      return path;
    })
  });

  commands.addCommand(CommandIDs.openDashboard, {
    label: args => (args.name ? String(args.title ?? args.name) : 'Open a Dashboard\u2026'),
    caption: 'Open a NEXUS dashboard in a tab, signed in as you',
    execute: guard('Cannot open the dashboard', async args => {
      let name = text(args, 'name');
      let url = text(args, 'url');
      let title = text(args, 'title');
      if (!name || !url) {
        const dashboards = await api.dashboards();
        name = name ?? (await pick('Open a Dashboard', 'Dashboard', dashboards.map(d => [d.name, d.title || d.name])));
        const dashboard = dashboards.find(d => d.name === name);
        if (!dashboard) {
          throw new NexusApiError(404, 'NotFound', `There is no dashboard ${name} you may open.`);
        }
        url = dashboard.url;
        title = dashboard.title;
      }
      openFrameTab(app, {
        key: name,
        kind: 'dashboard',
        title: title || name,
        caption: `Dashboard ${title || name}`,
        url: dashboardUrl(url)
      });
      return name;
    })
  });

  commands.addCommand(CommandIDs.runSchedule, {
    label: args => (args.name ? 'Run now' : 'Run a Schedule Now\u2026'),
    caption: 'Run a scheduled notebook at once',
    execute: guard('Cannot run the schedule', async args => {
      let name = text(args, 'name');
      if (!name) {
        const schedules = await api.schedules();
        name = await pick(
          'Run a Schedule Now',
          'Schedule',
          schedules.map(s => [s.name, `${s.name} (${s.cron})`])
        );
      }
      const ran = await api.runSchedule(name);
      const output = ran.output;
      Notification.emit(`${ran.schedule}: ${ran.status}`, /fail|error/i.test(ran.status) ? 'error' : 'success', {
        autoClose: 8000,
        actions: output
          ? [{ label: 'Open the output', callback: () => void docManager.openOrReveal(output) }]
          : []
      });
      ctx.refresh(['schedules']);
      return ran;
    })
  });

  commands.addCommand(CommandIDs.openNotebook, {
    label: args => (args.path ? `Open ${args.path}` : 'Open a Notebook'),
    execute: args => {
      const path = text(args, 'path');
      return path ? docManager.openOrReveal(path) : undefined;
    }
  });

  const { workflows } = ctx;
  commands.addCommand(CommandIDs.newNotebook, {
    label: args => {
      const workflow = workflows.get(String(args.workflow ?? ''));
      if (args.isLauncher && workflow) {
        return workflow.title || workflow.name;
      }
      return workflow ? `New ${workflow.title || workflow.name} Notebook\u2026` : 'New Notebook from a Workflow\u2026';
    },
    caption: args => workflows.get(String(args.workflow ?? ''))?.description ?? 'A notebook from a NEXUS workflow\u2019s template, its parameters filled',
    icon: args => (args.isPalette ? undefined : nexusIcon),
    execute: guard('Cannot create the notebook', async args => {
      if (!workflows.size || !workflows.has(String(args.workflow ?? ''))) {
        for (const workflow of await api.launchers()) {
          workflows.set(workflow.name, workflow);
        }
      }
      let name = text(args, 'workflow');
      if (!name) {
        name = await pick(
          'New Notebook from a Workflow',
          'Workflow',
          [...workflows.values()].map(w => [w.name, w.title || w.name])
        );
      }
      const workflow = workflows.get(name);
      if (!workflow) {
        throw new NexusApiError(404, 'NotFound', `There is no workflow ${name}.`);
      }
      const folder = currentFolder(ctx, args);
      let problem: string | undefined;
      let values: Record<string, unknown> | undefined;
      // the form comes back with the server's message until the notebook is made
      for (;;) {
        values = await askParameters(workflow, values, problem);
        if (values === undefined) {
          throw new Cancelled();
        }
        try {
          const { path } = await api.createNotebook(workflow.name, values, folder);
          await docManager.openOrReveal(path);
          return path;
        } catch (error) {
          if (error instanceof NexusApiError && error.status === 400) {
            problem = error.message;
            continue;
          }
          throw error;
        }
      }
    })
  });

  async function pickCase(title: string): Promise<string> {
    const cases = await api.cases();
    return pick(
      title,
      'Case',
      cases.map(c => [c.case_id, `${c.case_id}: ${c.title} (${c.status})`])
    );
  }

  return [
    CommandIDs.showPanel,
    CommandIDs.refresh,
    CommandIDs.openReport,
    CommandIDs.promote,
    CommandIDs.verifyCase,
    CommandIDs.caseTimeline,
    CommandIDs.openTable,
    CommandIDs.openDashboard,
    CommandIDs.runSchedule,
    CommandIDs.newNotebook
  ];
}
