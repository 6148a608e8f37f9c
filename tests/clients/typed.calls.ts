// What the typed client tests check, for either tRPC client version: compiled once per
// version against the generated AppRouter (tsc, strict), so that each call must type-check
// with that version's client and each misuse marked @ts-expect-error must stay an error.
// Each version's test file supplies its client and runs these flows against a gateway.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRPCClientError, type createTRPCProxyClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@auth-gateway/trpc';
import * as h from './harness.mjs';

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

/** A client of the generated router, v10 or v11 (v11 exports v10's name as an alias). */
export type Client = ReturnType<typeof createTRPCProxyClient<AppRouter>>;

/** What a link needs, whichever version makes it. */
export type LinkOptions = {
  url: string;
  fetch: typeof globalThis.fetch;
  headers: () => { cookie?: string };
};

/** A version's client over httpBatchLink or its streaming link. */
export type MakeClient = (link: 'batch' | 'stream', options: LinkOptions) => Client;

/** Whether a call succeeded, read at once (a refusal is an answer here, not a failure). */
const outcome = (call: Promise<unknown>) => call.then(() => 'fulfilled', () => 'rejected');

/** Compiles only if every procedure takes its inputs and gives its outputs as declared. */
async function everyProcedure(trpc: Client, invitee: Client, email: string, password: string) {
  const created: boolean = await trpc.auth.createAdmin.mutate({ email, password });
  const login = await trpc.auth.login.mutate({ email, password });
  const authId: string = login.authId;
  const twoFactor: boolean = login.is2FAEnabled;
  const me = await trpc.auth.get.query();
  const role: 'admin' | 'user' = me.rol;
  const token: string | null = me.token;
  const secret: null = me.secret;
  const image: string | null = me.image;
  const one = await trpc.auth.one.query({ id: me.id });
  const changed = await trpc.auth.update.mutate({ image: '/typed.png' });
  const byAdmin = outcome(trpc.auth.updateByAdmin.mutate({ id: 'missing', email: null }));
  const apiToken = await trpc.auth.generateToken.mutate();
  const qr = await trpc.auth.generate2FASecret.query();
  const setup = outcome(trpc.auth.verify2FASetup.mutate({ secret: qr.secret, pin: '000000' }));
  const pin = outcome(trpc.auth.verifyLogin2FA.mutate({ id: authId, pin: '000000' }));
  // 2FA did not turn on (the pin above is wrong): no backup codes for this account.
  const codes = outcome(trpc.auth.generateBackupCodes.mutate({ password }).then((r) => r.codes satisfies string[]));
  const off = await trpc.auth.disable2FA.mutate();
  const valid: boolean = await trpc.auth.verifyToken.mutate();
  const invitation = await trpc.admin.createUserInvitation.mutate({ email: `typed-${Date.now()}@example.com` });
  const view = await trpc.admin.getUserByToken.query({ token: invitation.token });
  const registered = outcome(invitee.auth.createUser.mutate({ id: invitation.authId, token: invitation.token, password }));
  const listed = await trpc.auth.listSessions.query();
  const mine = listed.sessions.find((s) => s.current);
  const kind: 'session' | 'apiToken' | undefined = mine?.kind;
  const seen: Array<string | null> = listed.sessions.map((s) => s.userAgent ?? s.clientAddress);
  const noSuchSession = outcome(trpc.auth.revokeSession.mutate({ sessionId: '0123456789abcdef0123456789abcdef' }));
  const others: number = (await trpc.auth.revokeOtherSessions.mutate()).revoked;
  await registered;
  const theirs = await trpc.admin.listSessions.query({ authId: invitation.authId });
  const theirId: string | undefined = theirs.sessions[0]?.id;
  const endedOne = outcome(trpc.admin.revokeSession.mutate({ authId: invitation.authId, sessionId: 'missing' }));
  const endedAll: number = (await trpc.admin.revokeAllSessions.mutate({ authId: invitation.authId })).revoked;
  const out: boolean = await trpc.auth.logout.mutate();
  return {
    created, twoFactor, role, token, secret, image, one: one.email, changed: changed.image, apiToken: apiToken.token,
    qr: qr.qrCodeUrl, off: off.is2FAEnabled, valid, expired: view.isExpired, out,
    outcomes: await Promise.all([byAdmin, setup, pin, codes, registered]),
    sessions: { kind, seen: seen.length, others, theirId, endedAll, refused: await Promise.all([noSuchSession, endedOne]) },
  };
}

