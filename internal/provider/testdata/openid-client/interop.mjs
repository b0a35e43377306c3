// The relying party of TestOpenIDClient (internal/provider/interop_node_test.go):
// openid-client, an OpenID-certified relying party, drives Gatehouse's
// provider. Every protocol step and check is the library's own (at_hash's
// alone is this script's); the script sequences them and reports what it
// saw.
//
// Input, from the environment: ISSUER, CLIENT_ID, CLIENT_SECRET,
// REDIRECT_URI, POST_LOGOUT_REDIRECT_URI.
//
// The browser steps are the Go test's, in Chromium: the script writes one
// JSON line to stdout, {"step": "authorize" | "logout", "url": ...}, and
// reads one line from stdin, the URL the browser landed on (the callback
// with the authorization response, or the post-logout redirect). Its last
// line is {"step": "done", "summary": {...}}; a failure is
// {"step": "error", ...} and exit status 1.

import * as client from "openid-client";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
const ask = async (msg) => {
  send(msg);
  const { value, done } = await stdin.next();
  if (done) throw new Error(`no answer to the ${msg.step} step`);
  return value.trim();
};

// refused runs a call that must fail and returns how it failed.
const refused = async (fn) => {
  try {
    await fn();
  } catch (err) {
    // A WWW-Authenticate challenge's error attribute (RFC 6750 §3), if any.
    const challenge = Array.isArray(err.cause) ? (err.cause[0]?.parameters?.error ?? "") : "";
    return { name: err.name, error: err.error ?? challenge, status: err.status ?? 0, code: err.code ?? "" };
  }
  return null;
};

// atHashMatches checks an ID token's at_hash against the access token
// issued with it (OpenID Connect Core §3.1.3.6), which the library does
// not for the code flow: the left half of the token's hash under the ID
// token's algorithm, base64url.
const atHashMatches = (idToken, accessToken) => {
  const { alg } = JSON.parse(Buffer.from(idToken.split(".")[0], "base64url").toString());
  const hash = alg === "EdDSA" || alg.endsWith("512") ? "sha512" : alg.endsWith("384") ? "sha384" : "sha256";
  const digest = createHash(hash).update(accessToken).digest();
  const { at_hash } = JSON.parse(Buffer.from(idToken.split(".")[1], "base64url").toString());
  return at_hash === digest.subarray(0, digest.length / 2).toString("base64url");
};

const redirectURI = env("REDIRECT_URI");
const postLogoutURI = env("POST_LOGOUT_REDIRECT_URI");
const scope = "openid profile offline_access";

// Discovery, at the issuer's well-known URI; the issuer in the document
// must be the one asked for. The test server speaks http on 127.0.0.1,
// which openid-client refuses unless told.
// algorithm "oidc" reads /.well-known/openid-configuration, "oauth2"
// RFC 8414's /.well-known/oauth-authorization-server. The client secret is
// given as docs/provider.md shows, so the library authenticates its way
// by default (client_secret_post).
const discover = (algorithm) =>
  client.discovery(new URL(env("ISSUER")), env("CLIENT_ID"), env("CLIENT_SECRET"), undefined, {
    execute: [client.allowInsecureRequests],
    algorithm,
  });
let config;

// maxAge is the authorization requests' max_age: the code grant then
// requires the ID token's auth_time and checks it.
const maxAge = 600;

// signIn is one authorization: a pushed request (RFC 9126) with PKCE S256,
// nonce, state and max_age; the browser signs in and consents; the code
// grant checks the callback (state, and iss per RFC 9207 since discovery
// says so) and the ID token (signature, iss, aud, azp, exp, iat, nonce,
// auth_time against max_age; at_hash is checked here).
const signIn = async (label) => {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authURL = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectURI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    nonce,
    state,
    max_age: String(maxAge),
  });
  const callback = new URL(await ask({ step: "authorize", label, url: authURL.href }));
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    maxAge,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  return {
    tokens,
    claims,
    report: {
      // The browser was sent with request_uri and client_id alone.
      authorizationParams: [...authURL.searchParams.keys()].sort(),
      callbackIss: callback.searchParams.get("iss"),
      callbackState: callback.searchParams.get("state") === state,
      nonceMatches: claims.nonce === nonce,
      tokenType: tokens.token_type,
      scope: tokens.scope ?? "",
      expiresIn: tokens.expiresIn() ?? 0,
      hasRefreshToken: typeof tokens.refresh_token === "string",
      idToken: {
        sub: claims.sub,
        aud: claims.aud,
        azp: claims.azp ?? "",
        sid: claims.sid ?? "",
        acr: claims.acr ?? "",
        amr: claims.amr ?? [],
        authTime: claims.auth_time ?? 0,
        atHash: atHashMatches(tokens.id_token, tokens.access_token),
        preferredUsername: claims.preferred_username ?? "",
      },
    },
  };
};

