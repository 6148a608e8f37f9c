// End-to-end tests with the real tRPC v10 client (10.45.2, superjson on the client)
// against a freshly started gateway: httpLink, httpBatchLink, unstable_httpBatchStreamLink.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TRPCClientError,
  createTRPCClient,
  createTRPCProxyClient,
  httpBatchLink,
  httpLink,
  unstable_httpBatchStreamLink,
} from 'trpc10';
import superjson from 'superjson';
import * as h from './harness.mjs';

const B = 10; // this file's loopback addresses are 127.10.0.N
const T = { timeout: 120_000 };
let gw;
let admin;

before(async () => {
  gw = await h.startGateway();
});

after(async () => {
  if (gw) {
    if (process.env.SHOW_GATEWAY_LOG) console.error(gw.log());
    await gw.stop();
  }
});

const LINKS = { http: httpLink, batch: httpBatchLink, stream: unstable_httpBatchStreamLink };

function client({ link = 'batch', address = h.nextAddress(B), jar = new h.CookieJar(), headers = {} } = {}) {
  const fetch = h.makeFetch({ address, jar });
  const trpc = createTRPCProxyClient({
    transformer: superjson,
    links: [LINKS[link]({ url: gw.trpcUrl, fetch, headers: () => ({ ...jar.headers(), ...headers }) })],
  });
  return { trpc, fetch, jar, address };
}

/** The call fails with a TRPCClientError carrying this code (and status, message). */
const rejects = (promise, expected) => h.rejects(promise, expected, TRPCClientError);

async function getAdmin() {
  if (!admin) admin = await h.createAdminRaw(gw, { address: h.nextAddress(B) });
  return admin;
}

async function newUser() {
  const a = await getAdmin();
  return h.inviteAndRegister(gw, a.jar, { address: h.nextAddress(B) });
}

