// The gateway started with `--transformer json`: tRPC v11 and v10 clients without a
// transformer (plain JSON inputs and outputs, no {"json": ...} wrapping).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRPCClientError, createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink } from '@trpc/client';
import * as v10 from 'trpc10';
import * as h from './harness.mjs';

const B = 12; // this file's loopback addresses are 127.12.0.N
const T = { timeout: 60_000 };
let gw;
const email = h.uniqueEmail('json-admin');
let adminId;

before(async () => {
  gw = await h.startGateway({ transformer: 'json' });
});

after(async () => {
  if (gw) {
    if (process.env.SHOW_GATEWAY_LOG) console.error(gw.log());
    await gw.stop();
  }
});

function v11client(link, jar = new h.CookieJar()) {
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  return { trpc: createTRPCClient({ links: [link({ url: gw.trpcUrl, fetch, headers: () => jar.headers() })] }), jar, fetch };
}

test('json transformer, v11 httpLink: createAdmin, login, get; the wire is plain JSON', T, async () => {
  const c = v11client(httpLink);
  assert.equal(await c.trpc.auth.createAdmin.mutate({ email, password: h.PASSWORD }), true);
  assert.ok(c.jar.has('auth_session'));
  const l = v11client(httpLink);
  const out = await l.trpc.auth.login.mutate({ email, password: h.PASSWORD });
  assert.equal(out.is2FAEnabled, false);
  adminId = out.authId;
  const me = await l.trpc.auth.get.query();
  assert.equal(me.id, adminId);

  // raw: a plain JSON body in, {"result":{"data": <output>}} out
  const f = h.makeFetch({ address: h.nextAddress(B) });
  const res = await f(`${gw.trpcUrl}/auth.login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: h.PASSWORD }),
  });
  assert.deepEqual(await res.json(), { result: { data: { is2FAEnabled: false, authId: adminId } } });
});

test('json transformer, v11 httpBatchLink and httpBatchStreamLink; error data', T, async () => {
  const l = v11client(httpBatchLink);
  await l.trpc.auth.login.mutate({ email, password: h.PASSWORD });
  l.fetch.reset();
  const [a, b] = await Promise.all([l.trpc.auth.get.query(), l.trpc.auth.one.query({ id: adminId })]);
  assert.equal(l.fetch.requests.length, 1);
  assert.deepEqual(a, b);
  const s = v11client(httpBatchStreamLink, l.jar);
  const r = await Promise.allSettled([s.trpc.auth.get.query(), s.trpc.auth.one.query({ id: 'nope' })]);
  assert.equal(r[0].value?.id, adminId);
  assert.ok(r[1].reason instanceof TRPCClientError);
  assert.equal(r[1].reason.data.code, 'NOT_FOUND');

  const bad = await v11client(httpLink).trpc.auth.login.mutate({ email: 'nope', password: h.PASSWORD }).catch((e) => e);
  assert.ok(bad instanceof TRPCClientError);
  assert.equal(bad.data.code, 'BAD_REQUEST');
  assert.equal(bad.data.httpStatus, 400);
  assert.ok(bad.data.zodError.fieldErrors.email.length > 0);
  const un = await v11client(httpLink).trpc.auth.get.query().catch((e) => e);
  assert.equal(un.data.code, 'UNAUTHORIZED');
  assert.equal(un.data.httpStatus, 401);
});

test('json transformer, v10 client without transformer (httpBatchLink, unstable_httpBatchStreamLink)', T, async () => {
  const jar = new h.CookieJar();
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const c = v10.createTRPCProxyClient({ links: [v10.httpBatchLink({ url: gw.trpcUrl, fetch, headers: () => jar.headers() })] });
  assert.equal((await c.auth.login.mutate({ email, password: h.PASSWORD })).authId, adminId);
  assert.equal((await c.auth.get.query()).id, adminId);
  const s = v10.createTRPCProxyClient({ links: [v10.unstable_httpBatchStreamLink({ url: gw.trpcUrl, fetch, headers: () => jar.headers() })] });
  const r = await Promise.allSettled([s.auth.get.query(), s.auth.one.query({ id: 'nope' })]);
  assert.equal(r[0].value?.id, adminId);
  assert.ok(r[1].reason instanceof v10.TRPCClientError);
  assert.equal(r[1].reason.data.code, 'NOT_FOUND');
  assert.equal(r[1].reason.data.httpStatus, 404);
});
