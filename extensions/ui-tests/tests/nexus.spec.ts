/**
 * NEXUS Lab in JupyterLab, in a real browser against a real Jupyter server serving a
 * workbench made with the demo's steps (tests/jupyter/test_ui.py): users lead, ana and
 * jo, the sample's reconciliation and its report (NEXUS_UI_PLAIN_RUN), a reconciliation
 * computed on Dask (NEXUS_UI_DASK_RUN, its dashboard NEXUS_UI_DASK_DASHBOARD), the fraud
 * model in two versions (version 1 the champion), one case (NEXUS_UI_CASE), one schedule
 * (NEXUS_UI_SCHEDULE).
 * The browser acts as lead (the administrator) unless a test signs in as jo (the judge).
 *
 * Screenshots go to out/jupyterlab/ (NEXUS_UI_SHOTS).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

const CASE = process.env.NEXUS_UI_CASE || 'CASE-1';
const SCHEDULE = process.env.NEXUS_UI_SCHEDULE || 'interest-weekly';
const DASK_RUN = process.env.NEXUS_UI_DASK_RUN || 'DASK-RUN';
const DASK_DASHBOARD = process.env.NEXUS_UI_DASK_DASHBOARD || 'http://127.0.0.1:8787/status';
const PLAIN_RUN = process.env.NEXUS_UI_PLAIN_RUN || 'PLAIN-RUN';

const SHOTS = process.env.NEXUS_UI_SHOTS || path.resolve(__dirname, '..', '..', '..', 'out', 'jupyterlab');

function shot(name: string): { path: string } {
  return { path: path.join(SHOTS, `${name}.png`) };
}

const PANEL = '#nexus-lab-panel';

async function openPanel(page: IJupyterLabPageFixture) {
  await page.sidebar.openTab('nexus-lab-panel');
  const panel = page.locator(PANEL);
  await expect(panel).toBeVisible();
  // every section has loaded (no spinner left)
  await expect(panel.locator('.nx-Section[aria-busy="true"]')).toHaveCount(0);
  return panel;
}

function section(page: IJupyterLabPageFixture, name: string) {
  return page.locator(`${PANEL} .nx-Section[data-section="${name}"]`);
}

/** The error outputs of the current notebook ("ename: evalue"), from its model. */
async function notebookErrors(page: IJupyterLabPageFixture): Promise<string[]> {
  return page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    const found: string[] = [];
    for (const cell of panel.content.model.cells) {
      for (const output of cell.toJSON().outputs ?? []) {
        if (output.output_type === 'error') {
          found.push(`${output.ename}: ${output.evalue}`);
        }
      }
    }
    return found;
  });
}

test.use({ autoGoto: true });

