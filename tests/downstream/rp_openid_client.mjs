// openid-client, the certified relying party for Node, runs the authorization code flow
// against Gatehouse: discovery, the authorization URL with PKCE S256, a nonce and a state,
// the code exchange with the ID token's signature checked against the JWKS (non-repudiation
// checks on) along with its iss, aud, exp and nonce, userinfo, a refresh, and the reuse of
// the spent refresh token.
//
// Usage: node rp_openid_client.mjs ISSUER CLIENT_ID REDIRECT_URI [ID_TOKEN_ALG]
//
// ID_TOKEN_ALG (RS256 by default) is the client's id_token_signed_response_alg, as its
// registration says: the library refuses an ID token signed otherwise.
//
// The test plays the browser. Twice, this script prints {"authorize": URL} on a line and
// reads back the callback URL the browser was sent to. The first code is redeemed expecting
// another nonce, which the library must refuse; the second runs the flow. The last line is
// {"ok": true, ...what was seen} or {"ok": false, "error": ...}.
import * as client from 'openid-client';
import { createHash } from 'node:crypto';
import * as readline from 'node:readline';

const [issuer, clientId, redirectUri, idTokenAlg = 'RS256'] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
// openid-client wraps oauth4webapi's error, whose message names the claim.
const describe = (e) =>
  `${e.code ?? e.name}: ${e.error ?? ''} ${e.message}${e.cause?.message ? ` (${e.cause.message})` : ''}`;

async function authorize(config) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  say({ authorize: url.href });
  const { value: callback, done } = await lines.next();
  if (done) throw new Error('no callback URL on stdin');
  return { callback: new URL(callback), verifier, nonce, state };
}

try {
  // Plain HTTP on loopback: the library refuses it unless told.
  const metadata = { id_token_signed_response_alg: idTokenAlg };
  const config = await client.discovery(new URL(issuer), clientId, metadata, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(config);

  const first = await authorize(config);
  let wrongNonce = null;
  try {
    await client.authorizationCodeGrant(config, first.callback, {
      pkceCodeVerifier: first.verifier,
      expectedNonce: 'another-nonce',
      expectedState: first.state,
      idTokenExpected: true,
    });
  } catch (e) {
    wrongNonce = describe(e);
  }
  if (wrongNonce === null) throw new Error('an ID token with another nonce was accepted');

  const flow = await authorize(config);
  const tokens = await client.authorizationCodeGrant(config, flow.callback, {
    pkceCodeVerifier: flow.verifier,
    expectedNonce: flow.nonce,
    expectedState: flow.state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  // OIDC Core 3.1.3.6: the left half of the hash of the ID token's alg over the access
  // token, base64url: SHA-256 for RS256 and ES256, SHA-512 for Ed25519.
  const hash = idTokenAlg === 'EdDSA' ? 'sha512' : 'sha256';
  const digest = createHash(hash).update(tokens.access_token).digest();
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString());
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  let reuse = null;
  try {
    await client.refreshTokenGrant(config, tokens.refresh_token);
  } catch (e) {
    reuse = e.error ?? describe(e);
  }
  say({
    ok: true,
    wrong_nonce: wrongNonce,
    iss: claims.iss,
    aud: claims.aud,
    sub: claims.sub,
    nonce_matches: claims.nonce === flow.nonce,
    preferred_username: claims.preferred_username,
    at_hash: claims.at_hash,
    computed_at_hash: digest.subarray(0, digest.length / 2).toString('base64url'),
    id_token_alg: header.alg,
    userinfo_sub: userinfo.sub,
    userinfo_username: userinfo.preferred_username,
    refreshed_access_differs: refreshed.access_token !== tokens.access_token,
    refresh_rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    refreshed_userinfo_sub: again.sub,
    reuse_error: reuse,
  });
} catch (e) {
  say({ ok: false, error: describe(e) });
}
process.exit(0);
