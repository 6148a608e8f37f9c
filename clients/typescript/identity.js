// For the app behind the gateway (--upstream): the caller's identity, from the header the
// gateway signs on every forwarded call. Checked offline with the gateway's public key
// (`auth-gateway public-key`); null for a missing, forged, altered or expired header.
// Node needs --experimental-wasm-modules for the biscuit library.
import { AuthorizerBuilder, Biscuit, PublicKey, Rule, SignatureAlgorithm } from '@biscuit-auth/biscuit-wasm';

export const IDENTITY_HEADER = 'x-gateway-identity';

// The gateway's tokens are about 300 characters and run a handful of facts: anything bigger
// is not one of them, and a token's Datalog gets no room to run long.
const MAX_TOKEN_CHARS = 2048;
const LIMITS = { max_facts: 32, max_iterations: 8, max_time_micro: 100_000 };

// Tokens that verified, until they expire: the gateway reuses a caller's token for half its
// minute, so most requests cost a lookup here. Bounded; the oldest go first.
const verified = new Map();
const MAX_REMEMBERED = 10_000;

const keys = new Map();
function publicKey(text) {
  let key = keys.get(text);
  if (!key) {
    const [algorithm, hex] = text.split('/');
    if (algorithm !== 'ed25519' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw new Error('an ed25519/<hex> public key');
    key = PublicKey.fromString(hex, SignatureAlgorithm.Ed25519);
    keys.set(text, key);
  }
  return key;
}

/**
 * @param {string | string[] | undefined | null} header the x-gateway-identity header
 * @param {string} gatewayPublicKey `ed25519/<hex>`, as `auth-gateway public-key` prints it
 * @returns {{ authId: string, role: 'admin' | 'user', sessionKind: 'session' | 'api_token' } | null}
 */
export function gatewayIdentity(header, gatewayPublicKey) {
  const key = publicKey(gatewayPublicKey);
  const token = Array.isArray(header) ? header[0] : header;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
  const remembered = verified.get(`${gatewayPublicKey} ${token}`);
  if (remembered && remembered.expiresAt > Date.now()) return { ...remembered.identity };
  try {
    const biscuit = Biscuit.fromBase64(token, key);
    // The gateway signs one block; a block appended by a holder is not its word.
    if (biscuit.countBlocks() !== 1) return null;
    const builder = new AuthorizerBuilder();
    builder.addCode(`time(${new Date().toISOString()}); allow if gateway_identity(true);`);
    const authorizer = builder.buildAuthenticated(biscuit);
    authorizer.authorizeWithLimits(LIMITS);
    const rule = Rule.fromString('identity($a, $r, $k, $e) <- auth_id($a), role($r), session_kind($k), expires($e)');
    const facts = authorizer.queryWithLimits(rule, LIMITS);
    if (facts.length !== 1) return null;
    const [authId, role, sessionKind, expires] = facts[0].terms();
    const identity = { authId, role, sessionKind };
    if (verified.size >= MAX_REMEMBERED) verified.delete(verified.keys().next().value);
    verified.set(`${gatewayPublicKey} ${token}`, { identity, expiresAt: Number(expires) * 1000 });
    return { ...identity };
  } catch {
    return null;
  }
}