/** Never called: each line must be a type error. */
async function misuses(trpc: Client) {
  // @ts-expect-error a misspelled procedure
  await trpc.auth.logn.mutate({ email: 'a@example.com', password: 'password-1' });
  // @ts-expect-error auth.login without its password
  await trpc.auth.login.mutate({ email: 'a@example.com' });
  // @ts-expect-error a wrong field type
  await trpc.auth.login.mutate({ email: 'a@example.com', password: 12345678 });
  // @ts-expect-error auth.get is a query, not a mutation
  await trpc.auth.get.mutate();
  // @ts-expect-error auth.login is a mutation, not a query
  await trpc.auth.login.query({ email: 'a@example.com', password: 'password-1' });
  const me = await trpc.auth.get.query();
  // @ts-expect-error an output field that does not exist
  me.password;
  // @ts-expect-error the role is 'admin' | 'user'
  const owner: 'owner' = me.rol;
  // @ts-expect-error input to a procedure that takes none
  await trpc.auth.get.query({ id: 'x' });
  // @ts-expect-error an input field the procedure does not have
  await trpc.auth.one.query({ id: 'x', extra: true });
  // @ts-expect-error a pin is a string
  await trpc.auth.generateBackupCodes.mutate({ pin: 123456 });
  // @ts-expect-error a session is named by its sessionId
  await trpc.auth.revokeSession.mutate({ id: 'x' });
  // @ts-expect-error the kinds are 'session' | 'apiToken'
  const browser: 'browser' = (await trpc.auth.listSessions.query()).sessions[0]!.kind;
  // @ts-expect-error a listing holds no token
  (await trpc.auth.listSessions.query()).sessions[0]!.token;
  void browser;
  return owner;
}

// The inferred types are the generated ones.
const loginInput: Inputs['auth']['login'] = { email: 'a@example.com', password: 'password-1' };
const authOutput: Outputs['auth']['get']['rol'] = 'admin';
void [misuses, loginInput, authOutput];

const T = { timeout: 120_000 };

/**
 * The flows against a gateway of their own, through httpBatchLink and the streaming link;
 * `b`: the test file's loopback addresses are 127.b.0.N.
 */
