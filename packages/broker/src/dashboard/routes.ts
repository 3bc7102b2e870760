import type { ServerResponse } from 'node:http';
import { errorMessage } from '@barge/core';
import type { Registry } from 'prom-client';
import { asset, isAssetPath } from './assets.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './page.js';
import { dashboardSnapshot } from './snapshot.js';

/**
 * Answers the dashboard's GET requests: the page (`/ui`), its data (`/ui/data`) and uPlot
 * (`/ui/uPlot.*`). Returns false for any other path.
 */
export function serveDashboard(path: string, registry: Registry, res: ServerResponse): boolean {
  if (path === '/ui' || path === '/ui/') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    res.end(DASHBOARD_HTML);
    return true;
  }
  if (path === '/ui/data') {
    dashboardSnapshot(registry).then(
      (snapshot) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(snapshot));
      },
      (e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(errorMessage(e));
      },
    );
    return true;
  }
  if (isAssetPath(path)) {
    const { contentType, body } = asset(path);
    res.writeHead(200, {
      'content-type': contentType,
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=3600',
    });
    res.end(body);
    return true;
  }
  return false;
}
