// The app behind the gateway in the forwarding tests: a small tRPC v11 server with
// superjson, as a Dokploy-style app would be. It trusts callers only through the gateway's
// signed identity header, checked with the helper the TypeScript package ships.
// Run: node --experimental-wasm-modules upstream.mjs <port> <gateway public key>
import { createServer } from 'node:http';
import { TRPCError, initTRPC } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { IDENTITY_HEADER, gatewayIdentity } from '../../clients/typescript/identity.js';

const [port, publicKey] = process.argv.slice(2);
let counted = 0;
let requests = 0; // HTTP requests received
const held = []; // project.held calls waiting for debug.release

// The ten lines a Dokploy-style createTRPCContext needs to trust the gateway.
const createContext = ({ req, res }) => (requests += 1, {
  req,
  res,
  identity: gatewayIdentity(req.headers[IDENTITY_HEADER], publicKey),
});

const t = initTRPC.context().create({ transformer: superjson });
const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.identity) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { ...ctx, identity: ctx.identity } });
});

const router = t.router({
  project: t.router({
    all: t.procedure.query(() => [{ id: 'p1', name: 'web' }]),
    byName: t.procedure.input((v) => v).query(({ input }) => ({ echoed: input })),
    mine: protectedProcedure.query(({ ctx }) => ctx.identity),
    dated: t.procedure.query(() => ({ at: new Date('2024-12-31T23:59:59.000Z'), tags: new Map([['env', 'prod']]) })),
    forbidden: t.procedure.query(() => {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Not your project' });
    }),
    slow: t.procedure.query(() => new Promise(() => {})),
    // Answers once a test releases it (debug.release): slow for as long as a test needs.
    held: t.procedure.query(() => new Promise((resolve) => held.push(resolve))),
  }),
  settings: t.router({
    remember: t.procedure.input((v) => v).mutation(({ ctx, input }) => {
      ctx.res.appendHeader('set-cookie', `app_theme=${input.theme}; Path=/; HttpOnly`);
      // What a hostile or confused app might try: the gateway keeps its own cookie.
      ctx.res.appendHeader('set-cookie', 'auth_session=from-the-app; Path=/');
      return true;
    }),
  }),
  debug: t.router({
    // A call the tests make sure never arrives (the gateway refuses it itself).
    count: t.procedure.mutation(() => {
      counted += 1;
      return counted;
    }),
    counted: t.procedure.query(() => counted),
    release: t.procedure.mutation(() => {
      const n = held.length;
      for (const resolve of held.splice(0)) resolve('released');
      return n;
    }),
    requests: t.procedure.query(() => requests),
    // An answer larger than the gateway reads (16 MiB).
    huge: t.procedure.query(() => 'x'.repeat(17 * 1024 * 1024)),
    // What reached the app: the headers the tests look for.
    headers: t.procedure.query(({ ctx }) => ({
      identity: ctx.req.headers[IDENTITY_HEADER] ?? null,
      cookie: ctx.req.headers.cookie ?? null,
      custom: ctx.req.headers['x-custom'] ?? null,
      authorization: ctx.req.headers.authorization ?? null,
      forwardedFor: ctx.req.headers['x-forwarded-for'] ?? null,
    })),
  }),
});

const handler = createHTTPHandler({ router, createContext, basePath: '/api/trpc/' });
createServer((req, res) => handler(req, res)).listen(Number(port), '127.0.0.1', () => {
  console.log(`upstream listening on ${port}`);
});
