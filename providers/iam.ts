// The I/O edge of the trust-policy work: an IAM client that acts as the stack's `aws` provider
// does, reading and writing one role's trust policy, and errors a person can act on.
//
// Clients are created per call, never at module scope: the dynamic provider is serialized with
// everything it captures, and a client instance does not serialize (imported modules do: they
// are captured as `require(...)`).

import {
    GetOpenIDConnectProviderCommand,
    GetRoleCommand,
    IAMClient,
    TagRoleCommand,
    UntagRoleCommand,
    UpdateAssumeRolePolicyCommand,
    type IAMClientConfig,
} from "@aws-sdk/client-iam";
import { fromIni, fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { StandardRetryStrategy } from "@smithy/core/retry";
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from "@smithy/types";
import { parsePolicyDocument, serializePolicy, TrustPolicyError, type PolicyDocument } from "../domain/trustPolicy";

/** Attempts per IAM call for throttling, 5xx and dropped connections (the SDK's own backoff). */
const SDK_MAX_ATTEMPTS = 5;
/** IAM is global; its endpoint is signed for us-east-1 in the aws partition. */
const IAM_SIGNING_REGION = "us-east-1";

export interface AssumeRoleSettings {
    roleArn: string;
    sessionName?: string;
    externalId?: string;
    durationSeconds?: number;
}

/** How to reach IAM: the stack's `aws:*` config, else the SDK's standard chain and environment. */
export interface AwsSettings {
    region?: string;
    profile?: string;
    accessKey?: string;
    secretKey?: string;
    token?: string;
    assumeRoles: AssumeRoleSettings[];
    /** From `aws:endpoints[].iam`; `AWS_ENDPOINT_URL_IAM` is honoured by the SDK itself. */
    iamEndpoint?: string;
}

/** Pulumi's `duration` strings ("1h", "15m30s") or plain seconds. */
function durationSeconds(value: unknown): number | undefined {
    if (typeof value === "number") return value;
    if (typeof value !== "string" || value === "") return undefined;
    const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
    let total = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+)([hms])/g)) total += Number(amount) * units[unit];
    return total || undefined;
}

function parseJsonConfig(key: string, text: unknown): unknown {
    if (text === undefined || text === null || text === "") return undefined;
    // Structured config normally arrives as JSON text; accept it already parsed too.
    if (typeof text !== "string") return text;
    try {
        return JSON.parse(text);
    } catch {
        throw new Error(`stack config ${key} is not valid JSON: ${text}`);
    }
}

