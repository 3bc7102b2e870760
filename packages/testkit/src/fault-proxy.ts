import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Body of a `status` fault: a canned error document in the style of a backend, or your own.
 * - `s3`: `application/xml` `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`
 * - `azure`: the same XML shape plus an `x-ms-error-code` header
 * - `gcs` / `json`: `application/json` `{"error":{"code":503,"message":"…","errors":[…]}}`
 * - `empty`: no body (the default)
 */
export type ErrorBodyStyle = 's3' | 'azure' | 'gcs' | 'json' | 'empty';

/** What to do to a request the rule matches. */
export type Fault =
  | {
      /** Answer with this status without forwarding (the request body is read and discarded first). */
      kind: 'status';
      status: number;
      body?: ErrorBodyStyle | { contentType: string; data: string | Buffer };
      /** Error code in the `s3`/`azure`/`gcs` body. Defaults by status, e.g. 503 → `SlowDown` (s3), `ServerBusy` (azure). */
      code?: string;
      message?: string;
      /** Extra response headers, e.g. `{ 'retry-after': '1' }`. */
      headers?: Record<string, string>;
    }
  | {
      /**
       * Wait `ms` before a phase: `request` (before forwarding, default), `response` (the target
       * has answered; before sending the status line) or `body` (status and headers sent; before
       * the body). If the client goes away during a `request` delay, nothing is forwarded.
       */
      kind: 'delay';
      ms: number;
      phase?: 'request' | 'response' | 'body';
    }
  | {
      /**
       * Reset the client's connection (TCP RST): at `request` (before forwarding: the target never
       * sees it), at `response` (after the target processed the request and answered: the reply is
       * lost), or in `body` (after the status, headers and at most `afterBytes` body bytes; default 0).
       */
      kind: 'reset';
      phase: 'request' | 'response' | 'body';
      afterBytes?: number;
    }
  | {
      /**
       * Forward, send the status and headers with the full `Content-Length`, then only `afterBytes`
       * body bytes, then close the connection cleanly (FIN): a short read the client must detect.
       */
      kind: 'truncate';
      afterBytes: number;
    };

export type FaultKind = Fault['kind'];

/** The request as a matcher sees it. */
export interface ProxyRequestInfo {
  method: string;
  /** Request target as sent: path and query. */
  url: string;
  /** Path without the query. */
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * Which requests a rule applies to. An object matches when every given field matches: `method`
 * (case-insensitive, one or several), `path` (string: the exact path without query; RegExp:
 * tested on it) and `url` (RegExp tested on path and query).
 */
export type RequestMatcher =
  | ((req: ProxyRequestInfo) => boolean)
  | {
      method?: string | readonly string[];
      path?: string | RegExp;
      url?: RegExp;
    };

export interface FaultRule {
  fault: Fault;
  /** Default: every request. */
  match?: RequestMatcher;
  /** Apply to this many matching requests, then stop. Default: no limit. */
  times?: number;
  /** Let this many matching requests through first. Default 0. */
  after?: number;
}

/** One rule or several; for each request the first rule that matches and still applies wins. */
export type FaultPlan = FaultRule | readonly FaultRule[];

export interface ProxyRequestRecord {
  /** 1-based arrival order. */
  seq: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The fault applied to this request, if any. */
  fault?: FaultKind;
  /** Whether the request was sent on to the target. */
  forwarded: boolean;
  /** Status sent to the client (or received from the target when the reply was reset or cut). */
  status?: number;
  /** Why forwarding failed, when it did. */
  error?: string;
}

export interface FaultProxyOptions {
  /** `http://host:port` of the server to forward to. */
  target: string;
  /** Listen address. Default `127.0.0.1`; the port is picked by the OS unless `port` is given. */
  host?: string;
  port?: number;
  /**
   * Replace the `Host` header with the target's. Default `false`: the header is forwarded as
   * sent, so request signatures that cover it (SigV4) stay valid.
   */
  rewriteHost?: boolean;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: point the client under test here. */
  readonly url: string;
  readonly port: number;
  /** Replace the fault rules. */
  setFaults(plan: FaultPlan): void;
  /** Append a rule after the current ones. */
  addFault(rule: FaultRule): void;
  /** Remove every rule: plain forwarding. */
  clearFaults(): void;
  /** How many more requests the current rules can still fault (`Infinity` if a rule has no `times`). */
  faultsRemaining(): number;
  /** Requests received since start or `clearRequests()`, oldest first, optionally only those matching. */
  requests(match?: RequestMatcher): ProxyRequestRecord[];
  clearRequests(): void;
  /** Stop listening, drop every connection and cancel pending delays. Idempotent. */
  close(): Promise<void>;
}

interface RuleState {
  rule: FaultRule;
  matched: number;
  applied: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  // The proxy already answered "100 Continue" to the client; the body is streamed as it comes.
  'expect',
]);