export function typedFlows(version: string, b: number, make: MakeClient) {
  let gw: Awaited<ReturnType<typeof h.startGateway>>;
  before(async () => {
    gw = await h.startGateway();
  });
  after(async () => {
    if (gw) await gw.stop();
  });
  /** A client from its own address, with its own cookie jar (or the one given). */
  const makeClient = (link: 'batch' | 'stream', jar = new h.CookieJar()) => {
    const fetch = h.makeFetch({ address: h.nextAddress(b), jar }) as unknown as typeof globalThis.fetch;
    return make(link, { url: gw.trpcUrl, fetch, headers: () => jar.headers() });
  };
  const adminEmail = h.uniqueEmail(`typed${version}`);
  const adminJar = new h.CookieJar();

  test(`${version}: every procedure through httpBatchLink, typed`, T, async () => {
    const seen = await everyProcedure(makeClient('batch', adminJar), makeClient('batch'), adminEmail, h.PASSWORD);
    assert.equal(seen.created, true);
    assert.equal(seen.role, 'admin');
    assert.equal(seen.secret, null);
    assert.equal(seen.changed, '/typed.png');
    assert.ok(seen.apiToken && seen.qr.startsWith('data:image/svg+xml;base64,'));
    assert.equal(seen.valid, true);
    assert.equal(seen.expired, false);
    assert.equal(seen.out, true);
    // updateByAdmin on a missing id, a wrong setup pin, a pin without a 2FA challenge: refused.
    assert.deepEqual(seen.outcomes, ['rejected', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    // The admin's sessions (this one current) and the invitee's; unknown sessions refused.
    assert.equal(seen.sessions.kind, 'session');
    assert.ok(seen.sessions.seen >= 2 && seen.sessions.others >= 1, JSON.stringify(seen.sessions));
    assert.match(seen.sessions.theirId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(seen.sessions.endedAll, 1);
    assert.deepEqual(seen.sessions.refused, ['rejected', 'rejected']);
  });

  test(`${version}: errors are TRPCClientError<AppRouter> with data.code and data.zodError typed`, T, async () => {
    try {
      await makeClient('stream').auth.login.mutate({ email: 'not-an-email', password: 'short' });
      assert.fail('an invalid input must be refused');
    } catch (cause) {
      assert.ok(cause instanceof TRPCClientError);
      const e = cause as TRPCClientError<AppRouter>;
      const code: string | undefined = e.data?.code;
      const status: number | undefined = e.data?.httpStatus;
      const fields: string[] | undefined = e.data?.zodError?.fieldErrors['email'];
      const paths: Array<string | number>[] | undefined = e.data?.issues?.map((issue) => issue.path);
      assert.equal(code, 'BAD_REQUEST');
      assert.equal(status, 400);
      assert.ok(fields && fields.length > 0, JSON.stringify(e.data));
      assert.ok(e.data?.zodError?.fieldErrors['password']?.length);
      assert.ok(paths?.some((path) => path[0] === 'email'), JSON.stringify(paths));
    }
  });

  test(`${version}: a session listed from another is ended there, and its cookie is refused`, T, async () => {
    const email = h.uniqueEmail(`typed${version}r`);
    const admin = makeClient('batch', adminJar);
    await admin.auth.login.mutate({ email: adminEmail, password: h.PASSWORD });
    const invitation = await admin.admin.createUserInvitation.mutate({ email });
    const laptopJar = new h.CookieJar();
    const laptop = makeClient('batch', laptopJar);
    await laptop.auth.createUser.mutate({ id: invitation.authId, token: invitation.token, password: h.PASSWORD });
    // Signed in through httpBatchLink (a streamed answer's headers are gone before a call's
    // cookie is set), then used through the streaming link.
    const phoneJar = new h.CookieJar();
    await makeClient('batch', phoneJar).auth.login.mutate({ email, password: h.PASSWORD });
    const phone = makeClient('stream', phoneJar);
    const phoneId = (await phone.auth.listSessions.query()).sessions.find((s) => s.current)?.id;
    assert.ok(phoneId);

    const { sessions } = await laptop.auth.listSessions.query();
    assert.equal(sessions.length, 2);
    const other = sessions.find((s) => !s.current);
    assert.equal(other?.id, phoneId);
    assert.equal(other?.kind, 'session');
    assert.ok(other?.clientAddress?.startsWith(`127.${b}.0.`), JSON.stringify(other));
    assert.equal(await laptop.auth.revokeSession.mutate({ sessionId: phoneId }), true);
    await assert.rejects(phone.auth.get.query(), (e: unknown) => {
      assert.ok(e instanceof TRPCClientError);
      assert.equal((e as TRPCClientError<AppRouter>).data?.code, 'UNAUTHORIZED');
      return true;
    });
    assert.equal((await laptop.auth.get.query()).email, email);
    // Ended once, the id names nothing: the same answer as an id never given out.
    await assert.rejects(laptop.auth.revokeSession.mutate({ sessionId: phoneId }), (e: unknown) => {
      assert.equal((e as TRPCClientError<AppRouter>).data?.code, 'NOT_FOUND');
      return true;
    });
  });

  test(`${version}: the streaming link answers the typed calls of one batch`, T, async () => {
    const admin = makeClient('batch', adminJar);
    await admin.auth.login.mutate({ email: adminEmail, password: h.PASSWORD });
    const email = h.uniqueEmail(`typed${version}s`);
    const invitation = await admin.admin.createUserInvitation.mutate({ email });
    const jar = new h.CookieJar();
    await makeClient('batch', jar).auth.createUser.mutate({
      id: invitation.authId,
      token: invitation.token,
      password: h.PASSWORD,
    });
    const user = makeClient('stream', jar);
    const [me, qr] = await Promise.all([user.auth.get.query(), user.auth.generate2FASecret.query()]);
    assert.equal(me.email, email);
    assert.equal(me.rol, 'user');
    assert.ok(qr.secret.length >= 24);
  });
}
