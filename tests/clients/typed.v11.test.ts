// The generated AppRouter (clients/typescript) with the real tRPC v11 client: the typed
// calls, misuses and flows of typed.calls.ts, compiled against v11 and run on a gateway.
import { after, before } from 'node:test';
import { createTRPCClient, httpBatchLink, httpBatchStreamLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';
import * as h from './harness.mjs';
import { typedFlows, type MakeClient } from './typed.calls.js';

const B = 30; // this file's loopback addresses are 127.30.0.N
let gw: Awaited<ReturnType<typeof h.startGateway>>;

before(async () => {
  gw = await h.startGateway();
});

after(async () => {
  if (gw) await gw.stop();
});

const makeClient: MakeClient = (link, jar = new h.CookieJar()) => {
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar }) as unknown as typeof globalThis.fetch;
  const options = { url: gw.trpcUrl, transformer: superjson, fetch, headers: () => jar.headers() };
  const links = [link === 'batch' ? httpBatchLink(options) : httpBatchStreamLink(options)];
  return createTRPCClient<AppRouter>({ links });
};

typedFlows('v11', makeClient);
