// End-to-end tests of the OpenAPI/REST surface with openapi-fetch, typed by the types
// that openapi-typescript generated from the checked-in schemas/openapi.json.
// Compiled by tsc (strict) into dist/, then run by node --test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import createClient from 'openapi-fetch';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { paths } from './generated/openapi.js';
import * as h from './harness.mjs';

const B = 20; // this file's loopback addresses are 127.20.0.N
const T = { timeout: 120_000 };

interface ApiIssue { message: string; path: (string | number)[]; code?: string }
interface ApiError { message: string; code: string; issues?: ApiIssue[] }

let gw: Awaited<ReturnType<typeof h.startGateway>>;
const adminEmail = h.uniqueEmail('oa-admin');
let adminId = '';

before(async () => {
  gw = await h.startGateway();
});

after(async () => {
  if (gw) {
    if (process.env.SHOW_GATEWAY_LOG) console.error(gw.log());
    await gw.stop();
  }
});

/** A typed client from its own loopback address, sending the jar's cookies. */
function api(jar: h.CookieJar = new h.CookieJar()) {
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar });
  const client = createClient<paths>({ baseUrl: gw.apiUrl, fetch: fetch as unknown as (r: Request) => Promise<Response> });
  client.use({
    onRequest({ request }) {
      const cookie = jar.header();
      if (cookie) request.headers.set('cookie', cookie);
      return request;
    },
  });
  return { client, jar, fetch };
}

test('OpenAPI: createAdmin sets the session cookie; login; auth.get with the cookie', T, async () => {
  const a = api();
  const created = await a.client.POST('/auth.createAdmin', { body: { email: adminEmail, password: h.PASSWORD } });
  assert.equal(created.response.status, 200, JSON.stringify(created.error));
  assert.equal(created.data, true);
  assert.ok(a.jar.has('auth_session'), 'auth_session cookie');

  const l = api();
  const login = await l.client.POST('/auth.login', { body: { email: adminEmail, password: h.PASSWORD } });
  assert.equal(login.response.status, 200, JSON.stringify(login.error));
  assert.equal(login.data?.is2FAEnabled, false);
  assert.equal(typeof login.data?.authId, 'string');
  adminId = login.data?.authId ?? '';
  assert.ok(l.jar.has('auth_session'), 'login sets the session cookie');

  const me = await l.client.GET('/auth.get');
  assert.equal(me.response.status, 200, JSON.stringify(me.error));
  assert.equal(me.data?.id, adminId);
  assert.equal(me.data?.email, adminEmail);
  assert.equal(me.data?.rol, 'admin');
});

