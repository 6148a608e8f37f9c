// A React component with @trpc/react-query v11 over the generated AppRouter, as the
// README shows it: type-checked (tsc --noEmit, strict), not rendered.
import { useState, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { httpBatchLink } from '@trpc/client';
import { createTRPCReact } from '@trpc/react-query';
import superjson from 'superjson';
import type { AppRouter } from '@auth-gateway/trpc';

export const trpc = createTRPCReact<AppRouter>();

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(() => new QueryClient());
  const [trpcClient] = useState(() =>
    trpc.createClient({ links: [httpBatchLink({ url: '/api/trpc', transformer: superjson })] }),
  );
  return (
    <trpc.Provider client={trpcClient} queryClient={queryClient}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </trpc.Provider>
  );
}

export function Account() {
  const me = trpc.auth.get.useQuery();
  const login = trpc.auth.login.useMutation();
  const email: string | undefined = me.data?.email;
  const fieldErrors = login.error?.data?.zodError?.fieldErrors;
  // @ts-expect-error auth.get is a query: it has no useMutation
  trpc.auth.get.useMutation();
  // @ts-expect-error auth.login needs its password
  const missing = () => login.mutate({ email: 'a@example.com' });
  return (
    <form onSubmit={() => login.mutate({ email: 'a@example.com', password: 'password-1' })}>
      {email} {login.data?.is2FAEnabled ? '2FA' : ''} {login.isPending ? '…' : ''}
      {fieldErrors?.['password']?.join(', ')} {String(missing)}
    </form>
  );
}
