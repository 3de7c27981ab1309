// The doctor's tokens: a projected service-account token's claims, read offline, and with --jwks
// its signature, issuer and audience checked against a self-managed issuer's JWKS.

import { readFileSync } from "node:fs";
import { decodeJwt, type JWTPayload } from "jose";
import { STS_AUDIENCE } from "../domain/trustPolicy";
import { issuerNextTo, verifyTokenSignature, type SignatureCheck } from "./tokenSignature";

/** An expected failure: the message names the flag or value and the fix; exit code 2. */
export class DoctorError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DoctorError";
    }
}

export interface TokenSummary {
    issuer: string;
    subject: string;
    audience: string[];
    expiresAt?: string;
    expired: boolean;
    /** Verified against --jwks; false without it (the claims alone were read). */
    signatureVerified: boolean;
    /** The --jwks check, when asked. */
    signature?: SignatureCheck;
}

export interface TokenClaims {
    issuer: string;
    subject: string;
    audience: string[];
    exp?: number;
}

export function readTokenFile(path: string): string {
    try {
        return readFileSync(path, "utf8").trim();
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new DoctorError(`--token: cannot read "${path}" (${code ?? (err as Error).message}); give the path of a projected service-account token file`);
    }
}

export function claimsOf(path: string, payload: JWTPayload): TokenClaims {
    const malformed = (what: string) => new DoctorError(`--token: "${path}" ${what}; this is not an EKS projected service-account token`);
    if (typeof payload.iss !== "string" || payload.iss === "") throw malformed("has no iss (issuer) claim");
    if (typeof payload.sub !== "string" || payload.sub === "") throw malformed("has no sub (subject) claim");
    const audience = typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud.filter((a) => typeof a === "string") : [];
    if (audience.length === 0) throw malformed("has no aud (audience) claim");
    if (payload.exp !== undefined && typeof payload.exp !== "number") throw malformed("has a non-numeric exp claim");
    return { issuer: payload.iss, subject: payload.sub, audience, exp: payload.exp };
}

/** Decodes the token's claims. No signature check: the issuer's keys are not reachable offline. */
export function readToken(path: string): TokenClaims {
    const text = readTokenFile(path);
    let payload: JWTPayload;
    try {
        payload = decodeJwt(text);
    } catch (err) {
        throw new DoctorError(`--token: "${path}" is not a JWT (${(err as Error).message}); expected three base64url parts separated by dots`);
    }
    return claimsOf(path, payload);
}

export function describeDuration(ms: number): string {
    const minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 1) return "less than a minute";
    if (minutes < 120) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
    return `${Math.round(minutes / 60)} hours`;
}

export function tokenSummary(claims: TokenClaims, now: number, signature?: SignatureCheck): TokenSummary {
    const expired = claims.exp !== undefined && claims.exp * 1000 <= now;
    return {
        issuer: claims.issuer,
        subject: claims.subject,
        audience: claims.audience,
        ...(claims.exp !== undefined ? { expiresAt: new Date(claims.exp * 1000).toISOString() } : {}),
        expired,
        signatureVerified: signature?.verified ?? false,
        ...(signature ? { signature } : {}),
    };
}

export function expiryProblem(claims: TokenClaims, now: number): string | undefined {
    if (claims.exp === undefined || claims.exp * 1000 > now) return undefined;
    const at = new Date(claims.exp * 1000).toISOString();
    return (
        `the token expired at ${at} (${describeDuration(now - claims.exp * 1000)} ago), so STS rejects it (ExpiredTokenException); ` +
        `the kubelet rotates projected tokens: read the current one from the pod again`
    );
}

export async function signatureOf(tokenPath: string, jwks: string): Promise<SignatureCheck> {
    try {
        return await verifyTokenSignature(readTokenFile(tokenPath), jwks);
    } catch (err) {
        throw new DoctorError((err as Error).message);
    }
}

/** `--token <file> --jwks <keys.json|synth dir>` without --role: the token's claims and signature, offline. */
export interface SignatureReport {
    token: TokenSummary;
    allowed: boolean;
    problems: string[];
}

export async function signatureReport(tokenPath: string, jwks: string): Promise<SignatureReport> {
    const claims = readToken(tokenPath);
    const signature = await signatureOf(tokenPath, jwks);
    const now = Date.now();
    const expired = expiryProblem(claims, now);
    // A valid signature is not enough: STS also needs the issuer IAM knows and the sts audience.
    const issuer = issuerNextTo(signature.jwks);
    const wrongIssuer =
        issuer !== undefined && claims.issuer !== issuer
            ? `the token's issuer is ${JSON.stringify(claims.issuer)}, not the hosted issuer ${JSON.stringify(issuer)}: the API server still signs with another --service-account-issuer (set it to ${issuer}, first)`
            : undefined;
    const wrongAudience = claims.audience.includes(STS_AUDIENCE)
        ? undefined
        : `the token's audience is ${claims.audience.map((a) => JSON.stringify(a)).join(", ")}, not ${STS_AUDIENCE}: it is not an IRSA token (read the one the webhook mounts at /var/run/secrets/eks.amazonaws.com/serviceaccount/token)`;
    const problems = [signature.problem, wrongIssuer, wrongAudience, expired].filter((p): p is string => p !== undefined);
    return { token: tokenSummary(claims, now, signature), allowed: problems.length === 0, problems };
}

export function renderSignatureReport(r: SignatureReport): string {
    const t = r.token;
    const lines = [`Token: iss ${t.issuer}, sub ${t.subject}, aud ${t.audience.join(", ")}${t.expiresAt ? `, expires ${t.expiresAt}${t.expired ? " (EXPIRED)" : ""}` : ""}`];
    lines.push(
        t.signature?.verified
            ? `${r.allowed ? "VERIFIED" : "SIGNATURE VERIFIED, but STS would reject it"}: signed by key ${t.signature.kid ?? "(no kid)"} of ${t.signature.jwks}`
            : "NOT VERIFIED",
    );
    for (const p of r.problems) lines.push(`Problem: ${p}`);
    return lines.join("\n") + "\n";
}
