// End-to-end tests with the real tRPC v11 client (superjson on the links) against a
// freshly started gateway: httpLink, httpBatchLink, httpBatchStreamLink.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TRPCClientError,
  createTRPCClient,
  createTRPCUntypedClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
} from '@trpc/client';
import superjson from 'superjson';
import * as h from './harness.mjs';

const B = 11; // this file's loopback addresses are 127.11.0.N
const T = { timeout: 120_000 };
let gw;
let admin; // { email, password, jar, authId }

before(async () => {
  gw = await h.startGateway();
});

after(async (t) => {
  if (gw) {
    if (process.env.SHOW_GATEWAY_LOG) console.error(gw.log());
    await gw.stop();
  }
});

const LINKS = { http: httpLink, batch: httpBatchLink, stream: httpBatchStreamLink };

/** A v11 client from its own source address, with a cookie jar and extra headers. */
function client({ link = 'batch', address = h.nextAddress(B), jar = new h.CookieJar(), headers = {}, linkOpts = {} } = {}) {
  const fetch = h.makeFetch({ address, jar });
  const opts = {
    url: gw.trpcUrl,
    transformer: superjson,
    fetch,
    headers: () => ({ ...jar.headers(), ...headers }),
    ...linkOpts,
  };
  const trpc = createTRPCClient({ links: [LINKS[link](opts)] });
  return { trpc, fetch, jar, address };
}

/** The call fails with a TRPCClientError carrying this code (and status, message). */
const rejects = (promise, expected) => h.rejects(promise, expected, TRPCClientError);

function assertAuthShape(a) {
  assert.equal(typeof a.id, 'string');
  assert.equal(typeof a.email, 'string');
  assert.ok(a.rol === 'admin' || a.rol === 'user', `rol ${a.rol}`);
  assert.equal(typeof a.is2FAEnabled, 'boolean');
  assert.equal(typeof a.createdAt, 'string');
  assert.ok(!('password' in a), 'Auth must not carry password');
  assert.equal(a.secret ?? null, null, 'Auth.secret must be null');
}

/** The admin, created by the first test through the client; a fallback if that test failed. */
async function getAdmin() {
  if (!admin) admin = await h.createAdminRaw(gw, { address: h.nextAddress(B) });
  return admin;
}

async function newUser() {
  const a = await getAdmin();
  return h.inviteAndRegister(gw, a.jar, { address: h.nextAddress(B) });
}

test('TOTP generator matches the RFC 6238 SHA1 vector', () => {
  const key = Buffer.from('12345678901234567890');
  assert.equal(h.hotp(key, Math.floor(59 / 30), 8), '94287082');
  assert.equal(h.hotp(key, Math.floor(1111111109 / 30), 8), '07081804');
  assert.equal(h.hotp(key, Math.floor(59 / 30), 6), '287082');
  // base32 of the same key
  assert.equal(h.totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000), '287082');
});