test('v10 httpLink: auth.createAdmin sets the session cookie', T, async () => {
  const email = h.uniqueEmail('admin');
  const c = client({ link: 'http' });
  assert.equal(await c.trpc.auth.createAdmin.mutate({ email, password: h.PASSWORD }), true);
  assert.ok(c.jar.has('auth_session'));
  const me = await c.trpc.auth.get.query();
  assert.equal(me.email, email);
  assert.equal(me.rol, 'admin');
  assert.ok(!('password' in me));
  admin = { email, password: h.PASSWORD, jar: c.jar, authId: me.id };
  await rejects(client({ link: 'http' }).trpc.auth.createAdmin.mutate({ email: h.uniqueEmail('a2'), password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Admin already exists' });
});

test('v10 httpBatchLink: login → is2FAEnabled false; several concurrent calls in ONE request', T, async () => {
  const a = await getAdmin();
  const c = client();
  assert.deepEqual(await c.trpc.auth.login.mutate({ email: a.email, password: a.password }),
    { is2FAEnabled: false, authId: a.authId });
  assert.ok(c.jar.has('auth_session'));
  c.fetch.reset();
  const [me, one, again] = await Promise.all([
    c.trpc.auth.get.query(),
    c.trpc.auth.one.query({ id: a.authId }),
    c.trpc.auth.get.query(),
  ]);
  assert.equal(c.fetch.requests.length, 1, 'one HTTP request');
  assert.equal(decodeURIComponent(new URL(c.fetch.requests[0].url).pathname), '/api/trpc/auth.get,auth.one,auth.get');
  assert.equal(me.id, a.authId);
  assert.deepEqual(one, me);
  assert.deepEqual(again, me);

  c.fetch.reset();
  const results = await Promise.allSettled([c.trpc.auth.get.query(), c.trpc.auth.one.query({ id: 'nope' })]);
  assert.equal(c.fetch.requests.length, 1);
  assert.equal(c.fetch.requests[0].status, 207);
  assert.equal(results[0].status, 'fulfilled');
  assert.equal(results[1].status, 'rejected');
  assert.ok(results[1].reason instanceof TRPCClientError);
  assert.equal(results[1].reason.data.code, 'NOT_FOUND');
  assert.equal(results[1].reason.data.httpStatus, 404);
  assert.equal(results[1].reason.message, 'Auth not found');
});

test('v10 unstable_httpBatchStreamLink: one streamed request, results and errors per call', T, async () => {
  const a = await getAdmin();
  const c = client({ link: 'stream', jar: a.jar.clone() });
  const results = await Promise.allSettled([
    c.trpc.auth.get.query(),
    c.trpc.auth.one.query({ id: 'missing' }),
    c.trpc.auth.one.query({ id: a.authId }),
  ]);
  assert.equal(c.fetch.requests.length, 1, 'one HTTP request');
  const r = c.fetch.requests[0];
  assert.equal(r.headers['trpc-batch-mode'], 'stream');
  assert.equal(results[0].status, 'fulfilled', String(results[0].reason));
  assert.equal(results[0].value.id, a.authId);
  assert.equal(results[1].status, 'rejected');
  assert.ok(results[1].reason instanceof TRPCClientError);
  assert.equal(results[1].reason.data.code, 'NOT_FOUND');
  assert.equal(results[1].reason.data.httpStatus, 404);
  assert.equal(results[2].status, 'fulfilled', String(results[2].reason));
  assert.deepEqual(results[2].value, results[0].value);
  assert.equal(await c.trpc.auth.verifyToken.mutate(), true);
});

test('v10 untyped createTRPCClient: client.mutation("auth.login", input) / client.query("auth.get")', T, async () => {
  const a = await getAdmin();
  const jar = new h.CookieJar();
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const u = createTRPCClient({
    transformer: superjson,
    links: [httpBatchLink({ url: gw.trpcUrl, fetch, headers: () => jar.headers() })],
  });
  const out = await u.mutation('auth.login', { email: a.email, password: a.password });
  assert.deepEqual(out, { is2FAEnabled: false, authId: a.authId });
  assert.equal((await u.query('auth.get')).id, a.authId);
  assert.equal((await u.query('auth.one', { id: a.authId })).id, a.authId);
});

test('v10: invitation → getUserByToken → createUser → user login', T, async () => {
  const a = await getAdmin();
  const ad = client({ jar: a.jar.clone() });
  const email = h.uniqueEmail('invitee');
  const inv = await ad.trpc.admin.createUserInvitation.mutate({ email });
  assert.match(inv.token, /^[0-9a-f]{64}$/);
  const anon = client();
  const info = await anon.trpc.admin.getUserByToken.query({ token: inv.token });
  assert.deepEqual({ authId: info.authId, email: info.email, isExpired: info.isExpired }, { authId: inv.authId, email, isExpired: false });
  const u = client({ link: 'http' });
  assert.equal(await u.trpc.auth.createUser.mutate({ id: inv.authId, token: inv.token, password: h.PASSWORD }), true);
  assert.ok(u.jar.has('auth_session'));
  assert.equal((await u.trpc.auth.get.query()).rol, 'user');
  const l = client();
  assert.deepEqual(await l.trpc.auth.login.mutate({ email, password: h.PASSWORD }), { is2FAEnabled: false, authId: inv.authId });
});

test('v10: generateToken → Bearer / x-api-key; old token refused; update email', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const t1 = (await c.trpc.auth.generateToken.mutate()).token;
  assert.equal((await client({ headers: { authorization: `Bearer ${t1}` } }).trpc.auth.get.query()).id, user.authId);
  assert.equal((await client({ headers: { 'x-api-key': t1 } }).trpc.auth.get.query()).id, user.authId);
  const t2 = (await c.trpc.auth.generateToken.mutate()).token;
  assert.notEqual(t2, t1);
  await rejects(client({ headers: { authorization: `Bearer ${t1}` } }).trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  await rejects(client({ headers: { 'x-api-key': t1 } }).trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  assert.equal((await client({ headers: { 'x-api-key': t2 } }).trpc.auth.get.query()).id, user.authId);

  const newEmail = h.uniqueEmail('renamed');
  assert.equal((await c.trpc.auth.update.mutate({ email: newEmail })).email, newEmail);
  assert.equal((await client().trpc.auth.login.mutate({ email: newEmail, password: user.password })).authId, user.authId);
});

test('v10: 2FA setup → login challenge → verifyLogin2FA → disable2FA', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const gen = await c.trpc.auth.generate2FASecret.query();
  const pins = new h.PinSource(gen.secret);
  assert.equal((await c.trpc.auth.verify2FASetup.mutate({ pin: await pins.next(), secret: gen.secret })).is2FAEnabled, true);
  assert.equal(await c.trpc.auth.logout.mutate(), true);

  const l = client();
  assert.deepEqual(await l.trpc.auth.login.mutate({ email: user.email, password: user.password }), { is2FAEnabled: true, authId: user.authId });
  assert.ok(!l.jar.has('auth_session'));
  assert.ok(l.jar.names().length > 0, 'challenge cookie');
  await rejects(l.trpc.auth.verifyLogin2FA.mutate({ pin: pins.wrong(), id: user.authId }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid 2FA code' });
  assert.equal(await l.trpc.auth.verifyLogin2FA.mutate({ pin: await pins.next(), id: user.authId }), true);
  assert.ok(l.jar.has('auth_session'));
  assert.equal((await l.trpc.auth.disable2FA.mutate()).is2FAEnabled, false);
  assert.equal((await client().trpc.auth.login.mutate({ email: user.email, password: user.password })).is2FAEnabled, false);
});

test('v10: logout then auth.get refused', T, async () => {
  const a = await getAdmin();
  const c = client();
  await c.trpc.auth.login.mutate({ email: a.email, password: a.password });
  const old = c.jar.get('auth_session');
  assert.equal(await c.trpc.auth.logout.mutate(), true);
  await rejects(c.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  const replay = client();
  replay.jar.set('auth_session', old);
  await rejects(replay.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
});

test('v10 error data: UNAUTHORIZED, BAD_REQUEST, validation (zodError), FORBIDDEN, TOO_MANY_REQUESTS', T, async () => {
  const a = await getAdmin();
  await rejects(client().trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  const wrong = await rejects(client().trpc.auth.login.mutate({ email: a.email, password: 'wrong password' }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });
  assert.equal(wrong.data.path, 'auth.login');
  const bad = await rejects(client().trpc.auth.login.mutate({ email: 'not-an-email', password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400 });
  assert.ok(bad.data.zodError?.fieldErrors?.email?.length > 0, JSON.stringify(bad.data));
  const user = await newUser();
  await rejects(client({ jar: user.jar }).trpc.auth.one.query({ id: a.authId }), { code: 'FORBIDDEN', httpStatus: 403 });

  const c = client({ link: 'http' });
  for (let i = 0; i < 5; i += 1) {
    await rejects(c.trpc.auth.login.mutate({ email: h.uniqueEmail('ghost'), password: 'wrong password' }),
      { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });
  }
  await rejects(c.trpc.auth.login.mutate({ email: user.email, password: user.password }),
    { code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
  assert.equal((await client().trpc.auth.login.mutate({ email: user.email, password: user.password })).authId, user.authId);
});
