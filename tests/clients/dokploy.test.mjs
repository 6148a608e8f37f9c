// Moving from Dokploy, end to end: Dokploy's own 2024 migrations (tests/fixtures/dokploy)
// build its schema in a fresh PostgreSQL database, filled as Dokploy fills it (hashes from
// bcryptjs at cost 10, lucia session ids); `auth-gateway import dokploy` brings it over;
// then the real tRPC v11 client (superjson) signs in with everything users already have.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRPCClientError, createTRPCClient, httpBatchLink } from '@trpc/client';
import bcrypt from 'bcryptjs';
import pg from 'pg';
import superjson from 'superjson';
import * as h from './harness.mjs';

const B = 13; // this file's loopback addresses are 127.13.0.N
const T = { timeout: 120_000 };
// Dokploy's database is PostgreSQL whatever the gateway's own store (TEST_BACKEND).
const SERVER = process.env.TEST_DATABASE_URL;
const SKIP = SERVER ? false : h.skip('dokploy.test.mjs', 'TEST_DATABASE_URL is not set: no PostgreSQL for the Dokploy database');

/** A lucia v3 id: 25 random bytes, lowercase base32 (40 characters). */
function luciaId() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(25);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

const nanoid = () => randomBytes(16).toString('base64url').slice(0, 21);
const ids = { admin: nanoid(), user: nanoid(), totp: nanoid(), long: nanoid(), invited: nanoid(), late: nanoid(), caseA: nanoid(), caseB: nanoid() };
const secret = 'KRUGS4ZANFZSAYJAONSWG4TF'; // 24 base32 characters, as Dokploy makes them
const passwords = { admin: 'dokploy admin pw', user: 'dokploy user pw', long: `${'ü'.repeat(36)} and the part bcrypt dropped` };
const session = { live: luciaId(), expired: luciaId(), token: luciaId() };
const invitation = { pending: randomBytes(32).toString('hex'), expired: randomBytes(32).toString('hex') };

let gw;
let source;

before(async () => {
  if (SKIP) return;
  gw = await h.startGateway();
  source = await h.createDatabase(SERVER);
  const db = new pg.Client({ connectionString: source.url });
  await db.connect();
  try {
    const dir = join(h.repoRoot(), 'tests', 'fixtures', 'dokploy', 'drizzle');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      await db.query(readFileSync(join(dir, file), 'utf8'));
    }
    // What Dokploy's services write: bcrypt at cost 10, the invitation placeholder password.
    const hash = (p) => bcrypt.hashSync(p, 10);
    const placeholder = hash('01231203012312');
    const auth = 'INSERT INTO auth (id, email, password, rol, image, "createdAt", secret, "is2FAEnabled", token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)';
    const now = new Date().toISOString();
    await db.query(auth, [ids.admin, 'admin@dokploy.test', hash(passwords.admin), 'admin', '/avatars/avatar-5.png', now, null, false, session.token]);
    await db.query('INSERT INTO admin ("adminId", "authId", "createdAt") VALUES ($1, $2, $3)', ['adm', ids.admin, now]);
    await db.query(auth, [ids.user, 'user@dokploy.test', hash(passwords.user), 'user', null, now, null, false, null]);
    await db.query(auth, [ids.totp, 'totp@dokploy.test', hash(passwords.user), 'user', null, now, secret, true, null]);
    await db.query(auth, [ids.long, 'long@dokploy.test', hash(passwords.long), 'user', null, now, null, false, null]);
    await db.query(auth, [ids.invited, 'invited@dokploy.test', placeholder, 'user', null, now, null, false, null]);
    await db.query(auth, [ids.late, 'late@dokploy.test', placeholder, 'user', null, now, null, false, null]);
    await db.query(auth, [ids.caseA, 'Twin@dokploy.test', hash(passwords.user), 'user', null, now, null, false, null]);
    await db.query(auth, [ids.caseB, 'twin@dokploy.test', hash(passwords.user), 'user', null, now, null, false, null]);
    const user = 'INSERT INTO "user" ("userId", token, "isRegistered", "expirationDate", "createdAt", "adminId", "authId") VALUES ($1, $2, $3, $4, $5, $6, $7)';
    const day = 24 * 3600 * 1000;
    const tomorrow = new Date(Date.now() + day).toISOString();
    for (const [key, registered, token, expires] of [
      ['user', true, randomBytes(32).toString('hex'), tomorrow],
      ['totp', true, randomBytes(32).toString('hex'), tomorrow],
      ['long', true, randomBytes(32).toString('hex'), tomorrow],
      ['invited', false, invitation.pending, tomorrow],
      ['late', false, invitation.expired, new Date(Date.now() - day).toISOString()],
    ]) {
      await db.query(user, [nanoid(), token, registered, expires, now, 'adm', ids[key]]);
    }
    const lucia = 'INSERT INTO session (id, user_id, expires_at) VALUES ($1, $2, $3)';
    await db.query(lucia, [session.live, ids.user, new Date(Date.now() + day)]);
    await db.query(lucia, [session.expired, ids.user, new Date(Date.now() - 3600 * 1000)]);
    await db.query(lucia, [session.token, ids.admin, new Date(Date.now() + 365 * day)]);
  } finally {
    await db.end();
  }
});

after(async () => {
  if (gw) await gw.stop();
  if (source) await h.dropDatabase(SERVER, source.name);
});