/**
 * Starts an HTTP proxy in front of `target` that forwards requests and responses as streams
 * (method, path, query, headers, status and body unchanged) and injects the faults of the current
 * plan. Use it to prove an adapter retries transient failures and detects short reads:
 *
 * ```ts
 * const proxy = await startFaultProxy({ target: serviceEnv('s3') });
 * after(() => proxy.close());
 * proxy.setFaults({ times: 2, fault: { kind: 'status', status: 503, body: 's3' } });
 * // ... client with endpoint proxy.url; expect success and proxy.requests().length === 3
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') {
    throw new Error(`startFaultProxy: target must be an http:// URL, got ${JSON.stringify(options.target)}`);
  }
  const targetPort = Number(target.port || 80);
  const targetHost = target.hostname.replace(/^\[|\]$/g, '');
  const agent = new http.Agent({ keepAlive: true });
  const timers = new Set<NodeJS.Timeout>();
  let rules: RuleState[] = [];
  let log: ProxyRequestRecord[] = [];
  let seq = 0;
  let closing: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const pickFault = (info: ProxyRequestInfo): Fault | undefined => {
    for (const state of rules) {
      if (!matches(state.rule.match, info)) continue;
      state.matched++;
      if (state.matched <= (state.rule.after ?? 0)) continue;
      if (state.applied >= (state.rule.times ?? Number.POSITIVE_INFINITY)) continue;
      state.applied++;
      return state.rule.fault;
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const info: ProxyRequestInfo = {
      method: req.method ?? 'GET',
      url,
      path: url.split('?')[0] ?? url,
      headers: req.headers,
    };
    const record: ProxyRequestRecord = {
      seq: ++seq,
      method: info.method,
      url,
      headers: { ...req.headers },
      forwarded: false,
    };
    log.push(record);
    const fault = pickFault(info);
    if (fault) record.fault = fault.kind;
    const clientSocket = req.socket;

    if (fault?.kind === 'status') {
      await drain(req);
      const { headers, body } = errorResponse(fault);
      record.status = fault.status;
      res.writeHead(fault.status, headers);
      res.end(body);
      return;
    }
    if (fault?.kind === 'reset' && fault.phase === 'request') {
      resetSocket(clientSocket);
      return;
    }
    if (fault?.kind === 'delay' && (fault.phase ?? 'request') === 'request') {
      await sleep(fault.ms);
      if (clientSocket.destroyed) return;
    }

    const headers = forwardHeaders(req.headers);
    if (options.rewriteHost) headers.host = target.host;
    record.forwarded = true;
    const upstream = http.request({
      host: targetHost,
      port: targetPort,
      method: info.method,
      path: url,
      headers,
      agent,
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);

    let upRes: IncomingMessage;
    try {
      upRes = await new Promise<IncomingMessage>((resolve, reject) => {
        upstream.on('response', resolve);
        upstream.on('error', reject);
      });
    } catch (e) {
      record.error = e instanceof Error ? e.message : String(e);
      if (clientSocket.destroyed) return;
      record.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: cannot reach ${options.target}: ${record.error}`);
      return;
    }
    upRes.on('error', () => res.destroy());
    record.status = upRes.statusCode;
    const status = upRes.statusCode ?? 502;
    const outHeaders = forwardHeaders(upRes.headers);

    if (fault?.kind === 'reset' && fault.phase === 'response') {
      await drain(upRes);
      resetSocket(clientSocket);
      return;
    }
    if (fault?.kind === 'delay' && fault.phase === 'response') {
      await sleep(fault.ms);
      if (clientSocket.destroyed) {
        upRes.destroy();
        return;
      }
    }
    if (fault?.kind === 'truncate') {
      let body: Buffer | undefined;
      if (outHeaders['content-length'] === undefined && info.method !== 'HEAD') {
        body = await readAll(upRes);
        delete outHeaders['transfer-encoding'];
        outHeaders['content-length'] = String(body.length);
      }
      res.shouldKeepAlive = false;
      res.writeHead(status, upRes.statusMessage, outHeaders);
      await sendCut(res, body ?? upRes, fault.afterBytes, 'fin');
      return;
    }
    if (fault?.kind === 'reset' && fault.phase === 'body') {
      res.shouldKeepAlive = false;
      res.writeHead(status, upRes.statusMessage, outHeaders);
      await sendCut(res, upRes, fault.afterBytes ?? 0, 'rst');
      return;
    }
    res.writeHead(status, upRes.statusMessage, outHeaders);
    if (fault?.kind === 'delay' && fault.phase === 'body') {
      res.flushHeaders();
      await sleep(fault.ms);
      if (clientSocket.destroyed) {
        upRes.destroy();
        return;
      }
    }
    upRes.pipe(res);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${e instanceof Error ? e.message : String(e)}`);
      } else {
        res.destroy();
      }
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    setFaults(plan) {
      rules = toRules(plan);
    },
    addFault(rule) {
      rules.push(...toRules(rule));
    },
    clearFaults() {
      rules = [];
    },
    faultsRemaining() {
      return rules.reduce(
        (n, r) => n + Math.max(0, (r.rule.times ?? Number.POSITIVE_INFINITY) - r.applied),
        0,
      );
    },
    requests(match) {
      const all = log.map((r) => ({ ...r }));
      if (match === undefined) return all;
      return all.filter((r) =>
        matches(match, {
          method: r.method,
          url: r.url,
          path: r.url.split('?')[0] ?? r.url,
          headers: r.headers,
        }),
      );
    },
    clearRequests() {
      log = [];
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closing;
    },
  };
}

function toRules(plan: FaultPlan): RuleState[] {
  const list: readonly FaultRule[] = Array.isArray(plan) ? plan : [plan as FaultRule];
  return list.map((rule) => {
    validateRule(rule);
    return { rule, matched: 0, applied: 0 };
  });
}

function validateRule(rule: FaultRule): void {
  const f = rule.fault;
  const bad = (msg: string): never => {
    throw new Error(`fault proxy: invalid rule: ${msg}`);
  };
  if (typeof f !== 'object' || f === null) bad('fault is required');
  const nonNegInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (rule.times !== undefined && !nonNegInt(rule.times)) bad('times must be a non-negative integer');
  if (rule.after !== undefined && !nonNegInt(rule.after)) bad('after must be a non-negative integer');
  switch (f.kind) {
    case 'status':
      if (!Number.isInteger(f.status) || f.status < 100 || f.status > 599) bad('status must be 100-599');
      break;
    case 'delay':
      if (!nonNegInt(f.ms)) bad('delay ms must be a non-negative integer');
      break;
    case 'reset':
      if (f.afterBytes !== undefined && !nonNegInt(f.afterBytes))
        bad('afterBytes must be a non-negative integer');
      break;
    case 'truncate':
      if (!nonNegInt(f.afterBytes)) bad('afterBytes must be a non-negative integer');
      break;
    default:
      bad(`unknown fault kind ${JSON.stringify((f as { kind?: unknown }).kind)}`);
  }
}

function matches(m: RequestMatcher | undefined, info: ProxyRequestInfo): boolean {
  if (m === undefined) return true;
  if (typeof m === 'function') return m(info);
  if (m.method !== undefined) {
    const methods = typeof m.method === 'string' ? [m.method] : m.method;
    if (!methods.some((x) => x.toUpperCase() === info.method.toUpperCase())) return false;
  }
  if (m.path !== undefined) {
    if (typeof m.path === 'string' ? m.path !== info.path : !m.path.test(info.path)) return false;
  }
  if (m.url !== undefined && !m.url.test(info.url)) return false;
  return true;
}

function forwardHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.resetAndDestroy();
}

function drain(stream: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
    stream.resume();
  });
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Sends at most `limit` body bytes from `source`, then ends (`fin`) or resets (`rst`) the connection. */
async function sendCut(
  res: ServerResponse,
  source: IncomingMessage | Buffer,
  limit: number,
  how: 'fin' | 'rst',
): Promise<void> {
  const socket = res.socket;
  res.flushHeaders();
  let sent = 0;
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve) => {
      res.write(chunk, () => resolve());
    });
  if (Buffer.isBuffer(source)) {
    if (limit > 0) await write(source.subarray(0, limit));
    sent = Math.min(limit, source.length);
  } else {
    for await (const c of source) {
      const chunk = c as Buffer;
      const take = Math.min(chunk.length, limit - sent);
      if (take > 0) await write(chunk.subarray(0, take));
      sent += take;
      if (sent >= limit) break;
    }
    source.destroy();
  }
  if (!socket || socket.destroyed) return;
  // An empty write completes after everything written before it (headers included) reached the kernel.
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.write(Buffer.alloc(0), () => resolve());
  });
  if (how === 'rst') {
    resetSocket(socket);
  } else {
    socket.end();
  }
}

