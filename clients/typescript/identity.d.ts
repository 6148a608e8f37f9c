/** The header the gateway signs the caller's identity into on every forwarded call. */
export declare const IDENTITY_HEADER: 'x-gateway-identity';

/** Who is calling, as the gateway vouches for it. */
export interface GatewayIdentity {
  authId: string;
  role: 'admin' | 'user';
  sessionKind: 'session' | 'api_token';
}

/**
 * The caller's identity from the gateway's header, checked offline with its public key
 * (`auth-gateway public-key`, `ed25519/<hex>`); null when missing, forged, altered or expired.
 */
export declare function gatewayIdentity(
  header: string | string[] | undefined | null,
  gatewayPublicKey: string,
): GatewayIdentity | null;