test('OpenAPI: generateToken, then auth.get with Authorization: Bearer; auth.one with a query parameter', T, async () => {
  const l = api();
  const login = await l.client.POST('/auth.login', { body: { email: adminEmail, password: h.PASSWORD } });
  assert.equal(login.response.status, 200, JSON.stringify(login.error));
  // The document declares no request body for input-less mutations, so openapi-fetch sends
  // neither a body nor a Content-Type; say application/json explicitly here (the body-less
  // case has its own test below).
  const gen = await l.client.POST('/auth.generateToken', { headers: { 'Content-Type': 'application/json' } });
  assert.equal(gen.response.status, 200, JSON.stringify(gen.error));
  const token = gen.data?.token;
  assert.equal(typeof token, 'string');

  const b = api();
  const me = await b.client.GET('/auth.get', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.response.status, 200, JSON.stringify(me.error));
  assert.equal(me.data?.id, login.data?.authId);
  assert.equal(me.data?.token, token);

  const one = await b.client.GET('/auth.one', {
    params: { query: { id: login.data?.authId ?? '' } },
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(one.response.status, 200, JSON.stringify(one.error));
  assert.equal(one.data?.id, login.data?.authId);
  assert.ok(!('password' in (one.data ?? {})));

  const missing = await b.client.GET('/auth.one', {
    params: { query: { id: 'no-such-id' } },
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(missing.response.status, 404);
  assert.deepEqual(pick(missing.error), { message: 'Auth not found', code: 'NOT_FOUND' });

  const anon = await api().client.GET('/auth.get');
  assert.equal(anon.response.status, 401);
  assert.equal((anon.error as unknown as ApiError).code, 'UNAUTHORIZED');
});

test('OpenAPI: an input-less mutation called as the generated client sends it (POST, no body, no Content-Type)', T, async () => {
  const l = api();
  const login = await l.client.POST('/auth.login', { body: { email: adminEmail, password: h.PASSWORD } });
  assert.equal(login.response.status, 200, JSON.stringify(login.error));
  const v = await l.client.POST('/auth.verifyToken');
  const sent = l.fetch.requests.at(-1);
  assert.equal(sent?.headers['content-type'], undefined, 'openapi-fetch sends no Content-Type without a body');
  assert.equal(v.response.status, 200, `POST /api/auth.verifyToken without body: ${JSON.stringify(v.error)}`);
  assert.equal(v.data, true);
  const gen = await l.client.POST('/auth.generateToken');
  assert.equal(gen.response.status, 200, JSON.stringify(gen.error));
  assert.equal(typeof gen.data?.token, 'string');
});

test('OpenAPI errors: wrong password → 400 {message, code}; validation → 400 with issues', T, async () => {
  const wrong = await api().client.POST('/auth.login', { body: { email: adminEmail, password: 'wrong password' } });
  assert.equal(wrong.response.status, 400);
  assert.equal(wrong.data, undefined);
  assert.deepEqual(wrong.error, { message: 'Credentials do not match', code: 'BAD_REQUEST' });

  const invalid = await api().client.POST('/auth.login', { body: { email: 'not-an-email', password: h.PASSWORD } });
  assert.equal(invalid.response.status, 400);
  const err = invalid.error as unknown as ApiError;
  assert.equal(err.code, 'BAD_REQUEST');
  assert.equal(err.message, 'Input validation failed');
  assert.ok(Array.isArray(err.issues), JSON.stringify(err));
  const emailIssue = err.issues?.find((i) => JSON.stringify(i.path) === '["email"]');
  assert.ok(emailIssue, `an issue at ["email"]: ${JSON.stringify(err.issues)}`);
  assert.equal(typeof emailIssue?.message, 'string');

  // Every problem in one answer: both fields fail their rules.
  const both = await api().client.POST('/auth.login', { body: { email: 'not-an-email', password: 'short' } });
  const bothErr = both.error as unknown as ApiError;
  assert.deepEqual(bothErr.issues?.map((i) => i.path.join('.')), ['email', 'password'], JSON.stringify(bothErr));

  // A query parameter that fails validation.
  const l = api();
  await l.client.POST('/auth.login', { body: { email: adminEmail, password: h.PASSWORD } });
  const emptyId = await l.client.GET('/auth.one', { params: { query: { id: '' } } });
  assert.equal(emptyId.response.status, 400);
  const e2 = emptyId.error as unknown as ApiError;
  assert.equal(e2.message, 'Input validation failed');
  assert.ok(e2.issues?.some((i) => JSON.stringify(i.path) === '["id"]'), JSON.stringify(e2));
});

test('the live /api/openapi.json is a valid OpenAPI document equal to schemas/openapi.json', T, async () => {
  const res = await h.makeFetch({ address: h.nextAddress(B) })(`${gw.apiUrl}/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const live = (await res.json()) as Record<string, unknown>;
  const checkedIn = JSON.parse(readFileSync(join(h.repoRoot(), 'schemas', 'openapi.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(live, checkedIn, 'schemas/openapi.json is out of date: regenerate it with `auth-gateway openapi`');
  const api = (await SwaggerParser.validate(structuredClone(live) as never)) as unknown as { openapi?: string; paths?: object };
  assert.match(String(api.openapi), /^3\./);
  for (const p of ['/auth.login', '/auth.get', '/auth.one', '/auth.createAdmin', '/auth.generateToken']) {
    assert.ok(p in (api.paths ?? {}), `document has ${p}`);
  }
});

function pick(e: unknown): { message: unknown; code: unknown } {
  const x = e as ApiError;
  return { message: x?.message, code: x?.code };
}