/** `auth-gateway import dokploy` on the running gateway's store and key. */
function importDokploy(...extra) {
  const args = ['import', 'dokploy', '--from', source.url, '--data-dir', gw.dataDir, '--database-url', gw.databaseUrl, '--bcrypt-cost', '4', ...extra];
  const run = spawnSync(h.gatewayBinary(), args, { env: h.gatewayEnv(), encoding: 'utf8' });
  for (const secretValue of [session.live, session.token, secret, invitation.pending, '$2a$']) {
    assert.ok(!run.stdout.includes(secretValue) && !run.stderr.includes(secretValue), 'nothing secret is printed');
  }
  return run;
}

function client({ jar = new h.CookieJar(), headers = {} } = {}) {
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const link = httpBatchLink({ url: gw.trpcUrl, transformer: superjson, fetch, headers: () => ({ ...jar.headers(), ...headers }) });
  return { trpc: createTRPCClient({ links: [link] }), jar, fetch };
}

const rejects = (promise, expected) => h.rejects(promise, expected, TRPCClientError);

test('the import refuses emails that collide once lowercased, writes nothing, then imports once', { ...T, skip: SKIP }, async () => {
  const refused = importDokploy();
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stdout, new RegExp(`accounts (${ids.caseA}, ${ids.caseB}|${ids.caseB}, ${ids.caseA}) have the same email`));
  const { trpc } = client();
  await rejects(trpc.auth.login.mutate({ email: 'admin@dokploy.test', password: passwords.admin }), { code: 'BAD_REQUEST', message: 'Credentials do not match' });

  const db = new pg.Client({ connectionString: source.url });
  await db.connect();
  await db.query('DELETE FROM auth WHERE id = $1', [ids.caseB]);
  await db.end();
  const dry = importDokploy('--dry-run');
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /Would import: 7 accounts/);
  await rejects(trpc.auth.login.mutate({ email: 'admin@dokploy.test', password: passwords.admin }), { code: 'BAD_REQUEST' });

  const done = importDokploy();
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, /Imported: 7 accounts, 1 admin, 5 invitations, 1 sessions, 1 API tokens/);
  assert.match(done.stdout, /1 expired sessions and tokens \(not imported\)/);
  const again = importDokploy();
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /Nothing to do: all 7 accounts are in the gateway already/);
});

test('old passwords sign in, the one over 72 bytes included', { ...T, skip: SKIP }, async () => {
  for (const [email, password, id] of [
    ['admin@dokploy.test', passwords.admin, ids.admin],
    ['USER@dokploy.test', passwords.user, ids.user],
    ['long@dokploy.test', passwords.long, ids.long],
    ['twin@dokploy.test', passwords.user, ids.caseA],
  ]) {
    const { trpc } = client();
    const out = await trpc.auth.login.mutate({ email, password });
    assert.deepEqual(out, { is2FAEnabled: false, authId: id });
    assert.equal((await trpc.auth.get.query()).id, id);
  }
});

test('the old TOTP secret gives the codes the authenticator already shows', { ...T, skip: SKIP }, async () => {
  const { trpc } = client();
  const step = await trpc.auth.login.mutate({ email: 'totp@dokploy.test', password: passwords.user });
  assert.deepEqual(step, { is2FAEnabled: true, authId: ids.totp });
  assert.equal(await trpc.auth.verifyLogin2FA.mutate({ pin: h.totp(secret), id: ids.totp }), true);
  const me = await trpc.auth.get.query();
  assert.equal(me.is2FAEnabled, true);
  assert.equal(me.secret ?? null, null);
});

test('the old session cookie works once and comes back as a fresh gateway cookie', { ...T, skip: SKIP }, async () => {
  const jar = new h.CookieJar();
  jar.set('auth_session', session.live);
  const { trpc, fetch } = client({ jar });
  assert.equal((await trpc.auth.get.query()).id, ids.user);
  const fresh = jar.get('auth_session');
  assert.ok(fresh && fresh !== session.live, 'the answer set a fresh session cookie');
  assert.ok(fetch.requests[0].setCookie.some((c) => c.startsWith('auth_session=') && /HttpOnly/i.test(c)));
  assert.equal((await trpc.auth.get.query()).id, ids.user, 'the fresh cookie works');

  const expired = new h.CookieJar();
  expired.set('auth_session', session.expired);
  await rejects(client({ jar: expired }).trpc.auth.get.query(), { code: 'UNAUTHORIZED', httpStatus: 401 });
});

test('the old API token works as a Bearer token', { ...T, skip: SKIP }, async () => {
  const { trpc } = client({ headers: { authorization: `Bearer ${session.token}` } });
  const me = await trpc.auth.get.query();
  assert.equal(me.id, ids.admin);
  assert.equal(me.token, session.token, 'auth.get shows the token the scripts already hold');
  assert.equal(me.image, '/avatars/avatar-5.png');
});

test('a pending invitation registers; an expired one says so', { ...T, skip: SKIP }, async () => {
  const { trpc } = client();
  await rejects(trpc.auth.login.mutate({ email: 'invited@dokploy.test', password: '01231203012312' }), { code: 'BAD_REQUEST' });
  const view = await trpc.admin.getUserByToken.query({ token: invitation.pending });
  assert.deepEqual([view.authId, view.email, view.isExpired], [ids.invited, 'invited@dokploy.test', false]);
  assert.equal((await trpc.admin.getUserByToken.query({ token: invitation.expired })).isExpired, true);
  assert.equal(await trpc.auth.createUser.mutate({ id: ids.invited, token: invitation.pending, password: 'a fresh password' }), true);
  assert.equal((await trpc.auth.get.query()).id, ids.invited);
});
