// The components both React tests type-check (tsc, strict; not rendered), once per
// @trpc/react-query version: the providers, and a query and a mutation of the generated
// AppRouter.
import { useState, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import type { createTRPCReact } from '@trpc/react-query';
import type { AppRouter } from '@auth-gateway/trpc';

export type TrpcReact = ReturnType<typeof createTRPCReact<AppRouter>>;

/** The providers of an app, with the tRPC client `createClient` makes (it differs by version). */
export function providers(trpc: TrpcReact, createClient: () => ReturnType<TrpcReact['createClient']>) {
  return function Providers({ children }: { children: ReactNode }) {
    const [queryClient] = useState(() => new QueryClient());
    const [trpcClient] = useState(createClient);
    return (
      <trpc.Provider client={trpcClient} queryClient={queryClient}>
        <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      </trpc.Provider>
    );
  };
}

export function accountPage(trpc: TrpcReact) {
  return function Account() {
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
        {email} {login.data?.is2FAEnabled ? '2FA' : ''} {fieldErrors?.['password']?.join(', ')} {String(missing)}
      </form>
    );
  };
}
