// The generated AppRouter (clients/typescript) with the real tRPC v11 client: the typed
// calls, misuses and flows of typed.calls.ts, compiled against v11 and run on a gateway.
import { createTRPCClient, httpBatchLink, httpBatchStreamLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';
import { typedFlows } from './typed.calls.js';

typedFlows('v11', 30, (link, options) => {
  const withTransformer = { ...options, transformer: superjson };
  const links = [link === 'batch' ? httpBatchLink(withTransformer) : httpBatchStreamLink(withTransformer)];
  return createTRPCClient<AppRouter>({ links });
});
