// The generated AppRouter (clients/typescript) with the real tRPC v10 client: the typed
// calls, misuses and flows of typed.calls.ts, compiled against v10 and run on a gateway.
import { after, before } from 'node:test';
import { createTRPCProxyClient, httpBatchLink, unstable_httpBatchStreamLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';
import * as h from '../harness.mjs';
import { typedFlows, type MakeClient } from '../typed.calls.js';

const B = 31; // this file's loopback addresses are 127.31.0.N
let gw: Awaited<ReturnType<typeof h.startGateway>>;

before(async () => {
  gw = await h.startGateway();
});

after(async () => {
  if (gw) await gw.stop();
});

// v10: the transformer is the client's, not the link's.
const makeClient: MakeClient = (link, jar = new h.CookieJar()) => {
  const fetch = h.makeFetch({ address: h.nextAddress(B), jar }) as unknown as typeof globalThis.fetch;
  const options = { url: gw.trpcUrl, fetch, headers: () => jar.headers() };
  const links = [link === 'batch' ? httpBatchLink(options) : unstable_httpBatchStreamLink(options)];
  return createTRPCProxyClient<AppRouter>({ transformer: superjson, links });
};

typedFlows('v10', makeClient);
