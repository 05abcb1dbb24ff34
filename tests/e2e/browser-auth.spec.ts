// Browser mode's token: every HTTP and WebSocket request without it (or with a wrong one) is refused,
// the page included; with it, the page works under the strict Content-Security-Policy.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { REPO_ROOT } from '../helpers/testdata.js';
import { expect, test } from './fixtures.js';

function wsStatus(url: string, headers: Record<string, string> = {}): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

test('requests without the token or with a wrong one are refused (page, asset, upload, folders, WebSocket)', async ({ server, playwright }) => {
  const asset = (await readdir(path.join(REPO_ROOT, 'dist', 'renderer', 'assets'))).find((f) => f.endsWith('.js'));
  const anonymous = await playwright.request.newContext({ baseURL: server.origin });
  try {
    for (const url of ['/', '/index.html', `/assets/${asset}`, '/favicon.svg', '/api/folders']) {
      for (const suffix of ['', '?token=wrong-token']) {
        const reply = await anonymous.get(url + suffix);
        expect([401, 403], `${url}${suffix}`).toContain(reply.status());
      }
    }
    const upload = await anonymous.post('/api/upload?name=a.jpg', { data: Buffer.from('abc'), headers: { 'content-type': 'application/octet-stream' } });
    expect([401, 403]).toContain(upload.status());
    const wrongHeader = await anonymous.post('/api/upload?name=a.jpg', { data: Buffer.from('abc'), headers: { 'x-reslens-token': 'wrong' } });
    expect([401, 403]).toContain(wrongHeader.status());

    // With the token: the page (which sets the cookie), then assets through the cookie alone.
    const page = await anonymous.get(`/?token=${server.token}`);
    expect(page.status()).toBe(200);
    expect(page.headers()['content-security-policy']).toMatch(/default-src 'self'.*script-src 'self'/);
    expect((await anonymous.get(`/assets/${asset}`)).status()).toBe(200);
  } finally {
    await anonymous.dispose();
  }

  const ws = `ws://127.0.0.1:${server.port}/api/ws`;
  expect(await wsStatus(ws)).toBe(401);
  expect(await wsStatus(`${ws}?token=wrong-token`)).toBe(401);
  expect(await wsStatus(ws, { cookie: `reslens-${server.port}=wrong-token` })).toBe(401);
  expect(await wsStatus(`${ws}?token=${server.token}`, { origin: 'http://attacker.example' })).toBe(403);
  expect(await wsStatus(`${ws}?token=${server.token}`)).toBe('open');
});

test('a browser without the token gets no page', async ({ page, server }) => {
  const response = await page.goto(server.origin + '/');
  expect(response?.status()).toBe(401);
  await expect(page.getByRole('button', { name: 'Open images', exact: true })).toHaveCount(0);
});

test('with the token the page loads under its CSP, hides the token from the address bar, and survives a reload', async ({ app }) => {
  expect(new URL(app.url()).searchParams.has('token')).toBe(false);
  await app.reload();
  await expect(app.getByTestId('status-model')).toBeVisible();
  await expect(app.getByRole('button', { name: 'Open images', exact: true })).toBeVisible();
});
