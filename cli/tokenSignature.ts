// Offline signature check of a projected service-account token against its issuer's JWKS (the
// `keys.json` a self-managed issuer serves, or synth's copy of it), with jose. What STS does
// before anything else: a token no key of the issuer signed is InvalidIdentityToken.

import * as fs from "node:fs";
import * as path from "node:path";
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { ISSUER_DIR, SUMMARY_FILE } from "./synthFiles";

export interface SignatureCheck {
    verified: boolean;
    /** The token's `kid` header. */
    kid?: string;
    /** Why it did not verify. */
    problem?: string;
    /** The JWKS file used. */
    jwks: string;
}

/** A keys.json file, or a synth output directory holding oidc-issuer/keys.json. */
export function jwksPathOf(given: string): string {
    return fs.existsSync(given) && fs.statSync(given).isDirectory() ? path.join(given, ISSUER_DIR, "keys.json") : given;
}

/**
 * Why a directory given as --jwks holds no JWKS: synth writes oidc-issuer/ only for a stack that
 * hosts its issuer (existingCluster.selfManaged); an EKS cluster's issuer is AWS's.
 */
function noIssuerDirectory(dir: string): string | undefined {
    if (fs.existsSync(path.join(dir, ISSUER_DIR))) return undefined;
    const synthOutput = fs.existsSync(path.join(dir, SUMMARY_FILE));
    return (
        `--jwks: "${dir}" has no ${ISSUER_DIR}/: ` +
        (synthOutput ? "it is the synth output of a stack that is not self-managed, and only self-managed stacks (existingCluster.selfManaged) have oidc-issuer/, the issuer they host" : "it is not a synth output directory of a self-managed stack") +
        "; for an EKS cluster, save the issuer's JWKS (the jwks_uri of <issuer>/.well-known/openid-configuration) and give that file"
    );
}

export function readJwks(given: string): { file: string; jwks: JSONWebKeySet } {
    const isDirectory = fs.existsSync(given) && fs.statSync(given).isDirectory();
    const noIssuer = isDirectory ? noIssuerDirectory(given) : undefined;
    if (noIssuer) throw new Error(noIssuer);
    const file = jwksPathOf(given);
    let parsed: unknown;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`--jwks: cannot read a JSON Web Key Set from "${file}" (${(err as Error).message.split("\n")[0]}); give the issuer's keys.json, or a synth output directory`);
    }
    const keys = (parsed as { keys?: unknown }).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`--jwks: "${file}" has no "keys" list; it is not a JWKS`);
    return { file, jwks: parsed as JSONWebKeySet };
}

/** The issuer of the discovery document beside a keys.json (synth's oidc-issuer/ layout), if there is one. */
export function issuerNextTo(jwksFile: string): string | undefined {
    const discovery = path.join(path.dirname(jwksFile), ".well-known", "openid-configuration");
    try {
        const issuer = (JSON.parse(fs.readFileSync(discovery, "utf8")) as { issuer?: unknown }).issuer;
        return typeof issuer === "string" ? issuer : undefined;
    } catch {
        return undefined;
    }
}

export async function verifyTokenSignature(token: string, given: string): Promise<SignatureCheck> {
    const { file, jwks } = readJwks(given);
    let kid: string | undefined;
    try {
        kid = decodeProtectedHeader(token).kid;
    } catch {
        return { verified: false, problem: "the token has no readable JOSE header", jwks: file };
    }
    try {
        // The signature only: expiry and claims are judged on their own, with their own messages.
        await compactVerify(token, createLocalJWKSet(jwks), { algorithms: ["RS256"] });
        return { verified: true, ...(kid ? { kid } : {}), jwks: file };
    } catch (err) {
        const code = (err as { code?: string }).code;
        const reason =
            code === "ERR_JWKS_NO_MATCHING_KEY"
                ? `no key in ${file} has the token's kid ${JSON.stringify(kid)}`
                : code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS"
                  ? `several keys in ${file} have the token's kid ${JSON.stringify(kid)} (a key listed twice)`
                  : (err as Error).message;
        return {
            verified: false,
            ...(kid ? { kid } : {}),
            problem: `the token's signature does not verify against ${file}: ${reason}; STS rejects it (InvalidIdentityToken) — the API server signs with a key whose public half is not in the issuer's JWKS (add it to existingCluster.selfManaged.serviceAccountKeys and run up)`,
            jwks: file,
        };
    }
}