function assumeRoleOf(value: unknown): AssumeRoleSettings | undefined {
    if (typeof value !== "object" || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (typeof v.roleArn !== "string" || v.roleArn === "") return undefined;
    return {
        roleArn: v.roleArn,
        sessionName: typeof v.sessionName === "string" ? v.sessionName : undefined,
        externalId: typeof v.externalId === "string" ? v.externalId : undefined,
        durationSeconds: durationSeconds(v.durationSeconds ?? v.duration),
    };
}

/**
 * Reads the settings the stack's default `aws` provider uses (pulumi-aws v7 `assumeRoles`, v6
 * `assumeRole`, `profile`, `region`, static keys, `endpoints`), so the trust-subject provider acts
 * in the same account with the same identity. Secrets arrive decrypted and never reach state.
 */
export function awsSettingsFromConfig(get: (key: string) => string | undefined): AwsSettings {
    const roles: unknown[] = [];
    const many = parseJsonConfig("aws:assumeRoles", get("aws:assumeRoles"));
    if (Array.isArray(many)) roles.push(...many);
    const one = parseJsonConfig("aws:assumeRole", get("aws:assumeRole"));
    if (one !== undefined) roles.push(one);
    let iamEndpoint: string | undefined;
    const endpoints = parseJsonConfig("aws:endpoints", get("aws:endpoints"));
    if (Array.isArray(endpoints)) {
        for (const entry of endpoints) {
            if (typeof entry === "object" && entry !== null && typeof (entry as { iam?: unknown }).iam === "string") {
                iamEndpoint = (entry as { iam: string }).iam;
            }
        }
    }
    return {
        region: get("aws:region") || undefined,
        profile: get("aws:profile") || undefined,
        accessKey: get("aws:accessKey") || undefined,
        secretKey: get("aws:secretKey") || undefined,
        token: get("aws:token") || undefined,
        assumeRoles: roles.map(assumeRoleOf).filter((r): r is AssumeRoleSettings => r !== undefined),
        iamEndpoint,
    };
}

/** True for an AWS error with that code (the SDK names errors `<Code>Exception` or `<Code>`). */
export function isAwsError(err: unknown, code: string): boolean {
    if (typeof err !== "object" || err === null) return false;
    const e = err as { name?: string; Code?: string; Error?: { Code?: string } };
    return e.name === code || e.name === `${code}Exception` || e.Code === code || e.Error?.Code === code;
}

/**
 * The SDK's standard retries (throttling, 5xx, dropped connections, with jittered backoff), except
 * that `LimitExceeded` is final: the SDK counts it as throttling, but a trust policy over the
 * ACLSizePerRole quota stays over it however long we wait.
 */
function retryStrategy(): RetryStrategyV2 {
    const standard = new StandardRetryStrategy(SDK_MAX_ATTEMPTS);
    return {
        acquireInitialRetryToken: (scope: string) => standard.acquireInitialRetryToken(scope),
        refreshRetryTokenForRetry: (token: StandardRetryToken, info: RetryErrorInfo) => {
            if (isAwsError(info.error, "LimitExceeded")) throw info.error;
            return standard.refreshRetryTokenForRetry(token, info);
        },
        recordSuccess: (token: StandardRetryToken) => standard.recordSuccess(token),
    };
}

/** Per attempt: connecting, and the whole request. */
const IAM_CONNECT_TIMEOUT_MS = 5_000;
const IAM_REQUEST_TIMEOUT_MS = 20_000;

export function createIamClient(settings: AwsSettings): IAMClient {
    const config: IAMClientConfig = {
        region: settings.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? IAM_SIGNING_REGION,
        retryStrategy: retryStrategy(),
        // An IAM endpoint that stops answering fails the attempt (and the SDK retries) instead of hanging the `up`.
        requestHandler: { connectionTimeout: IAM_CONNECT_TIMEOUT_MS, requestTimeout: IAM_REQUEST_TIMEOUT_MS },
    };
    if (settings.iamEndpoint) config.endpoint = settings.iamEndpoint;
    let credentials: IAMClientConfig["credentials"];
    if (settings.accessKey && settings.secretKey) {
        credentials = { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey, sessionToken: settings.token };
    } else if (settings.profile) {
        credentials = fromIni({ profile: settings.profile });
    }
    for (const role of settings.assumeRoles) {
        credentials = fromTemporaryCredentials({
            masterCredentials: credentials,
            params: {
                RoleArn: role.roleArn,
                RoleSessionName: role.sessionName ?? "kubeflow-irsa",
                ExternalId: role.externalId,
                DurationSeconds: role.durationSeconds,
            },
            clientConfig: { region: config.region as string },
        });
    }
    if (credentials) config.credentials = credentials;
    return new IAMClient(config);
}

export interface RoleTrustPolicy {
    roleArn: string;
    document: PolicyDocument;
    /** The role's tags (GetRole answers with them): where ./intent records what a write may add. */
    tags: { Key: string; Value: string }[];
}

/** The role's trust policy, or undefined when the role does not exist. */
export async function getTrustPolicy(client: IAMClient, roleName: string): Promise<RoleTrustPolicy | undefined> {
    let role;
    try {
        role = (await client.send(new GetRoleCommand({ RoleName: roleName }))).Role;
    } catch (err) {
        if (isAwsError(err, "NoSuchEntity")) return undefined;
        throw explainAwsError(err, "iam:GetRole", roleName);
    }
    if (!role?.Arn || role.AssumeRolePolicyDocument === undefined) {
        throw new Error(`IAM GetRole returned no trust policy for role "${roleName}"`);
    }
    // A parse failure is about the document, not the call.
    try {
        const tags = (role.Tags ?? []).map((t) => ({ Key: t.Key ?? "", Value: t.Value ?? "" }));
        return { roleArn: role.Arn, document: parsePolicyDocument(role.AssumeRolePolicyDocument), tags };
    } catch (err) {
        throw new TrustPolicyError(`the trust policy of role "${roleName}" cannot be read: ${(err as Error).message}`);
    }
}

/** Replaces the role's whole trust policy (IAM has no partial or conditional write). */
export async function putTrustPolicy(client: IAMClient, roleName: string, document: PolicyDocument): Promise<void> {
    await client.send(new UpdateAssumeRolePolicyCommand({ RoleName: roleName, PolicyDocument: serializePolicy(document) }));
}

/** Adds or overwrites tags on the role (iam:TagRole). */
export async function tagRole(client: IAMClient, roleName: string, tags: { Key: string; Value: string }[]): Promise<void> {
    if (tags.length > 0) await client.send(new TagRoleCommand({ RoleName: roleName, Tags: tags }));
}

/** Removes tags from the role (iam:UntagRole); keys it does not have are ignored by IAM. */
export async function untagRole(client: IAMClient, roleName: string, keys: string[]): Promise<void> {
    if (keys.length > 0) await client.send(new UntagRoleCommand({ RoleName: roleName, TagKeys: keys }));
}

/** The client ids (audiences) an IAM OIDC provider accepts, or undefined when it does not exist. */
export async function getOidcProviderClientIds(client: IAMClient, providerArn: string): Promise<string[] | undefined> {
    try {
        const out = await client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }));
        return out.ClientIDList ?? [];
    } catch (err) {
        if (isAwsError(err, "NoSuchEntity")) return undefined;
        throw explainAwsError(err, "iam:GetOpenIDConnectProvider", providerArn);
    }
}

/** What to do about an AWS error, by code; `operation` is the IAM action that failed. */
const ADVICE: Record<string, (operation: string) => string> = {
    AccessDenied: (operation) =>
        `the calling identity needs ${operation} on it; check aws:profile / aws:assumeRoles in the stack config, or AWS_PROFILE`,
    LimitExceeded: () =>
        "the account's 'Role trust policy length' quota is lower than kubeflow-irsa:trustPolicyMaxChars; set it to the account's real quota, or raise the quota in Service Quotas (IAM, 'Role trust policy length', code L-C07B4B0D; up to 8192)",
    MalformedPolicyDocument: () =>
        "IAM rejected the document; if the role's existing statements are hand-written, check them with `aws iam get-role` and fix them, then run `pulumi up` again",
    NoSuchEntity: () => "it does not exist; check the name or ARN",
    ConcurrentModification: () => "another writer kept changing it; try again",
    Throttling: () => "IAM kept throttling the requests; try again in a minute",
    ServiceFailure: () => "IAM kept failing; try again later",
};

/** An AWS error as a sentence: the operation, the target, AWS's own message, and what to do. */
export function explainAwsError(err: unknown, operation: string, target: string): Error {
    const code = Object.keys(ADVICE).find((c) => isAwsError(err, c));
    const message = err instanceof Error ? err.message : String(err);
    const advice = code ? ` — ${ADVICE[code](operation)}` : "";
    const name = err instanceof Error ? err.name : "Error";
    return new Error(`${operation} on ${target} failed: ${name}: ${message}${advice}`);
}