test.describe('the NEXUS panel', () => {
  test('shows the demo\u2019s runs, models and cases, and who acts on which store', async ({ page }) => {
    const panel = await openPanel(page);
    await expect(panel.locator('.nx-Error')).toHaveCount(0);

    const runs = section(page, 'runs');
    expect(await runs.locator('.nx-Runs .nx-Item').count()).toBeGreaterThanOrEqual(3);
    await expect(runs.locator('.nx-Runs .nx-Badge').first()).toHaveText(/FINISHED/i);
    await expect(runs.locator('.nx-Models [data-model="nexus-fraud"]')).toContainText('champion v1');

    const cases = section(page, 'cases');
    await expect(cases.locator(`[data-case-id="${CASE}"]`)).toBeVisible();

    const data = section(page, 'data');
    await expect(data.locator('[data-table="bank_statements"]')).toContainText('1,970 rows');

    await expect(page.locator('.nx-Status')).toContainText('lead \u00b7 admin \u00b7 books.db');
    await page.screenshot(shot('panel'));
    await panel.screenshot(shot('panel-sidebar'));
  });

  test('links a run computed on Dask to its dashboard in a new tab, and no other run', async ({ page }) => {
    await openPanel(page);
    const runs = section(page, 'runs');
    const onDask = runs.locator(`.nx-Runs .nx-Item[data-run-id="${DASK_RUN}"]`);
    await expect(onDask).toContainText('Computed on Dask');
    const link = onDask.getByRole('link', { name: 'Dask dashboard' });
    await expect(link).toHaveAttribute('href', DASK_DASHBOARD);
    await expect(link).toHaveAttribute('target', '_blank');
    await expect(link).toHaveAttribute('rel', /\bnoopener\b/);
    await expect(link).toHaveAttribute('title', /live while the cluster runs/);

    const plain = runs.locator(`.nx-Runs .nx-Item[data-run-id="${PLAIN_RUN}"]`);
    await expect(plain).toBeVisible();
    await expect(plain.getByRole('link')).toHaveCount(0);
    await expect(plain).not.toContainText('Dask');
    await expect(runs.locator('.nx-Runs .nx-DaskLink')).toHaveCount(1); // only that run's
    await onDask.screenshot(shot('run-on-dask'));

    // a click opens a new tab (the dashboard itself is gone: its cluster has closed)
    const popup = page.waitForEvent('popup');
    await link.click();
    const tab = await popup;
    expect(tab).not.toBe(page);
    await tab.close();
  });

  test('opens a model\u2019s versions and history', async ({ page }) => {
    await openPanel(page);
    const model = section(page, 'runs').locator('[data-model="nexus-fraud"]');
    await model.getByRole('button', { name: 'Versions & history' }).click();
    await expect(model.locator('.nx-Version')).toHaveCount(2);
    await expect(model.locator('.nx-Version[data-version="1"]')).toContainText('champion');
    await expect(model.locator('.nx-Version[data-version="2"]').getByRole('button', { name: 'Promote' })).toBeVisible();
    await page.locator(PANEL).screenshot(shot('panel-model'));
  });

  test('verifies a case: a PASS badge', async ({ page }) => {
    await openPanel(page);
    const item = section(page, 'cases').locator(`[data-case-id="${CASE}"]`);
    await item.getByRole('button', { name: 'Verify' }).click();
    await expect(item.locator('.nx-Verdict')).toHaveAttribute('data-verdict', 'PASS');
    await expect(item.locator('.nx-Verdict .nx-Badge')).toHaveText('PASS');
    await item.screenshot(shot('case-verified'));
  });

  test('opens a case\u2019s timeline in a tab', async ({ page }) => {
    await openPanel(page);
    const item = section(page, 'cases').locator(`[data-case-id="${CASE}"]`);
    await item.getByRole('button', { name: 'Timeline' }).click();
    const timeline = page.locator('.jp-MainAreaWidget .nx-Timeline');
    await expect(timeline).toBeVisible();
    await expect(page.locator('.lm-TabBar-tab', { hasText: `Timeline: ${CASE}` })).toBeVisible();
    expect(await timeline.locator('.nx-Timeline-event').count()).toBeGreaterThanOrEqual(2);
    await page.screenshot(shot('case-timeline'));
  });

  test('opens a run\u2019s report in a tab', async ({ page }) => {
    await openPanel(page);
    const run = section(page, 'runs').locator('.nx-Runs .nx-Item').filter({ has: page.getByRole('button', { name: 'Report', exact: true }) }).first();
    await run.getByRole('button', { name: 'Report', exact: true }).click();
    const frame = page.frameLocator('.jp-MainAreaWidget .nx-FrameTab iframe');
    await expect(frame.locator('body')).not.toBeEmpty();
    await expect(frame.locator('h1, h2').first()).toBeVisible();
    await page.screenshot(shot('run-report'));
  });

  test('opens a dashboard in a tab, signed in', async ({ page }) => {
    await openPanel(page);
    const dashboards = section(page, 'dashboards').locator('.nx-Item');
    expect(await dashboards.count()).toBeGreaterThanOrEqual(1);
    const first = dashboards.first();
    const title = (await first.locator('.nx-Item-name').textContent()) ?? '';
    await first.getByRole('button').click();
    await expect(page.locator('.lm-TabBar-tab', { hasText: title })).toBeVisible();
    const iframe = page.locator('.jp-MainAreaWidget .nx-FrameTab iframe');
    const frame = (await (await iframe.elementHandle())!.contentFrame())!;
    // signed in, the dashboard's page is served behind Jupyter, under nexus-dashboards/
    await expect.poll(() => frame.url()).toContain('/nexus-dashboards/');
    // the Panel app has drawn its document and is idle, with no sign-in form
    await frame.waitForFunction(
      () => {
        const bokeh = (window as any).Bokeh;
        return bokeh?.documents?.length > 0 && bokeh.documents[0].is_idle;
      },
      undefined,
      { timeout: 90_000 }
    );
    await expect(frame.locator('input[type="password"]')).toHaveCount(0);
    await page.screenshot(shot('dashboard'));
  });

  test('opens a store table as a DataFrame notebook', async ({ page }) => {
    await openPanel(page);
    const table = section(page, 'data').locator('[data-table="bank_statements"]');
    await table.getByRole('button', { name: 'Open as DataFrame' }).click();
    await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
    await expect(page.locator('.jp-NotebookPanel .jp-Cell').first()).toContainText('bank_statements');
    await page.notebook.run();
    expect(await notebookErrors(page)).toEqual([]);
    await expect(page.locator('.jp-NotebookPanel .jp-OutputArea-output', { hasText: '1,970 rows of bank_statements' })).toBeVisible();
    await page.screenshot(shot('table-notebook'));
  });
  test('runs a schedule now and opens its output notebook', async ({ page }) => {
    await openPanel(page);
    const item = section(page, 'schedules').locator(`[data-schedule="${SCHEDULE}"]`);
    await expect(item).toContainText('0 6 * * 1');
    await item.getByRole('button', { name: 'Run now' }).click();
    await expect(page.locator('.Toastify__toast', { hasText: SCHEDULE })).toBeVisible({ timeout: 120_000 });
    const output = item.getByRole('button', { name: 'Last output' });
    await expect(output).toBeVisible();
    await expect(item.locator('.nx-Badge').first()).toHaveClass(/nx-tone-good/);
    await page.locator(PANEL).screenshot(shot('schedule-ran'));
    await output.click();
    await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
    await expect(page.locator('.jp-NotebookPanel .jp-OutputArea-output', { hasText: '25% of 250 is 62.5' })).toBeVisible();
  });
});