const introspect = async (token) => {
  const r = await client.tokenIntrospection(config, token);
  return { active: r.active, sub: r.sub ?? "", clientId: r.client_id ?? "", tokenType: r.token_type ?? "" };
};

try {
  config = await discover("oidc");
  const meta = config.serverMetadata();
  const oauth2 = (await discover("oauth2")).serverMetadata();
  const summary = {
    issuer: meta.issuer,
    oauth2Issuer: oauth2.issuer,
    issParameterSupported: meta.authorization_response_iss_parameter_supported === true,
    parEndpoint: meta.pushed_authorization_request_endpoint ?? "",
  };

  const first = await signIn("first");
  summary.first = first.report;

  // userinfo, with the ID token's sub as the expected subject.
  const info = await client.fetchUserInfo(config, first.tokens.access_token, first.claims.sub);
  summary.userinfo = { sub: info.sub, preferredUsername: info.preferred_username ?? "" };

  // The refresh rotates both tokens; its ID token is the same user's, of
  // the same session (OpenID Connect Core §12.2; the library checks sub,
  // iss and aud against the first).
  const refreshed = await client.refreshTokenGrant(config, first.tokens.refresh_token);
  const rc = refreshed.claims();
  summary.refresh = {
    rotatedRefresh: typeof refreshed.refresh_token === "string" && refreshed.refresh_token !== first.tokens.refresh_token,
    rotatedAccess: refreshed.access_token !== first.tokens.access_token,
    idTokenSub: rc?.sub ?? "",
    idTokenSid: rc?.sid ?? "",
    idTokenNonce: rc?.nonce ?? "",
    idTokenAtHash: rc !== undefined && atHashMatches(refreshed.id_token, refreshed.access_token),
  };

  // Introspection: the new tokens active, the spent refresh token not.
  summary.introspection = {
    access: await introspect(refreshed.access_token),
    refresh: await introspect(refreshed.refresh_token),
    spentRefresh: await introspect(first.tokens.refresh_token),
  };

  // Revoking the refresh token ends the session and every token of it.
  await client.tokenRevocation(config, refreshed.refresh_token);
  summary.afterRevocation = {
    access: await introspect(refreshed.access_token),
    refresh: await introspect(refreshed.refresh_token),
    refreshGrant: await refused(() => client.refreshTokenGrant(config, refreshed.refresh_token)),
    userinfo: await refused(() => client.fetchUserInfo(config, refreshed.access_token, first.claims.sub)),
  };

  // A second sign-in (the consent is remembered now), then RP-initiated
  // logout with its ID token as the hint.
  const second = await signIn("second");
  summary.second = second.report;
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: second.tokens.id_token,
    post_logout_redirect_uri: postLogoutURI,
    state: logoutState,
  });
  const landed = new URL(await ask({ step: "logout", url: endSession.href }));
  summary.logout = {
    landedOn: landed.origin + landed.pathname,
    state: landed.searchParams.get("state") === logoutState,
    access: await introspect(second.tokens.access_token),
    refresh: await introspect(second.tokens.refresh_token),
  };

  send({ step: "done", summary });
  process.exit(0);
} catch (err) {
  // The library's errors carry the real reason in cause: an error of
  // its own (whose message JSON leaves out), or the server's response.
  let cause = "";
  try {
    cause = err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message} ${JSON.stringify(err.cause)}` : JSON.stringify(err.cause ?? "");
  } catch {
    cause = String(err.cause);
  }
  send({ step: "error", name: err.name, message: err.message, code: err.code ?? "", error: err.error ?? "", cause, stack: err.stack ?? "" });
  process.exit(1);
}