test('auth.createAdmin over httpLink sets the session cookie; a second admin is refused', T, async () => {
  const email = h.uniqueEmail('Admin');
  const c = client({ link: 'http' });
  const ok = await c.trpc.auth.createAdmin.mutate({ email, password: h.PASSWORD });
  assert.equal(ok, true);
  assert.ok(c.jar.has('auth_session'), `auth_session cookie set (got ${c.fetch.requests[0].setCookie})`);
  const line = c.fetch.requests[0].setCookie.find((l) => l.startsWith('auth_session='));
  assert.match(line, /HttpOnly/i);
  assert.match(line, /SameSite=Lax/i);
  assert.match(line, /Path=\//i);
  const me = await c.trpc.auth.get.query();
  assertAuthShape(me);
  assert.equal(me.email, email.toLowerCase(), 'email stored lowercase');
  assert.equal(me.rol, 'admin');
  assert.equal(me.is2FAEnabled, false);
  admin = { email: email.toLowerCase(), password: h.PASSWORD, jar: c.jar, authId: me.id };

  const other = client({ link: 'http' });
  await rejects(other.trpc.auth.createAdmin.mutate({ email: h.uniqueEmail('admin2'), password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Admin already exists' });
  assert.ok(!other.jar.has('auth_session'));
});

test('auth.login (httpBatchLink) → is2FAEnabled false and a session; auth.get', T, async () => {
  const a = await getAdmin();
  const c = client();
  const out = await c.trpc.auth.login.mutate({ email: a.email, password: a.password });
  assert.deepEqual(out, { is2FAEnabled: false, authId: a.authId });
  assert.ok(c.jar.has('auth_session'));
  const me = await c.trpc.auth.get.query();
  assertAuthShape(me);
  assert.equal(me.id, a.authId);
  assert.equal(await c.trpc.auth.verifyToken.mutate(), true);
});

test('httpBatchLink: several concurrent calls go in ONE request (queries, then mutations)', T, async () => {
  const a = await getAdmin();
  const inviter = client({ jar: a.jar.clone() });
  const inv = await inviter.trpc.admin.createUserInvitation.mutate({ email: h.uniqueEmail('batch') });

  const c = client({ jar: a.jar.clone() });
  const [me1, me2, one, byToken] = await Promise.all([
    c.trpc.auth.get.query(),
    c.trpc.auth.get.query(),
    c.trpc.auth.one.query({ id: a.authId }),
    c.trpc.admin.getUserByToken.query({ token: inv.token }),
  ]);
  assert.equal(c.fetch.requests.length, 1, `one HTTP request, got ${c.fetch.requests.map((r) => r.url).join(' | ')}`);
  const r = c.fetch.requests[0];
  assert.equal(r.method, 'GET');
  const u = new URL(r.url);
  assert.equal(u.searchParams.get('batch'), '1');
  assert.equal(decodeURIComponent(u.pathname), '/api/trpc/auth.get,auth.get,auth.one,admin.getUserByToken');
  assert.equal(r.status, 200);
  assert.equal(me1.id, a.authId);
  assert.deepEqual(me2, me1);
  assert.deepEqual(one, me1);
  assert.equal(byToken.authId, inv.authId);
  assert.equal(byToken.isExpired, false);

  c.fetch.reset();
  const [v1, v2] = await Promise.all([c.trpc.auth.verifyToken.mutate(), c.trpc.auth.verifyToken.mutate()]);
  assert.deepEqual([v1, v2], [true, true]);
  assert.equal(c.fetch.requests.length, 1, 'one POST for two mutations');
  assert.equal(c.fetch.requests[0].method, 'POST');

  // A batch mixing success and failure: each call gets its own result; HTTP 207.
  c.fetch.reset();
  const results = await Promise.allSettled([
    c.trpc.auth.get.query(),
    c.trpc.auth.one.query({ id: 'no-such-auth-id' }),
  ]);
  assert.equal(c.fetch.requests.length, 1);
  assert.equal(c.fetch.requests[0].status, 207, 'mixed batch status');
  assert.equal(results[0].status, 'fulfilled');
  assert.equal(results[0].value.id, a.authId);
  assert.equal(results[1].status, 'rejected');
  const err = results[1].reason;
  assert.ok(err instanceof TRPCClientError);
  assert.equal(err.data.code, 'NOT_FOUND');
  assert.equal(err.data.httpStatus, 404);
  assert.equal(err.data.path, 'auth.one');
  assert.equal(err.message, 'Auth not found');
});

test('httpBatchStreamLink: concurrent queries in one streamed (JSONL) request, errors per call', T, async () => {
  const a = await getAdmin();
  const c = client({ link: 'stream', jar: a.jar.clone() });
  const results = await Promise.allSettled([
    c.trpc.auth.get.query(),
    c.trpc.auth.one.query({ id: a.authId }),
    c.trpc.auth.one.query({ id: 'missing-id' }),
    c.trpc.admin.getUserByToken.query({ token: 'nope' }),
  ]);
  assert.equal(c.fetch.requests.length, 1, 'one HTTP request');
  const r = c.fetch.requests[0];
  assert.equal(r.headers['trpc-accept'], 'application/jsonl');
  assert.equal(r.status, 200);
  assert.equal(new URL(r.url).searchParams.get('batch'), '1');
  assert.equal(results[0].status, 'fulfilled', String(results[0].reason));
  assert.equal(results[0].value.id, a.authId);
  assert.equal(results[1].status, 'fulfilled', String(results[1].reason));
  assert.deepEqual(results[1].value, results[0].value);
  assert.equal(results[2].status, 'rejected');
  assert.ok(results[2].reason instanceof TRPCClientError);
  assert.equal(results[2].reason.data.code, 'NOT_FOUND');
  assert.equal(results[2].reason.data.httpStatus, 404);
  assert.equal(results[2].reason.message, 'Auth not found');
  assert.equal(results[3].status, 'rejected');
  assert.equal(results[3].reason.data.code, 'NOT_FOUND');
  assert.equal(results[3].reason.message, 'Invitation not found');

  // A batch of one over the stream link, and a mutation.
  c.fetch.reset();
  const me = await c.trpc.auth.get.query();
  assert.equal(me.id, a.authId);
  assert.equal(await c.trpc.auth.verifyToken.mutate(), true);
});

test('httpLink with methodOverride POST sends queries as POST', T, async () => {
  const a = await getAdmin();
  const c = client({ link: 'http', jar: a.jar.clone(), linkOpts: { methodOverride: 'POST' } });
  const me = await c.trpc.auth.one.query({ id: a.authId });
  assert.equal(me.id, a.authId);
  assert.equal(c.fetch.requests[0].method, 'POST');
});

test('untyped v11 client: query(path) / mutation(path, input)', T, async () => {
  const a = await getAdmin();
  const jar = new h.CookieJar();
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const u = createTRPCUntypedClient({
    links: [httpBatchLink({ url: gw.trpcUrl, transformer: superjson, fetch, headers: () => jar.headers() })],
  });
  const out = await u.mutation('auth.login', { email: a.email, password: a.password });
  assert.equal(out.is2FAEnabled, false);
  const me = await u.query('auth.get');
  assert.equal(me.id, a.authId);
});

test('invitation → getUserByToken → createUser (cookie) → user login', T, async () => {
  const a = await getAdmin();
  const ad = client({ jar: a.jar.clone() });
  const email = h.uniqueEmail('invitee');
  const inv = await ad.trpc.admin.createUserInvitation.mutate({ email });
  assert.equal(typeof inv.authId, 'string');
  assert.match(inv.token, /^[0-9a-f]{64}$/, 'invitation token: 32 random bytes, hex');
  const exp = Date.parse(inv.expirationDate);
  assert.ok(Number.isFinite(exp), `expirationDate parses: ${inv.expirationDate}`);
  assert.ok(Math.abs(exp - (Date.now() + 24 * 3600_000)) < 10 * 60_000, 'valid about 24 h');
  await rejects(ad.trpc.admin.createUserInvitation.mutate({ email }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Email already exists' });

  const anon = client();
  const info = await anon.trpc.admin.getUserByToken.query({ token: inv.token });
  assert.equal(info.authId, inv.authId);
  assert.equal(info.email, email);
  assert.equal(info.isExpired, false);
  await rejects(anon.trpc.admin.getUserByToken.query({ token: 'f'.repeat(64) }),
    { code: 'NOT_FOUND', httpStatus: 404, message: 'Invitation not found' });

  // Wrong id for the token (fix) and unknown token are both "Invalid token".
  await rejects(anon.trpc.auth.createUser.mutate({ id: a.authId, token: inv.token, password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid token' });
  await rejects(anon.trpc.auth.createUser.mutate({ id: inv.authId, token: 'x'.repeat(64), password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid token' });

  const u = client();
  assert.equal(await u.trpc.auth.createUser.mutate({ id: inv.authId, token: inv.token, password: h.PASSWORD }), true);
  assert.ok(u.jar.has('auth_session'), 'createUser sets the session cookie');
  const me = await u.trpc.auth.get.query();
  assertAuthShape(me);
  assert.equal(me.id, inv.authId);
  assert.equal(me.rol, 'user');
  assert.equal(me.email, email);

  // The invitation is spent.
  await rejects(client().trpc.auth.createUser.mutate({ id: inv.authId, token: inv.token, password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid token' });

  const l = client();
  assert.deepEqual(await l.trpc.auth.login.mutate({ email, password: h.PASSWORD }), { is2FAEnabled: false, authId: inv.authId });
  assert.ok(l.jar.has('auth_session'));
  assert.equal((await l.trpc.auth.get.query()).id, inv.authId);
});

test('generateToken: Bearer and x-api-key work; the previous token is refused after a new one', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const first = await c.trpc.auth.generateToken.mutate();
  assertAuthShape(first);
  assert.equal(first.id, user.authId);
  assert.equal(typeof first.token, 'string');
  assert.ok(first.token.length > 20);

  const bearer = client({ headers: { authorization: `Bearer ${first.token}` } });
  assert.equal((await bearer.trpc.auth.get.query()).id, user.authId);
  const apiKey = client({ headers: { 'x-api-key': first.token } });
  assert.equal((await apiKey.trpc.auth.get.query()).id, user.authId);
  assert.equal((await apiKey.trpc.auth.get.query()).token, first.token, 'Auth.token is the current API token');

  const second = await c.trpc.auth.generateToken.mutate();
  assert.notEqual(second.token, first.token, 'a NEW token');
  await rejects(bearer.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  await rejects(apiKey.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  const fresh = client({ headers: { authorization: `Bearer ${second.token}` } });
  assert.equal((await fresh.trpc.auth.get.query()).id, user.authId);

  // logout with an API token only: false, and the token still works.
  assert.equal(await fresh.trpc.auth.logout.mutate(), false);
  assert.equal((await fresh.trpc.auth.get.query()).id, user.authId);
});

test('auth.update changes the email (rol ignored); login with the new email', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const newEmail = h.uniqueEmail('Renamed');
  const out = await c.trpc.auth.update.mutate({ email: newEmail, rol: 'admin' });
  assertAuthShape(out);
  assert.equal(out.email, newEmail.toLowerCase());
  assert.equal(out.rol, 'user', 'rol is ignored (no self-promotion)');
  assert.equal((await c.trpc.auth.get.query()).email, newEmail.toLowerCase());
  const l = client();
  assert.equal((await l.trpc.auth.login.mutate({ email: newEmail, password: user.password })).authId, user.authId);
  await rejects(client().trpc.auth.login.mutate({ email: user.email, password: user.password }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });
  // password change needs the current password
  await rejects(c.trpc.auth.update.mutate({ password: 'another password', currentPassword: 'wrong password' }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Current password is incorrect' });
});

test('2FA: setup, login challenge (no session), verifyLogin2FA, disable2FA', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const gen = await c.trpc.auth.generate2FASecret.query();
  assert.match(gen.secret, /^[A-Z2-7]{24}$/, 'fresh 24-char base32 secret');
  assert.match(gen.qrCodeUrl, /^data:image\/[^;]+;base64,/);
  const pins = new h.PinSource(gen.secret);

  await rejects(c.trpc.auth.verify2FASetup.mutate({ pin: pins.wrong(), secret: gen.secret }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid 2FA code' });
  const setupPin = await pins.next();
  const enabled = await c.trpc.auth.verify2FASetup.mutate({ pin: setupPin, secret: gen.secret });
  assertAuthShape(enabled);
  assert.equal(enabled.is2FAEnabled, true);
  assert.equal(enabled.secret, null, 'secret never returned');
  assert.equal((await c.trpc.auth.get.query()).is2FAEnabled, true);

  assert.equal(await c.trpc.auth.logout.mutate(), true);
  assert.ok(!c.jar.has('auth_session'), 'logout clears the cookie');

  const l = client();
  const out = await l.trpc.auth.login.mutate({ email: user.email, password: user.password });
  assert.deepEqual(out, { is2FAEnabled: true, authId: user.authId });
  assert.ok(!l.jar.has('auth_session'), 'no session before the pin');
  assert.ok(l.jar.names().length > 0, 'a challenge cookie is set');
  await rejects(l.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });

  // Without the challenge cookie: UNAUTHORIZED (fix).
  const stranger = client();
  await rejects(stranger.trpc.auth.verifyLogin2FA.mutate({ pin: pins.wrong(), id: user.authId }),
    { code: 'UNAUTHORIZED', httpStatus: 401 });

  await rejects(l.trpc.auth.verifyLogin2FA.mutate({ pin: pins.wrong(), id: user.authId }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid 2FA code' });
  // The setup pin was accepted once: not again (replay fix).
  await rejects(l.trpc.auth.verifyLogin2FA.mutate({ pin: setupPin, id: user.authId }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid 2FA code' });
  assert.equal(await l.trpc.auth.verifyLogin2FA.mutate({ pin: await pins.next(), id: user.authId }), true);
  assert.ok(l.jar.has('auth_session'), 'session cookie after the pin');
  const me = await l.trpc.auth.get.query();
  assert.equal(me.id, user.authId);
  assert.equal(me.is2FAEnabled, true);

  const off = await l.trpc.auth.disable2FA.mutate();
  assertAuthShape(off);
  assert.equal(off.is2FAEnabled, false);
  const again = client();
  assert.deepEqual(await again.trpc.auth.login.mutate({ email: user.email, password: user.password }),
    { is2FAEnabled: false, authId: user.authId });
  assert.ok(again.jar.has('auth_session'));
});

test('verifyLogin2FA: after 5 wrong pins the challenge is spent (429 even for a right pin)', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const gen = await c.trpc.auth.generate2FASecret.query();
  const pins = new h.PinSource(gen.secret);
  await c.trpc.auth.verify2FASetup.mutate({ pin: await pins.next(), secret: gen.secret });
  const l = client();
  assert.equal((await l.trpc.auth.login.mutate({ email: user.email, password: user.password })).is2FAEnabled, true);
  for (let i = 0; i < 5; i += 1) {
    await rejects(l.trpc.auth.verifyLogin2FA.mutate({ pin: pins.wrong(), id: user.authId }),
      { code: 'BAD_REQUEST', httpStatus: 400, message: 'Invalid 2FA code' });
  }
  await rejects(l.trpc.auth.verifyLogin2FA.mutate({ pin: await pins.next(), id: user.authId }),
    { code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
  assert.ok(!l.jar.has('auth_session'));
});

test('logout revokes the session: auth.get refused afterwards, even with the old cookie', T, async () => {
  const a = await getAdmin();
  const c = client();
  await c.trpc.auth.login.mutate({ email: a.email, password: a.password });
  const old = c.jar.get('auth_session');
  assert.ok(old);
  assert.equal(await c.trpc.auth.logout.mutate(), true);
  assert.ok(!c.jar.has('auth_session'), 'cookie cleared');
  await rejects(c.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  const replay = client();
  replay.jar.set('auth_session', old);
  await rejects(replay.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
});

test('errors: TRPCClientError carries data.code and data.httpStatus', T, async () => {
  const a = await getAdmin();
  const anon = client();
  await rejects(anon.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  await rejects(anon.trpc.auth.generateToken.mutate(), { code: 'UNAUTHORIZED', httpStatus: 401 });

  const wrong = await rejects(client().trpc.auth.login.mutate({ email: a.email, password: 'wrong password' }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });
  assert.equal(wrong.data.path, 'auth.login');
  assert.equal(wrong.shape?.code, -32600, 'JSON-RPC code');
  await rejects(client().trpc.auth.login.mutate({ email: h.uniqueEmail('nobody'), password: 'whatever123' }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });

  const bad = await rejects(client().trpc.auth.login.mutate({ email: 'not-an-email', password: h.PASSWORD }),
    { code: 'BAD_REQUEST', httpStatus: 400 });
  assert.ok(bad.data.zodError, `data.zodError present: ${JSON.stringify(bad.data)}`);
  assert.deepEqual(bad.data.zodError.formErrors, []);
  assert.ok(Array.isArray(bad.data.zodError.fieldErrors.email) && bad.data.zodError.fieldErrors.email.length > 0,
    `zodError.fieldErrors.email: ${JSON.stringify(bad.data.zodError)}`);
  assert.ok(Array.isArray(bad.data.issues) && bad.data.issues.some((i) => JSON.stringify(i.path) === '["email"]'),
    `data.issues names ["email"]: ${JSON.stringify(bad.data.issues)}`);
  const short = await rejects(client().trpc.auth.createAdmin.mutate({ email: h.uniqueEmail('x'), password: 'short' }),
    { code: 'BAD_REQUEST', httpStatus: 400 });
  assert.ok(short.data.zodError.fieldErrors.password?.length > 0, JSON.stringify(short.data.zodError));
  // Every problem at once, as zod names them: both missing fields, or both wrong types.
  for (const input of [{}, { email: 5, password: true }]) {
    const all = await rejects(client().trpc.auth.login.mutate(input), { code: 'BAD_REQUEST', httpStatus: 400 });
    assert.deepEqual(Object.keys(all.data.zodError.fieldErrors).sort(), ['email', 'password'],
      `${JSON.stringify(input)}: ${JSON.stringify(all.data.zodError)}`);
  }

  const user = await newUser();
  const u = client({ jar: user.jar });
  await rejects(u.trpc.auth.one.query({ id: a.authId }), { code: 'FORBIDDEN', httpStatus: 403 });
  await rejects(u.trpc.auth.updateByAdmin.mutate({ id: a.authId, email: h.uniqueEmail('evil') }),
    { code: 'FORBIDDEN', httpStatus: 403 });
  await rejects(u.trpc.admin.createUserInvitation.mutate({ email: h.uniqueEmail('x') }),
    { code: 'FORBIDDEN', httpStatus: 403 });
  const ad = client({ jar: a.jar.clone() });
  await rejects(ad.trpc.auth.one.query({ id: 'does-not-exist' }),
    { code: 'NOT_FOUND', httpStatus: 404, message: 'Auth not found' });

  // Unknown procedure.
  await rejects(anon.trpc.auth.nope.query(), { code: 'NOT_FOUND', httpStatus: 404 });
});

test('TOO_MANY_REQUESTS 429 after 5 wrong logins from one source address; other addresses unaffected', T, async () => {
  const user = await newUser();
  const address = h.nextAddress(B);
  const c = client({ address, link: 'http' });
  for (let i = 0; i < 5; i += 1) {
    // distinct unknown accounts: only the address counter reaches 5
    await rejects(c.trpc.auth.login.mutate({ email: h.uniqueEmail('ghost'), password: 'wrong password' }),
      { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });
  }
  await rejects(c.trpc.auth.login.mutate({ email: user.email, password: user.password }),
    { code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
  const last = c.fetch.requests.at(-1);
  assert.equal(last.status, 429);
  assert.ok(last.responseHeaders.get('retry-after'), 'Retry-After header');
  assert.ok(!c.jar.has('auth_session'));

  const other = client();
  assert.equal((await other.trpc.auth.login.mutate({ email: user.email, password: user.password })).authId, user.authId);
});

test('a batch of 20 wrong logins from one address (httpBatchLink): exactly 5 failures, 15 TOO_MANY_REQUESTS', T, async () => {
  const c = client({ address: h.nextAddress(B) });
  const before = c.fetch.requests.length;
  const results = await Promise.allSettled(Array.from({ length: 20 }, () =>
    c.trpc.auth.login.mutate({ email: h.uniqueEmail('ghost'), password: 'wrong password' })));
  assert.equal(c.fetch.requests.length - before, 1, 'one batched request');
  const codes = results.map((r) => {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof TRPCClientError);
    return r.reason.data.code;
  });
  assert.equal(codes.filter((x) => x === 'BAD_REQUEST').length, 5, codes.join(' '));
  assert.equal(codes.filter((x) => x === 'TOO_MANY_REQUESTS').length, 15, codes.join(' '));
});

test('superjson meta from the real client: undefined fields are absent (auth.update keeps the email)', T, async () => {
  const user = await newUser();
  const c = client({ jar: user.jar });
  const out = await c.trpc.auth.update.mutate({ email: undefined, password: undefined, image: '/avatars/avatar-3.png' });
  assert.equal(out.email, user.email, 'email unchanged');
  assert.equal(out.image, '/avatars/avatar-3.png');
  const me = await c.trpc.auth.get.query();
  assert.equal(me.image, '/avatars/avatar-3.png');
});

test('a password change revokes the other sessions and the API token, not the current session', T, async () => {
  const user = await newUser();
  const a = client({ jar: user.jar });
  const token = (await a.trpc.auth.generateToken.mutate()).token;
  const b = client();
  await b.trpc.auth.login.mutate({ email: user.email, password: user.password });
  assert.equal((await b.trpc.auth.get.query()).id, user.authId);
  const newPassword = 'brand new password';
  await a.trpc.auth.update.mutate({ password: newPassword, currentPassword: user.password });
  assert.equal((await a.trpc.auth.get.query()).id, user.authId, 'the current session survives');
  await rejects(b.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  await rejects(client({ headers: { authorization: `Bearer ${token}` } }).trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  await rejects(client().trpc.auth.login.mutate({ email: user.email, password: user.password }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Credentials do not match' });
  assert.equal((await client().trpc.auth.login.mutate({ email: user.email, password: newPassword })).authId, user.authId);
});

test('auth.updateByAdmin: password reset revokes the user\'s sessions; rol ignored; unknown id NOT_FOUND', T, async () => {
  const a = await getAdmin();
  const user = await newUser();
  const u = client({ jar: user.jar });
  assert.equal((await u.trpc.auth.get.query()).id, user.authId);
  const ad = client({ jar: a.jar.clone() });
  const reset = 'reset by the admin';
  const out = await ad.trpc.auth.updateByAdmin.mutate({ id: user.authId, password: reset, rol: 'admin' });
  assert.equal(out.id, user.authId);
  assert.equal(out.rol, 'user', 'rol ignored');
  await rejects(u.trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
  assert.equal((await client().trpc.auth.login.mutate({ email: user.email, password: reset })).authId, user.authId);
  await rejects(ad.trpc.auth.updateByAdmin.mutate({ id: 'no-such-auth', email: h.uniqueEmail('x') }),
    { code: 'NOT_FOUND', httpStatus: 404, message: 'Auth not found' });
  await rejects(ad.trpc.auth.updateByAdmin.mutate({ id: user.authId, email: a.email }),
    { code: 'BAD_REQUEST', httpStatus: 400, message: 'Email already exists' });
});

test('httpBatchLink: a batch of 50 calls passes; 51 fail as a whole with BAD_REQUEST', T, async () => {
  const a = await getAdmin();
  const c = client({ jar: a.jar.clone() });
  const ok = await Promise.all(Array.from({ length: 50 }, () => c.trpc.auth.get.query()));
  assert.equal(c.fetch.requests.length, 1);
  assert.ok(ok.every((m) => m.id === a.authId));
  c.fetch.reset();
  const res = await Promise.allSettled(Array.from({ length: 51 }, () => c.trpc.auth.get.query()));
  assert.equal(c.fetch.requests.length, 1);
  assert.equal(c.fetch.requests[0].status, 400);
  for (const r of res) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof TRPCClientError);
    assert.equal(r.reason.data?.code, 'BAD_REQUEST');
    assert.equal(r.reason.data?.httpStatus, 400);
  }
});
