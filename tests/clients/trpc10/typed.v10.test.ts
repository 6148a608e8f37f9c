// The generated AppRouter (clients/typescript) with the real tRPC v10 client: the typed
// calls, misuses and flows of typed.calls.ts, compiled against v10 and run on a gateway.
import { createTRPCProxyClient, httpBatchLink, unstable_httpBatchStreamLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';
import { typedFlows } from '../typed.calls.js';

// v10: the transformer is the client's, not the link's.
typedFlows('v10', 31, (link, options) => {
  const links = [link === 'batch' ? httpBatchLink(options) : unstable_httpBatchStreamLink(options)];
  return createTRPCProxyClient<AppRouter>({ transformer: superjson, links });
});
