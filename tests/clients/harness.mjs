// Test harness for the end-to-end client tests: starts one gateway process per test
// file (fresh data dir, fresh database), gives every test its own loopback source
// address (per-address login throttling must not bleed across tests), a cookie jar,
// a TOTP generator and a few setup helpers that talk the raw tRPC wire.
//
// TEST_BACKEND picks the gateway's store: `sqlite` (the default: a file in the gateway's
// data dir) or `postgres` (a fresh database per test file on the TEST_DATABASE_URL server).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import superjson from 'superjson';
import { Agent, fetch as undiciFetch } from 'undici';

export { skip } from './skip.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The gateway's store for this run, from TEST_BACKEND: `sqlite` (unset) or `postgres`. */
export function testBackend(env = process.env) {
  const backend = env.TEST_BACKEND || 'sqlite';
  if (backend !== 'sqlite' && backend !== 'postgres') {
    throw new Error(`TEST_BACKEND is ${JSON.stringify(backend)}: sqlite or postgres`);
  }
  if (backend === 'postgres' && !env.TEST_DATABASE_URL) {
    throw new Error('TEST_BACKEND=postgres needs TEST_DATABASE_URL, the server to make databases on');
  }
  return backend;
}

/** The repository root: the first ancestor of this file holding Cargo.toml. */
export function repoRoot() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'Cargo.toml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (Cargo.toml) not found');
    dir = up;
  }
}

