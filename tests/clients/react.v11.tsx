// @trpc/react-query v11 (with @tanstack/react-query v5) over the generated AppRouter, as
// the README shows it: type-checked, not rendered.
import { httpBatchLink } from '@trpc/client';
import { createTRPCReact } from '@trpc/react-query';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';
import { accountPage, providers } from './react.account.js';

export const trpc = createTRPCReact<AppRouter>();
export const Providers = providers(trpc, () =>
  trpc.createClient({ links: [httpBatchLink({ url: '/api/trpc', transformer: superjson })] }),
);
export const Account = accountPage(trpc);
