import { createHash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './page-script.js';

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 0; background: #f8fafc; color: #0f172a; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; padding: 12px 16px;
  background: #0f172a; color: #f8fafc; }
header h1 { font-size: 18px; margin: 0; }
#build, #status { color: #cbd5e1; font-size: 12px; }
body.stale #status { color: #fca5a5; }
#tiles { display: flex; flex-wrap: wrap; gap: 8px; padding: 12px 16px 0; }
.tile { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 6px 12px; min-width: 110px; }
.tile b { display: block; font-size: 18px; }
.tile span { color: #64748b; font-size: 12px; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; padding: 12px 16px; }
.chart { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px; min-width: 0; }
.chart h2 { font-size: 14px; margin: 0 0 4px; }
`;

function tile(id: string, what: string): string {
  return `<div class="tile"><b id="${id}">–</b><span>${what}</span></div>`;
}

/**
 * The dashboard at `/ui`: one HTML page with its style and script inline, loading uPlot from
 * `/ui/uPlot.*` on the same endpoint (no CDN, no build step).
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Barge broker</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/uPlot.min.css">
<style>${STYLE}</style>
</head>
<body>
<header><h1>Barge broker</h1><span id="build"></span><span id="status">connecting…</span></header>
<div id="tiles">
${[
  tile('messages', 'messages produced'),
  tile('connections', 'connections'),
  tile('inflight', 'in flight'),
  tile('paused', 'paused sockets'),
  tile('members', 'group members'),
  tile('orphans', 'orphan bytes'),
].join('\n')}
</div>
<main id="charts"></main>
<script src="/ui/uPlot.iife.min.js"></script>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

/**
 * Only this page's own script and uPlot run, and the page talks to its own endpoint only.
 * The inline script is allowed by its hash; uPlot sets styles from script, which CSP allows.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash('sha256').update(DASHBOARD_SCRIPT).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
