// Re-exports tRPC client v10 so it can live beside v11 (installed at the workspace root).
export * from '@trpc/client';