export function gatewayBinary() {
  const bin = process.env.GATEWAY_BIN || join(repoRoot(), 'target', 'debug', 'auth-gateway');
  if (!existsSync(bin)) throw new Error(`gateway binary not found at ${bin} (cargo build -p gateway-server)`);
  return bin;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------------------
// Fresh PostgreSQL database per test file (TEST_BACKEND=postgres; dokploy.test.mjs's source).

async function pgClient(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Connects to the TEST_DATABASE_URL server (its `postgres` database if the named one is missing). */
async function adminClient(baseUrl) {
  try {
    return await pgClient(baseUrl);
  } catch (e) {
    if (e.code !== '3D000') throw e; // invalid_catalog_name: the database does not exist
    const u = new URL(baseUrl);
    u.pathname = '/postgres';
    return pgClient(u.toString());
  }
}

export async function createDatabase(baseUrl) {
  const name = `gw_client_${randomBytes(6).toString('hex')}`;
  const client = await adminClient(baseUrl);
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

export async function dropDatabase(baseUrl, name) {
  const client = await adminClient(baseUrl);
  try {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------
// The gateway process.

/** The environment without settings that would leak into the gateway (GATEWAY_*, DATABASE_URL). */
export function gatewayEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GATEWAY_') || k === 'DATABASE_URL') continue;
    env[k] = v;
  }
  if (process.env.GATEWAY_TEST_LOG) env.GATEWAY_LOG = process.env.GATEWAY_TEST_LOG;
  return env;
}

/**
 * Starts `auth-gateway serve` on a free port with a fresh data dir, on the store
 * TEST_BACKEND names (a fresh PostgreSQL database for `postgres`). Resolves once GET
 * /health is 200 and the gateway has migrated that very store.
 */
export async function startGateway({ transformer, extraArgs = [] } = {}) {
  const bin = gatewayBinary();
  const backend = testBackend();
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-client-'));
  const logPath = join(dataDir, 'gateway.log');
  let db = null;
  const baseDbUrl = process.env.TEST_DATABASE_URL;
  const sqliteFile = join(dataDir, 'gateway.db');
  const databaseUrl = backend === 'postgres'
    ? (db = await createDatabase(baseDbUrl)).url
    : `sqlite://${sqliteFile}`;
  const port = await freePort();
  const args = [
    'serve',
    '--bind', `127.0.0.1:${port}`,
    '--data-dir', dataDir,
    '--database-url', databaseUrl,
    '--bcrypt-cost', '4',
  ];
  if (transformer) args.push('--transformer', transformer);
  args.push(...extraArgs);
  const logFd = openSync(logPath, 'a');
  const child = spawn(bin, args, {
    stdio: ['ignore', logFd, logFd],
    env: gatewayEnv(),
  });
  closeSync(logFd);
  let exited = null;
  const exitPromise = new Promise((res) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    res(exited);
  }));
  const url = `http://127.0.0.1:${port}`;
  const log = () => {
    try { return readFileSync(logPath, 'utf8'); } catch { return ''; }
  };
  const gw = {
    url,
    trpcUrl: `${url}/api/trpc`,
    apiUrl: `${url}/api`,
    port,
    dataDir,
    backend,
    databaseUrl,
    log,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 5000);
        await exitPromise;
        clearTimeout(t);
      }
      await closeAgents();
      if (db) {
        try { await dropDatabase(baseDbUrl, db.name); } catch (e) { console.error(`drop database ${db.name}: ${e.message}`); }
      }
      if (process.env.KEEP_DATA_DIR) console.error(`gateway data dir kept: ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      const out = log();
      await gw.stop();
      throw new Error(`gateway exited early (${JSON.stringify(exited)}): ${bin} ${args.join(' ')}\n${out}`);
    }
    try {
      const r = await undiciFetch(`${url}/health`);
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      const out = log();
      await gw.stop();
      throw new Error(`gateway not healthy within 60 s: ${bin} ${args.join(' ')}\n${out}`);
    }
    await sleep(100);
  }
  await assertMigrated(gw, db, sqliteFile);
  return gw;
}

/** The gateway serves the store it was given: its migrations are recorded there. */
async function assertMigrated(gw, db, sqliteFile) {
  let problem = null;
  if (db) {
    const client = await pgClient(db.url);
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM __diesel_schema_migrations');
      if (!(rows[0].n > 0)) problem = `no migration recorded in PostgreSQL database ${db.name}`;
    } catch (e) {
      problem = `PostgreSQL database ${db.name}: ${e.message}`;
    } finally {
      await client.end();
    }
  } else if (!existsSync(sqliteFile)) {
    problem = `the gateway did not create its SQLite file ${sqliteFile}`;
  }
  if (problem) {
    const out = gw.log();
    await gw.stop();
    throw new Error(`${problem}\n${out}`);
  }
}

// ---------------------------------------------------------------------------
// Loopback source addresses and fetch.

let addressCounter = 0;
/** A fresh loopback source address 127.B.0.N for this test file (B from the file). */
export function nextAddress(b) {
  addressCounter += 1;
  if (addressCounter > 254) throw new Error('out of loopback addresses');
  return `127.${b}.0.${addressCounter}`;
}

const agents = new Map();
function agentFor(address) {
  if (!address) return undefined;
  let a = agents.get(address);
  if (!a) {
    // The Client-level option: `connect: { localAddress }` is overridden by it (null) in undici 6.
    a = new Agent({ localAddress: address });
    agents.set(address, a);
  }
  return a;
}
async function closeAgents() {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close().catch(() => {})));
}

/** Very small cookie jar: stores name=value from Set-Cookie, sends them back. */
export class CookieJar {
  constructor() { this.cookies = new Map(); }
  store(res) {
    const list = typeof res.headers.getSetCookie === 'function'
      ? res.headers.getSetCookie()
      : (res.headers.get('set-cookie') ? [res.headers.get('set-cookie')] : []);
    for (const line of list) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'max-age' && Number(v.trim()) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return list;
  }
  get(name) { return this.cookies.get(name); }
  set(name, value) { this.cookies.set(name, value); }
  has(name) { return this.cookies.has(name); }
  delete(name) { this.cookies.delete(name); }
  names() { return [...this.cookies.keys()]; }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
  headers() { const c = this.header(); return c ? { cookie: c } : {}; }
  clone() { const j = new CookieJar(); j.cookies = new Map(this.cookies); return j; }
}

/**
 * A fetch that connects from `address`, stores Set-Cookie into `jar`, and records every
 * request and response (for request counting and header checks). Accepts either
 * (url, init) as the tRPC clients call it or a Request as openapi-fetch does.
 */
export function makeFetch({ address, jar } = {}) {
  const requests = [];
  const dispatcher = agentFor(address);
  const f = async (input, init = {}) => {
    let url = input;
    let opts = { ...init };
    if (input && typeof input === 'object' && typeof input.url === 'string' && typeof input.method === 'string') {
      url = input.url;
      const method = input.method;
      const body = method === 'GET' || method === 'HEAD' ? undefined : await input.arrayBuffer();
      opts = { method, headers: Object.fromEntries(input.headers.entries()), body, ...init };
    } else if (input instanceof URL) {
      url = input.toString();
    }
    if (opts.body === null) delete opts.body;
    const record = { url: String(url), method: opts.method || 'GET', headers: normHeaders(opts.headers) };
    requests.push(record);
    const res = await undiciFetch(url, { ...opts, dispatcher });
    record.status = res.status;
    record.responseHeaders = res.headers;
    if (jar) record.setCookie = jar.store(res);
    else record.setCookie = res.headers.getSetCookie ? res.headers.getSetCookie() : [];
    return res;
  };
  f.requests = requests;
  f.address = address;
  f.reset = () => { requests.length = 0; };
  return f;
}

function normHeaders(h) {
  if (!h) return {};
  if (typeof h.entries === 'function' && !Array.isArray(h)) return Object.fromEntries([...h.entries()].map(([k, v]) => [k.toLowerCase(), v]));
  if (Array.isArray(h)) return Object.fromEntries(h.map(([k, v]) => [k.toLowerCase(), v]));
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

// ---------------------------------------------------------------------------
// Raw tRPC wire calls (superjson), for setup independent of the client under test.

/**
 * One tRPC call over the raw wire. Returns { status, ok, data, error, res, setCookie }.
 * `data` is the decoded output, `error` the decoded error shape.
 */
export async function rpc(gw, path, input, { kind = 'mutation', jar, address, headers = {} } = {}) {
  const f = makeFetch({ address, jar });
  const h = { ...(jar ? jar.headers() : {}), ...headers };
  let res;
  if (kind === 'query') {
    const q = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`;
    res = await f(`${gw.trpcUrl}/${path}${q}`, { method: 'GET', headers: h });
  } else {
    const init = { method: 'POST', headers: { 'content-type': 'application/json', ...h } };
    if (input !== undefined) init.body = JSON.stringify(superjson.serialize(input));
    res = await f(`${gw.trpcUrl}/${path}`, init);
  }
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  const out = { status: res.status, res, body, setCookie: f.requests[0].setCookie };
  if (body && body.result) out.data = superjson.deserialize(body.result.data);
  if (body && body.error) out.error = superjson.deserialize(body.error);
  out.ok = res.status === 200 && !!body.result;
  return out;
}