const S3_CODES: Record<number, [string, string]> = {
  400: ['BadRequest', 'Bad Request'],
  403: ['AccessDenied', 'Access Denied'],
  404: ['NoSuchKey', 'The specified key does not exist.'],
  429: ['SlowDown', 'Please reduce your request rate.'],
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
  503: ['SlowDown', 'Please reduce your request rate.'],
};
const AZURE_CODES: Record<number, [string, string]> = {
  403: ['AuthenticationFailed', 'Server failed to authenticate the request.'],
  404: ['BlobNotFound', 'The specified blob does not exist.'],
  500: ['InternalError', 'The server encountered an internal error. Please retry the request.'],
  503: ['ServerBusy', 'The server is currently unable to receive requests. Please retry your request.'],
};
const GCS_REASONS: Record<number, string> = {
  403: 'forbidden',
  404: 'notFound',
  429: 'rateLimitExceeded',
  500: 'backendError',
  503: 'backendError',
};

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorResponse(f: Extract<Fault, { kind: 'status' }>): {
  headers: Record<string, string>;
  body: Buffer;
} {
  const headers: Record<string, string> = { 'x-barge-fault-proxy': 'status' };
  let body: Buffer = Buffer.alloc(0);
  const style = f.body ?? 'empty';
  if (typeof style === 'object') {
    headers['content-type'] = style.contentType;
    body = Buffer.isBuffer(style.data) ? style.data : Buffer.from(style.data);
  } else if (style === 's3' || style === 'azure') {
    const [defCode, defMessage] = (style === 's3' ? S3_CODES : AZURE_CODES)[f.status] ?? [
      'InternalError',
      'Injected fault',
    ];
    const code = f.code ?? defCode;
    const message = f.message ?? defMessage;
    const requestId = style === 's3' ? '<RequestId>barge-fault-proxy</RequestId>' : '';
    headers['content-type'] = 'application/xml';
    if (style === 'azure') headers['x-ms-error-code'] = code;
    body = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${requestId}</Error>`,
    );
  } else if (style === 'gcs' || style === 'json') {
    const reason = f.code ?? GCS_REASONS[f.status] ?? 'backendError';
    const message = f.message ?? `Injected fault (${f.status})`;
    headers['content-type'] = 'application/json; charset=UTF-8';
    body = Buffer.from(JSON.stringify({ error: { code: f.status, message, errors: [{ reason, message }] } }));
  }
  headers['content-length'] = String(body.length);
  for (const [k, v] of Object.entries(f.headers ?? {})) headers[k.toLowerCase()] = v;
  return { headers, body };
}
