/**
 * Playwright for NEXUS Lab's browser tests, on Galata's defaults: Debian's chromium
 * (no browser download), the Jupyter server started here on the port the runner
 * chose (NEXUS_UI_PORT; tests/jupyter/test_ui.py sets it, with the demo's store).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.NEXUS_UI_PORT || '8888';
const url = process.env.TARGET_URL || `http://localhost:${port}`;
process.env.TARGET_URL = url;

module.exports = {
  ...baseConfig,
  outputDir: process.env.NEXUS_UI_RESULTS || 'test-results',
  reporter: [['list']],
  retries: 0,
  workers: 1,
  timeout: 90 * 1000,
  expect: { timeout: 20 * 1000 },
  use: {
    ...baseConfig.use,
    baseURL: url,
    launchOptions: {
      executablePath: process.env.NEXUS_UI_CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage']
    },
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    viewport: { width: 1400, height: 900 }
  },
  webServer: {
    command: 'jlpm start',
    url: `${url}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe'
  }
};
