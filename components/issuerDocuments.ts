// A self-managed cluster's OIDC issuer, as this stack hosts it: the bucket and URL it derives, the
// discovery document and the JWKS. Pure (Node's crypto only), so config validation, the program,
// synth and the tests compute the same documents.

import { createHash, createPublicKey, type KeyObject } from "crypto";

export const DISCOVERY_KEY = ".well-known/openid-configuration";
export const JWKS_KEY = "keys.json";
/** Pinned default of `existingCluster.selfManaged.webhookImage` (aws/amazon-eks-pod-identity-webhook release). */
export const DEFAULT_WEBHOOK_IMAGE = "public.ecr.aws/eks/amazon-eks-pod-identity-webhook:v0.6.17";

/**
 * The issuer's bucket: `<cluster>-oidc-<8 hex of sha256(region/cluster)>`, lower-cased to S3's
 * rules, at most 63 characters. Deterministic, so the issuer URL is known before `up`.
 */
export function issuerBucketName(region: string, clusterName: string): string {
    const hash = createHash("sha256").update(`${region}/${clusterName}`).digest("hex").slice(0, 8);
    const stem = clusterName.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "").slice(0, 63 - "-oidc-".length - hash.length) || "kf";
    return `${stem.replace(/-+$/, "")}-oidc-${hash}`;
}

/** The bucket's virtual-hosted HTTPS URL: what the API server's `--service-account-issuer` must be. */
export function issuerUrlOf(bucket: string, region: string): string {
    const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    return `https://${bucket}.s3.${region}.${suffix}`;
}

/** A PEM as pasted into YAML: each line trimmed (indented block scalars), blank lines dropped. */
export function normalizedPem(pem: string): string {
    return `${pem.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "").join("\n")}\n`;
}

/** Why a PEM is not one RSA public key, or undefined. */
export function rsaPublicKeyProblem(pem: string): string | undefined {
    const text = normalizedPem(pem);
    // Node derives a public key from a private one: refuse those before they reach config and state.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
        return "is a PRIVATE key: give only its public half (openssl rsa -in sa-signer.key -pubout); remove the private key from the stack's config";
    }
    const blocks = text.match(/-----BEGIN [A-Z ]+-----/g) ?? [];
    if (blocks.length !== 1 || !/^-----BEGIN (RSA )?PUBLIC KEY-----$/.test(blocks[0])) {
        return `holds ${blocks.length === 0 ? "no PEM block" : `${blocks.length} PEM blocks (${[...new Set(blocks)].join(", ")})`}; give exactly one "-----BEGIN PUBLIC KEY-----" block per list entry`;
    }
    let key: KeyObject;
    try {
        key = createPublicKey(text);
    } catch (err) {
        return `is not a PEM public key (${(err as Error).message.split("\n")[0]}); give the public half of the service-account signing key (openssl rsa -in sa-signer.key -pubout)`;
    }
    if (key.asymmetricKeyType !== "rsa") return `is a ${key.asymmetricKeyType} key; the pod identity webhook's tokens and IAM need RS256, so give an RSA public key`;
    return undefined;
}

export interface Jwk {
    kty: string;
    alg: "RS256";
    use: "sig";
    kid: string;
    n: string;
    e: string;
}

/**
 * The JWK of a public key, with Kubernetes' key id: base64url of the SHA-256 of the key's DER
 * (SubjectPublicKeyInfo) — what the API server puts in tokens' `kid` and the webhook repo's
 * self-hosted tooling writes.
 */
export function jwkOf(pem: string): Jwk {
    const key = createPublicKey(normalizedPem(pem));
    const der = key.export({ format: "der", type: "spki" });
    const kid = createHash("sha256").update(der).digest("base64url");
    const { n, e } = key.export({ format: "jwk" }) as { n: string; e: string };
    return { kty: "RSA", alg: "RS256", use: "sig", kid, n, e };
}

export function jwksDocument(pems: readonly string[]): { keys: Jwk[] } {
    return { keys: pems.map(jwkOf) };
}

/** The OpenID discovery document of the issuer (what IAM and STS read). */
export function discoveryDocument(issuerUrl: string): Record<string, unknown> {
    return {
        issuer: issuerUrl,
        jwks_uri: `${issuerUrl}/${JWKS_KEY}`,
        authorization_endpoint: "urn:kubernetes:programmatic_authorization",
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        claims_supported: ["sub", "iss"],
    };
}

/** The kube-apiserver flags that make the cluster's tokens this issuer's. */
export function apiServerFlags(issuerUrl: string): string[] {
    return [
        `--service-account-issuer=${issuerUrl}   (first; keep the old issuer as a second --service-account-issuer while old tokens live)`,
        "--service-account-key-file=<each public key of serviceAccountKeys>",
        "--service-account-signing-key-file=<the current private signing key>",
        // Never sts.amazonaws.com, in any position: a token request without audiences gets all of
        // them (Kubernetes TokenREST: out.Spec.Audiences = r.auds), and every pod's default
        // kube-api-access token is such a request, so each would be an STS credential. The
        // webhook asks for sts.amazonaws.com tokens itself and needs no API-server audience.
        "--api-audiences=<keep its current value (where it was unset: the old --service-account-issuer URL); never include sts.amazonaws.com>",
    ];
}
