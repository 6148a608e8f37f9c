// The gateway in front of an app: calls the gateway does not serve go to a real tRPC v11
// upstream (upstream.mjs, superjson), with the caller's identity signed in a header the
// upstream checks with the TypeScript package's helper. Driven by the real v11 client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { TRPCClientError, createTRPCUntypedClient, httpBatchLink, httpBatchStreamLink } from '@trpc/client';
import {
  createTRPCProxyClient as createV10Client,
  httpBatchLink as v10BatchLink,
  unstable_httpBatchStreamLink as v10StreamLink,
} from 'trpc10';
import superjson from 'superjson';
import * as h from './harness.mjs';

const B = 14; // this file's loopback addresses are 127.14.0.N
const T = { timeout: 120_000 };
let gw;
let upstream;
let upstreamPort;

async function startUpstream() {
  const publicKey = spawnSync(h.gatewayBinary(), ['public-key', '--data-dir', gw.dataDir], { encoding: 'utf8', env: h.gatewayEnv() }).stdout.trim();
  assert.match(publicKey, /^ed25519\/[0-9a-f]{64}$/);
  const child = spawn(process.execPath, ['--experimental-wasm-modules', 'upstream.mjs', String(upstreamPort), publicKey], {
    cwd: new URL('.', import.meta.url),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Listening once it says so.
  for await (const chunk of child.stdout) if (String(chunk).includes('listening')) break;
  return child;
}

before(async () => {
  upstreamPort = await h.freePort();
  gw = await h.startGateway({
    extraArgs: [
      '--upstream', `http://127.0.0.1:${upstreamPort}/api/trpc`, '--upstream-timeout-secs', '2',
      '--metrics-bind', '127.0.0.1:0',
    ],
  });
  upstream = await startUpstream();
});

after(async () => {
  if (upstream && upstream.exitCode === null && upstream.signalCode === null) {
    upstream.kill();
    await once(upstream, 'exit');
  }
  if (gw) await gw.stop();
});

function client({ jar = new h.CookieJar(), headers = {} } = {}) {
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const link = httpBatchLink({ url: gw.trpcUrl, transformer: superjson, fetch, headers: () => ({ ...jar.headers(), ...headers }) });
  return { trpc: createTRPCUntypedClient({ links: [link] }), jar, fetch };
}

const rejects = (promise, expected) => h.rejects(promise, expected, TRPCClientError);

let admin;
/** A client signed in as the admin (created once), with a session of its own. */
async function signedIn() {
  admin ??= await h.createAdminRaw(gw, { address: h.nextAddress(B) });
  const { jar } = await h.loginRaw(gw, admin.email, admin.password, { address: h.nextAddress(B) });
  return { ...client({ jar }), authId: admin.authId };
}

test('a mixed batch: local and forwarded calls in one request, answers in order, superjson passed through', T, async () => {
  const { trpc, fetch, authId } = await signedIn();
  fetch.reset();
  const [me, projects, mine, dated] = await Promise.all([
    trpc.query('auth.get'),
    trpc.query('project.all'),
    trpc.query('project.mine'),
    trpc.query('project.dated'),
  ]);
  assert.equal(fetch.requests.length, 1, 'one HTTP request');
  assert.equal(me.id, authId);
  assert.deepEqual(projects, [{ id: 'p1', name: 'web' }]);
  assert.deepEqual(mine, { authId, role: 'admin', sessionKind: 'session' }, 'the upstream saw the caller');
  assert.ok(dated.at instanceof Date && dated.at.toISOString() === '2024-12-31T23:59:59.000Z');
  assert.ok(dated.tags instanceof Map && dated.tags.get('env') === 'prod');
  // Inputs pass as written.
  assert.deepEqual(await trpc.query('project.byName', { name: 'web', at: new Date(0) }), { echoed: { name: 'web', at: new Date(0) } });
});

test('anonymous callers carry no identity; a spoofed header never reaches the upstream', T, async () => {
  const anonymous = client({
    headers: { 'x-gateway-identity': 'forged', 'x-custom': 'kept', 'x-forwarded-for': '6.6.6.6', authorization: 'Basic eDp5' },
  });
  const seen = await anonymous.trpc.query('debug.headers');
  // The client's claims about itself and its credentials stay at the gateway.
  assert.deepEqual(seen, { identity: null, cookie: null, custom: 'kept', authorization: null, forwardedFor: anonymous.fetch.address });
  await rejects(anonymous.trpc.query('project.mine'), { code: 'UNAUTHORIZED', httpStatus: 401 });
  // Paths a URL would read as more than a procedure never leave the gateway.
  const before = await anonymous.trpc.query('debug.requests');
  for (const path of ['%2e%2e', '..', 'project..all', '%2e%2e%2fhealth']) {
    const res = await anonymous.fetch(`${gw.trpcUrl}/${path}`);
    assert.equal(res.status, 404, path);
    await res.arrayBuffer();
  }
  assert.equal(await anonymous.trpc.query('debug.requests'), before + 1, 'only the counting query reached the upstream');

  const { trpc, jar, authId } = await signedIn();
  jar.set('app_pref', 'compact');
  const { trpc: spoofing } = client({ jar, headers: { 'x-gateway-identity': 'forged' } });
  const signed = await spoofing.query('debug.headers');
  assert.ok(signed.identity && signed.identity !== 'forged', 'the gateway replaced it');
  assert.equal(signed.cookie, 'app_pref=compact', "the gateway's own cookies stay with the gateway");
  assert.equal((await trpc.query('project.mine')).authId, authId);
});

test("the upstream's cookies reach the client; its errors keep their codes, and the batch is a 207", T, async () => {
  const { trpc, jar, fetch } = await signedIn();
  const session = jar.get('auth_session');
  assert.equal(await trpc.mutation('settings.remember', { theme: 'dark' }), true);
  assert.equal(jar.get('app_theme'), 'dark');
  assert.equal(jar.get('auth_session'), session, "the app cannot replace the gateway's session cookie");
  fetch.reset();
  const [me, forbidden] = await Promise.allSettled([trpc.query('auth.get'), trpc.query('project.forbidden')]);
  assert.equal(me.status, 'fulfilled');
  assert.equal(forbidden.reason.data.code, 'FORBIDDEN');
  assert.equal(forbidden.reason.message, 'Not your project');
  assert.equal(fetch.requests[0].status, 207);
  await rejects(trpc.query('debug.huge'), { code: 'BAD_GATEWAY', httpStatus: 502 });
});

/** Every series of the gateway's metrics text, by `name{labels}`. */
async function scrape() {
  let url;
  // The line follows the start-up line the harness waited for.
  while (!(url = gw.log().match(/metrics listening address=(\S+)/)?.[1])) await h.sleep(20);
  const text = await (await fetch(url)).text();
  const values = new Map();
  for (const line of text.split('\n')) {
    const at = line.lastIndexOf(' ');
    if (line && !line.startsWith('#')) values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return (series) => values.get(series) ?? 0;
}

test('forwarded calls are counted by what came of them, upstream paths never become labels', T, async () => {
  const { trpc } = await signedIn();
  const before = await scrape();
  await Promise.allSettled([trpc.query('project.all'), trpc.query('project.forbidden'), trpc.query('auth.get')]);
  await rejects(trpc.query('debug.huge'), { code: 'BAD_GATEWAY', httpStatus: 502 });
  const after = await scrape();
  const moved = (series) => after(series) - before(series);
  assert.equal(moved('auth_gateway_forwarded_calls_total{code="OK"}'), 1);
  assert.equal(moved('auth_gateway_forwarded_calls_total{code="UPSTREAM_ERROR"}'), 1);
  assert.equal(moved('auth_gateway_forwarded_calls_total{code="BAD_GATEWAY"}'), 1);
  assert.equal(moved('auth_gateway_upstream_request_duration_seconds_count'), 2);
  assert.equal(moved('auth_gateway_calls_total{procedure="auth.get",code="OK"}'), 1);
  const text = await (await fetch(gw.log().match(/metrics listening address=(\S+)/)[1])).text();
  assert.ok(!text.includes('project.') && !text.includes('debug.'), 'no upstream path in any label');
});

test('tRPC v10: a mixed batch through httpBatchLink, superjson passed through', T, async () => {
  const { jar, authId } = await signedIn();
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const link = v10BatchLink({ url: gw.trpcUrl, fetch, headers: () => jar.headers() });
  const v10 = createV10Client({ links: [link], transformer: superjson });
  const [me, mine, dated] = await Promise.all([v10.auth.get.query(), v10.project.mine.query(), v10.project.dated.query()]);
  assert.equal(fetch.requests.length, 1, 'one HTTP request');
  assert.equal(me.id, authId);
  assert.equal(mine.authId, authId);
  assert.ok(dated.at instanceof Date && dated.tags instanceof Map);
});

test('tRPC v10 streamed batch: a local answer is not held back by a slow upstream call', T, async () => {
  // A gateway with the default upstream timeout: the held call waits as long as the test.
  const patient = await h.startGateway({
    extraArgs: ['--upstream', `http://127.0.0.1:${upstreamPort}/api/trpc`, '--root-key-file', `${gw.dataDir}/root.key`],
  });
  try {
    const owner = await h.createAdminRaw(patient, { address: h.nextAddress(B) });
    const fetch = h.makeFetch({ address: h.nextAddress(B), jar: owner.jar });
    const link = v10StreamLink({ url: patient.trpcUrl, fetch, headers: () => owner.jar.headers() });
    const v10 = createV10Client({ links: [link], transformer: superjson });
    const plain = h.makeFetch({ address: h.nextAddress(B) });
    const release = createTRPCUntypedClient({ links: [httpBatchLink({ url: patient.trpcUrl, transformer: superjson, fetch: plain })] });
    let heldDone = false;
    const held = v10.project.held.query().finally(() => { heldDone = true; });
    const dated = v10.project.dated.query();
    const me = await v10.auth.get.query();
    assert.equal(me.id, owner.authId);
    assert.ok(!heldDone, 'the local answer arrived while the upstream call was still held');
    // The held call is at the upstream once release finds it.
    while ((await release.mutation('debug.release')) === 0) await h.sleep(20);
    assert.equal(await held, 'released');
    assert.ok((await dated).at instanceof Date, 'superjson passes through the stream');
    assert.equal(fetch.requests.length, 1, 'one streamed request');
  } finally {
    await patient.stop();
  }
});

test('tRPC v11 streamed batch (JSON lines): answers stream from both sides, superjson and errors intact', T, async () => {
  const patient = await h.startGateway({
    extraArgs: ['--upstream', `http://127.0.0.1:${upstreamPort}/api/trpc`, '--root-key-file', `${gw.dataDir}/root.key`],
  });
  try {
    const owner = await h.createAdminRaw(patient, { address: h.nextAddress(B) });
    const fetch = h.makeFetch({ address: h.nextAddress(B), jar: owner.jar });
    const link = httpBatchStreamLink({ url: patient.trpcUrl, transformer: superjson, fetch, headers: () => owner.jar.headers() });
    const trpc = createTRPCUntypedClient({ links: [link] });
    const plain = h.makeFetch({ address: h.nextAddress(B) });
    const release = createTRPCUntypedClient({ links: [httpBatchLink({ url: patient.trpcUrl, transformer: superjson, fetch: plain })] });
    let heldDone = false;
    const held = trpc.query('project.held').finally(() => { heldDone = true; });
    const dated = trpc.query('project.dated');
    const mine = trpc.query('project.mine');
    const forbidden = trpc.query('project.forbidden').catch((e) => e);
    const me = await trpc.query('auth.get');
    assert.equal(me.id, owner.authId);
    assert.ok(!heldDone, 'the local answer arrived while the upstream call was still held');
    while ((await release.mutation('debug.release')) === 0) await h.sleep(20);
    assert.equal(await held, 'released');
    const { at, tags } = await dated;
    assert.ok(at instanceof Date && at.toISOString() === '2024-12-31T23:59:59.000Z');
    assert.ok(tags instanceof Map && tags.get('env') === 'prod');
    assert.equal((await mine).authId, owner.authId);
    const error = await forbidden;
    assert.ok(error instanceof TRPCClientError);
    assert.equal(error.data.code, 'FORBIDDEN');
    assert.equal(error.message, 'Not your project');
    assert.equal(fetch.requests.length, 1, 'one streamed request');
  } finally {
    await patient.stop();
  }
});

test('with --upstream-require-session, anonymous calls reach only the public paths', T, async () => {
  // Same root key: the upstream trusts this gateway's identities too.
  const strict = await h.startGateway({
    extraArgs: [
      '--upstream', `http://127.0.0.1:${upstreamPort}/api/trpc`,
      '--root-key-file', `${gw.dataDir}/root.key`,
      '--upstream-require-session', '--upstream-public-path', 'project.all,debug.counted',
    ],
  });
  try {
    const fetch = h.makeFetch({ address: h.nextAddress(B) });
    const anonymous = createTRPCUntypedClient({ links: [httpBatchLink({ url: strict.trpcUrl, transformer: superjson, fetch })] });
    const [all, count] = await Promise.allSettled([anonymous.query('project.all'), anonymous.mutation('debug.count')]);
    assert.deepEqual(all.value, [{ id: 'p1', name: 'web' }]);
    assert.equal(count.reason.data.code, 'UNAUTHORIZED');
    assert.equal(await anonymous.query('debug.counted'), 0, 'the refused call never reached the upstream');
  } finally {
    await strict.stop();
  }
});

test('a batch whose URL would be too long for the upstream goes as several requests', T, async () => {
  const small = await h.startGateway({
    extraArgs: ['--upstream', `http://127.0.0.1:${upstreamPort}/api/trpc`, '--upstream-max-url-bytes', '400'],
  });
  try {
    const fetch = h.makeFetch({ address: h.nextAddress(B) });
    const trpc = createTRPCUntypedClient({ links: [httpBatchLink({ url: small.trpcUrl, transformer: superjson, fetch })] });
    const before = await trpc.query('debug.requests');
    const names = ['a', 'b', 'c', 'd'].map((c) => c.repeat(120));
    const echoed = await Promise.all(names.map((name) => trpc.query('project.byName', { name })));
    assert.deepEqual(echoed, names.map((name) => ({ echoed: { name } })));
    const after = await trpc.query('debug.requests');
    // One request from the client; the gateway split it (each query to debug.requests counts once).
    assert.ok(after - before - 1 >= 2, `${after - before - 1} upstream requests`);
  } finally {
    await small.stop();
  }
});

test('a slow upstream gives GATEWAY_TIMEOUT, a stopped one BAD_GATEWAY; local calls of the batch still succeed', T, async () => {
  const { trpc } = await signedIn();
  const [me, slow] = await Promise.allSettled([trpc.query('auth.get'), trpc.query('project.slow')]);
  assert.equal(me.status, 'fulfilled');
  assert.equal(slow.reason.data.code, 'GATEWAY_TIMEOUT');
  assert.equal(slow.reason.data.httpStatus, 504);

  upstream.kill();
  await once(upstream, 'exit');
  const [again, down] = await Promise.allSettled([trpc.query('auth.get'), trpc.query('project.all')]);
  assert.equal(again.status, 'fulfilled');
  assert.equal(down.reason.data.code, 'BAD_GATEWAY');
  assert.equal(down.reason.data.httpStatus, 502);
});
