// Node's jose with createRemoteJWKSet, as a Node service verifies Gatehouse's access tokens.
//
// Reads {"algorithm", "jwks_url", "issuer", "audience", "tokens": [...]} on stdin (the
// algorithm the service is configured for: RS256, ES256 or EdDSA) and prints one verdict
// per token as JSON: {"ok": true, "user_id": ...} or {"ok": false, "error": "..."}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const jwks = createRemoteJWKSet(new URL(request.jwks_url));
const verdicts = [];
for (const token of request.tokens) {
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: request.issuer,
      audience: request.audience,
      typ: 'at+jwt',
      algorithms: [request.algorithm ?? 'RS256'],
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    verdicts.push({ ok: true, user_id: payload.user_id ?? null });
  } catch (e) {
    verdicts.push({ ok: false, error: `${e.code ?? e.name}: ${e.message}` });
  }
}
process.stdout.write(JSON.stringify(verdicts));
