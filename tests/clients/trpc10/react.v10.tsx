// @trpc/react-query v10 (with @tanstack/react-query v4) over the generated AppRouter, as
// the README shows it: type-checked, not rendered. v10 takes the transformer on the client.
import { httpBatchLink } from '@trpc/client';
import { createTRPCReact } from '@trpc/react-query';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';
import { accountPage, providers } from '../react.account.js';

export const trpc = createTRPCReact<AppRouter>();
export const Providers = providers(trpc, () =>
  trpc.createClient({ transformer: superjson, links: [httpBatchLink({ url: '/api/trpc' })] }),
);
export const Account = accountPage(trpc);
