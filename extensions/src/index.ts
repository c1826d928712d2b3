/**
 * NEXUS Lab in JupyterLab: the NEXUS panel (left sidebar), the workflows' launcher
 * cards, the status bar's user, role and store, and a palette command per action.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IStatusBar } from '@jupyterlab/statusbar';

import { api, IWorkflow } from './api';
import { CATEGORY, CommandIDs, registerCommands } from './commands';
import { nexusIcon } from './icons';
import { NexusPanel } from './sidebar';
import { WhoAmIStatus } from './status';

/** The launcher's section the workflow cards go to. */
const LAUNCHER_CATEGORY = 'NEXUS Lab';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nexus-lab:plugin',
  description: 'The NEXUS panel, launcher cards, status bar item and commands.',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ICommandPalette, ILauncher, IStatusBar, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    statusBar: IStatusBar | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const panel = new NexusPanel(app.commands);
    panel.title.icon = nexusIcon;
    panel.title.caption = 'NEXUS: runs, models, cases, data, dashboards, schedules';
    app.shell.add(panel, 'left', { rank: 450 });
    restorer?.add(panel, panel.id);

    const workflows = new Map<string, IWorkflow>();
    const ids = registerCommands({
      app,
      docManager,
      fileBrowser,
      workflows,
      showPanel: () => app.shell.activateById(panel.id),
      refresh: sections => panel.refresh(sections)
    });
    for (const command of ids) {
      palette?.addItem({ command, category: CATEGORY, args: { isPalette: true } });
    }

    if (statusBar) {
      const status = new WhoAmIStatus(() => app.shell.activateById(panel.id));
      statusBar.registerStatusItem('nexus-lab:whoami', {
        item: status,
        align: 'left',
        rank: 10
      });
      panel.refreshed.connect(() => void status.reload());
    }

    if (launcher) {
      // one card per workflow the server offers; none (and a console line) when it offers none
      api.launchers().then(
        found => {
          found.forEach((workflow, rank) => {
            workflows.set(workflow.name, workflow);
            launcher.add({
              command: CommandIDs.newNotebook,
              args: { workflow: workflow.name, isLauncher: true },
              category: LAUNCHER_CATEGORY,
              rank
            });
          });
        },
        error => console.warn(`NEXUS Lab: no launcher cards (${error.message ?? error})`)
      );
    }
  }
};

export default plugin;