function must(r, what) {
  if (!r.ok) throw new Error(`${what} failed: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.data;
}

export const PASSWORD = 'correct horse battery';

let emailCounter = 0;
/** A unique email for this process. */
export function uniqueEmail(prefix = 'user') {
  emailCounter += 1;
  return `${prefix}${emailCounter}-${randomBytes(3).toString('hex')}@example.com`;
}

/** Creates the (one) admin over the raw wire; returns { email, password, jar, authId }. */
export async function createAdminRaw(gw, { email = uniqueEmail('admin'), password = PASSWORD, address } = {}) {
  const jar = new CookieJar();
  must(await rpc(gw, 'auth.createAdmin', { email, password }, { jar, address }), 'auth.createAdmin');
  const me = must(await rpc(gw, 'auth.get', undefined, { kind: 'query', jar, address }), 'auth.get');
  return { email, password, jar, authId: me.id, auth: me };
}

/** Logs in over the raw wire; returns { jar, data }. */
export async function loginRaw(gw, email, password, { address, jar = new CookieJar() } = {}) {
  const data = must(await rpc(gw, 'auth.login', { email, password }, { jar, address }), 'auth.login');
  return { jar, data };
}

/**
 * Invites `email` as the admin (adminJar), registers it with `password` and returns
 * { email, password, authId, jar } with the new user's session in jar.
 */
export async function inviteAndRegister(gw, adminJar, { email = uniqueEmail('user'), password = PASSWORD, address } = {}) {
  const inv = must(await rpc(gw, 'admin.createUserInvitation', { email }, { jar: adminJar, address }), 'admin.createUserInvitation');
  const jar = new CookieJar();
  must(await rpc(gw, 'auth.createUser', { id: inv.authId, token: inv.token, password }, { jar, address }), 'auth.createUser');
  return { email, password, authId: inv.authId, jar };
}

// ---------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s).

export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.toUpperCase().replace(/=+$/, '').replace(/\s+/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** HOTP of `counter` with key bytes `key`, `digits` digits. */
export function hotp(key, counter, digits = 6) {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(buf).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/** TOTP for a base32 secret at time `ms` (default now). */
export function totp(secret, ms = Date.now(), digits = 6) {
  return hotp(base32Decode(secret), Math.floor(ms / 30000), digits);
}

/**
 * Hands out pins for one account in strictly increasing time steps within the server's
 * ±1 step window, because a code accepted once is refused afterwards (replay).
 */
export class PinSource {
  constructor(secret) {
    this.secret = secret;
    this.key = base32Decode(secret);
    this.last = -Infinity;
  }
  async next() {
    for (;;) {
      const now = Date.now();
      const cur = Math.floor(now / 30000);
      const remaining = 30000 - (now % 30000);
      const step = Math.max(cur - 1, this.last + 1);
      if (step === cur - 1 && remaining < 3000) { await sleep(remaining + 100); continue; }
      if (step > cur + 1) { await sleep(remaining + 100); continue; }
      this.last = step;
      this.lastPin = hotp(this.key, step);
      return this.lastPin;
    }
  }
  /** A six-digit pin that is valid for none of the steps near now. */
  wrong() {
    const cur = Math.floor(Date.now() / 30000);
    const near = new Set([-2, -1, 0, 1, 2].map((d) => hotp(this.key, cur + d)));
    for (let i = 0; ; i += 1) {
      const pin = String((123456 + i * 7919) % 1000000).padStart(6, '0');
      if (!near.has(pin)) return pin;
    }
  }
}

/**
 * Awaits a tRPC call that must fail with `ErrorClass` (the client version's TRPCClientError)
 * whose data carries `code`, and `httpStatus` and `message` when given. Returns the error.
 */
export async function rejects(promise, { code, httpStatus, message }, ErrorClass) {
  let err;
  try {
    const v = await promise;
    assert.fail(`expected ${code}, got success ${JSON.stringify(v)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(err instanceof ErrorClass, `expected TRPCClientError, got ${err?.stack || err}`);
  assert.equal(err.data?.code, code, `error.data.code (message ${JSON.stringify(err.message)}, data ${JSON.stringify(err.data)})`);
  if (httpStatus !== undefined) assert.equal(err.data?.httpStatus, httpStatus, 'error.data.httpStatus');
  if (message !== undefined) assert.equal(err.message, message, 'error.message');
  return err;
}
