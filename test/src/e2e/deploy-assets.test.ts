import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { type BrokerProcess, freePort, repoRoot, runCli, startBroker, tempDir, waitFor } from '../harness.js';

// deploy/grafana/barge-dashboard.json and deploy/prometheus/barge-alerts.yml reference only
// metrics that a real `barge broker` exports: checked against the `/metrics` of a broker process
// that served produce traffic and a consumer group's reads (so the lag gauges have values).

const DASHBOARD = join(repoRoot, 'deploy', 'grafana', 'barge-dashboard.json');
const RULES = join(repoRoot, 'deploy', 'prometheus', 'barge-alerts.yml');
/** Series Prometheus makes itself for every scrape target, not the broker. */
const PROMETHEUS_SERIES = new Set(['up']);
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions or
 * aggregations (followed by `(`), keywords, numbers, label names (inside `{}` and `by (...)`
 * and the like) or strings.
 */
function promqlMetricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:$])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()/g)) {
    if (!PROMQL_WORDS.has(m[0].toLowerCase())) names.add(m[0]);
  }
  return [...names];
}

/** Sample names `/metrics` text can have, from its `# TYPE` lines (histogram and summary series included). */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
    else names.add(name);
  }
  return names;
}

interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: GrafanaPanel[];
}
interface GrafanaDashboard {
  panels: GrafanaPanel[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function panelsOf(panels: GrafanaPanel[]): GrafanaPanel[] {
  return panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboard, by where it is. */
function dashboardExprs(d: GrafanaDashboard): [where: string, expr: string][] {
  const out: [string, string][] = [];
  for (const p of panelsOf(d.panels))
    for (const t of p.targets ?? []) out.push([`panel "${p.title}"`, t.expr]);
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = q === undefined ? null : /^label_values\((\w+)\s*,/.exec(q);
    if (m?.[1]) out.push([`variable ${v.name}`, m[1]]);
  }
  return out;
}

function rulesOf(file: { groups: { name: string; rules: Rule[] }[] }): Rule[] {
  return file.groups.flatMap((g) => g.rules);
}

describe('deploy/: the Grafana dashboard and the Prometheus rules', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let exported: Set<string>;
  let dashboard: GrafanaDashboard;
  let rules: Rule[];

  before(async () => {
    dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as GrafanaDashboard;
    rules = rulesOf(parseYaml(await readFile(RULES, 'utf8')));
    dir = await tempDir('barge-deploy-assets-');
    const admin = `127.0.0.1:${await freePort()}`;
    broker = await startBroker(['--data', dir.path, '--admin', admin]);
    const cli = async (args: string[], stdin?: string) => {
      const r = await runCli([...args, '--broker', broker.address], stdin === undefined ? {} : { stdin });
      assert.equal(r.code, 0, `barge ${args.join(' ')}: ${r.stderr}`);
    };
    await cli(['topics', 'create', 'assets', '--partitions', '2']);
    const lines = Array.from({ length: 2000 }, (_, i) => `message ${i}`);
    await cli(['produce', '--topic', 'assets'], `${lines.join('\n')}\n`);
    await cli([
      'consume',
      '--topic',
      'assets',
      '--group',
      'assets-readers',
      '--from-beginning',
      '--max-messages',
      '1000',
    ]);
    const text = await waitFor('the group lag gauges to have values', async () => {
      const t = await (await fetch(`http://${admin}/metrics`)).text();
      return /^barge_group_lag_messages\{[^}]*group="assets-readers"/m.test(t) ? t : undefined;
    });
    exported = exportedNames(text);
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('finds metric names in PromQL, and not functions, labels, keywords, numbers or strings', () => {
    assert.deepEqual(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le, api) (rate(barge_request_seconds_bucket{instance=~"$i", api="Produce"}[$__rate_interval])))',
      ),
      ['barge_request_seconds_bucket'],
    );
    assert.deepEqual(
      promqlMetricNames(
        'sum(increase(a_total[1h])) / (sum(increase(b_total[1h])) / 1e9) > 0.8 * 268435456 and on (x) c:rec:sum unless bool d',
      ),
      ['a_total', 'b_total', 'c:rec:sum', 'd'],
    );
    assert.ok(exported.has('barge_upload_seconds_bucket') && exported.has('barge_produce_bytes_total'));
    assert.ok(!exported.has('barge_upload_seconds'), 'a histogram has no series of its bare name');
  });

  it('the Grafana dashboard queries only metrics the broker exports', () => {
    const exprs = dashboardExprs(dashboard);
    assert.ok(exprs.length >= 20, `${exprs.length} expressions`);
    const unknown = exprs.flatMap(([where, e]) =>
      promqlMetricNames(e)
        .filter((n) => !exported.has(n))
        .map((n) => `${where}: ${n}`),
    );
    assert.deepEqual(unknown, []);
    const ids = panelsOf(dashboard.panels).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const titles = panelsOf(dashboard.panels).map((p) => p.title);
    for (const want of [
      'Produce throughput',
      'Consume throughput (read proxy)',
      'Batch size (mean)',
      'Upload latency',
      'Consumer lag per group (messages)',
      'Errors per second',
      'Storage requests per GB ingested',
    ]) {
      assert.ok(titles.includes(want), `a "${want}" panel, like the /ui dashboard's`);
    }
  });

  it('the Prometheus rules use only exported metrics and their own recorded series, and every alert is described', () => {
    const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
    const unknown = rules.flatMap((r) =>
      promqlMetricNames(r.expr)
        .filter((n) => !exported.has(n) && !recorded.has(n) && !PROMETHEUS_SERIES.has(n))
        .map((n) => `${r.alert ?? r.record}: ${n}`),
    );
    assert.deepEqual(unknown, []);
    for (const name of recorded) assert.match(name, /^barge:\w+:\w+$/, 'level:metric:operations');

    const alerts = rules.filter((r) => r.alert);
    assert.equal(new Set(alerts.map((a) => a.alert)).size, alerts.length, 'alert names are unique');
    for (const a of alerts) {
      assert.match(a.labels?.severity ?? '', /^(critical|warning)$/, `${a.alert} has a severity`);
      assert.ok(a.annotations?.summary, `${a.alert} has a summary`);
    }
    const metricsAlertedOn = new Set(alerts.flatMap((a) => promqlMetricNames(a.expr)));
    for (const m of [
      'barge:group_lag_messages:sum',
      'barge_batches_failed_total',
      'barge_orphan_bytes',
      'barge_inflight_bytes',
      'barge_paused_sockets',
      'barge_pointer_publish_failures_total',
      'up',
    ]) {
      assert.ok(metricsAlertedOn.has(m), `an alert on ${m}`);
    }
  });
});