/** Version 2 of the fraud model: refused to the judge, then promoted by the administrator. */
test.describe('promoting a model version', () => {
  async function promoteVersion2(page: IJupyterLabPageFixture, note: string) {
    const model = section(page, 'runs').locator('[data-model="nexus-fraud"]');
    await model.getByRole('button', { name: 'Versions & history' }).click();
    await model.locator('.nx-Version[data-version="2"]').getByRole('button', { name: 'Promote' }).click();
    const confirm = page.locator('.jp-Dialog');
    await expect(confirm).toContainText('Promote nexus-fraud version 2?');
    await confirm.locator('textarea[name="note"]').fill(note);
    return { model, confirm };
  }

  test('the judge is refused, with the server\u2019s message; schedules say why they are hidden', async ({
    page,
    baseURL
  }) => {
    await page.context().addCookies([{ name: 'nexus-ui-user', value: 'jo', url: baseURL! }]);
    await page.reload();
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    const panel = await openPanel(page);
    await expect(page.locator('.nx-Status')).toContainText('jo \u00b7 judge');
    await expect(section(page, 'schedules').locator('.nx-Error')).toContainText('jo');

    const { model, confirm } = await promoteVersion2(page, 'better on last month');
    await confirm.screenshot(shot('promote-confirm'));
    await confirm.getByRole('button', { name: 'Promote' }).click();

    const refusal = page.locator('.jp-Dialog', { hasText: 'Promotion refused' });
    await expect(refusal).toContainText('models.promote');
    await refusal.screenshot(shot('promote-refused'));
    await refusal.locator('.jp-Dialog-footer button').first().click();
    await expect(refusal).toHaveCount(0);
    await expect(model.locator('.nx-Error')).toContainText('models.promote');
    await expect(model).toContainText('champion v1');
    await panel.screenshot(shot('panel-judge'));
  });

  test('the administrator promotes it: the champion and the history change', async ({ page }) => {
    await openPanel(page);
    const { model, confirm } = await promoteVersion2(page, 'better on last month');
    await confirm.getByRole('button', { name: 'Promote' }).click();
    await expect(model.locator('.nx-Badge').first()).toHaveText('champion v2');
    await expect(page.locator('.Toastify__toast', { hasText: 'version 2 is the champion' })).toBeVisible();
    await expect(model.locator('.nx-History li').first()).toContainText('v2 by lead');
    await expect(model.locator('.nx-History li').first()).toContainText('better on last month');
    await page.locator(PANEL).screenshot(shot('panel-promoted'));
  });
});

test.describe('the launcher', () => {
  test('a workflow card makes a notebook from its form, and it runs', async ({ page }) => {
    const launcher = page.locator('.jp-Launcher:visible');
    const section = launcher.locator('.jp-Launcher-section', { hasText: 'NEXUS Lab' });
    await expect(section).toBeVisible();
    await expect(section.locator('.jp-LauncherCard')).not.toHaveCount(0);
    await page.screenshot(shot('launcher'));

    await section.locator('.jp-LauncherCard', { hasText: 'Project variance' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('form.nx-Form')).toBeVisible();
    await dialog.screenshot(shot('launcher-form'));
    await dialog.getByRole('button', { name: 'Create' }).click();

    await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
    await page.notebook.run();
    expect(await notebookErrors(page)).toEqual([]);
    await expect(page.locator('.jp-OutputArea-output').first()).toBeVisible();
    await page.screenshot(shot('launcher-notebook'));
  });
});

test.describe('the dark theme', () => {
  test('the panel and a timeline take the theme\u2019s colours', async ({ page }) => {
    await page.theme.setDarkTheme();
    try {
      await openPanel(page);
      const item = section(page, 'cases').locator(`[data-case-id="${CASE}"]`);
      await item.getByRole('button', { name: 'Verify' }).click();
      await expect(item.locator('.nx-Verdict .nx-Badge')).toHaveText('PASS');
      await item.getByRole('button', { name: 'Timeline' }).click();
      await expect(page.locator('.jp-MainAreaWidget .nx-Timeline')).toBeVisible();
      const background = await page.locator(PANEL).evaluate(node => getComputedStyle(node).backgroundColor);
      const light = await page.evaluate(() =>
        getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim()
      );
      expect(background).not.toBe('rgb(255, 255, 255)');
      expect(light).not.toBe('white');
      await page.screenshot(shot('dark'));
    } finally {
      await page.theme.setLightTheme();
    }
  });
});

test.describe('the command palette', () => {
  test('lists the NEXUS Lab commands', async ({ page }) => {
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('apputils:activate-command-palette');
    });
    await page.locator('#command-palette .lm-CommandPalette-input').fill('NEXUS');
    const items = page.locator('#command-palette .lm-CommandPalette-item');
    await expect(items.filter({ hasText: 'Verify a Case' })).toHaveCount(1);
    await expect(items.filter({ hasText: 'Promote a Model Version' })).toHaveCount(1);
    await page.screenshot(shot('palette'));
  });
});
