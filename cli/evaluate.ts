// Runs the real program (index.ts, the code `pulumi up` runs) under Pulumi's mock runtime, with a
// stack's configuration read the way the Pulumi CLI reads it, and records what it registers.
// `npm run synth`, `npm run doctor -- --stack`, the tests and the benchmark all go through here,
// so there is one implementation of the program's logic: the program itself.

import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as path from "path";
import { ConfigError, PROJECT, parseStackConfig, type OriginOf, type StackConfig } from "../components/config";
import type { ExistingRole } from "../components/placement";
import { namesStackRole } from "../components/stackRoles";
import { issuerHostPath, roleIdentity } from "../domain/subjects";
import { applyOverrides, UNKNOWN_VALUE, type UnknownValue } from "./configOverrides";
import { readProjectDefaults, readStackFile, type ConfigValues, type StackFile } from "./stackFiles";

export { readProjectDefaults, readStackFiles, readStackValues, type ConfigValues } from "./stackFiles";

/** The account mock ARNs are made in; a placeholder, like every ARN synth prints. */
export const MOCK_ACCOUNT = "123456789012";
export const ROLE_TYPE = "aws:iam/role:Role";
export const TRUST_SUBJECTS_TYPE = "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects";

/** The resource options the engine receives with a registration (invisible to `newResource`). */
export interface RecordedOptions {
    /** URNs of explicit and input dependencies. */
    dependencies: string[];
    /** The provider reference (`<urn>::<id>`), empty for the default provider. */
    provider: string;
    ignoreChanges: string[];
    retainOnDelete: boolean;
    protect: boolean;
    /** Replaced by deleting the old one first (a gap), instead of creating the new one first. */
    deleteBeforeReplace: boolean;
    parent: string;
}

export interface RecordedResource {
    type: string;
    name: string;
    /** `urn:pulumi:<stack>::<project>::<type chain>::<name>`, as dependencies name it. */
    urn: string;
    inputs: Record<string, unknown>;
    state: Record<string, unknown>;
    options: RecordedOptions;
}

/** What the mock monitor's registerResource reads of a request; the options are copied from it. */
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProvider(): string;
    getDependenciesList(): string[];
    getIgnorechangesList(): string[];
    getRetainondelete(): boolean | undefined;
    getProtect(): boolean | undefined;
    getDeletebeforereplace(): boolean | undefined;
}

/**
 * The options of each registration, keyed by type and name, read off the requests the SDK sends
 * to the mock monitor — the same message the engine would get.
 */
const registeredOptions = new Map<string, RecordedOptions>();
let monitorTapped = false;
function tapMockMonitor(): void {
    if (monitorTapped) return;
    monitorTapped = true;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: { registerResource: (req: RegisterRequest, cb: unknown) => unknown } } };
    const original = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = function (this: unknown, req: RegisterRequest, callback: unknown) {
        registeredOptions.set(`${req.getType()}::${req.getName()}`, {
            dependencies: req.getDependenciesList(),
            provider: req.getProvider(),
            ignoreChanges: req.getIgnorechangesList(),
            retainOnDelete: req.getRetainondelete() ?? false,
            protect: req.getProtect() ?? false,
            deleteBeforeReplace: req.getDeletebeforereplace() ?? false,
            parent: req.getParent(),
        });
        return original.call(this, req, callback);
    };
}

export interface ProgramRun {
    resources: RecordedResource[];
    outputs: Record<string, unknown>;
}

/** A stable fake issuer ID per cluster, shaped like EKS's (32 upper-case hex characters). */
function issuerId(clusterName: string): string {
    return createHash("sha256").update(clusterName).digest("hex").slice(0, 32).toUpperCase();
}

/** The account of `existingCluster.oidcProviderArn`, when the config names one (the roles' account). */
export function configuredAccount(config: ConfigValues): string | undefined {
    const raw = config["kubeflow-irsa:existingCluster"];
    try {
        const value: unknown = typeof raw === "string" && raw.trim().startsWith("{") ? JSON.parse(raw) : raw;
        const arn = (value as { oidcProviderArn?: unknown } | undefined)?.oidcProviderArn;
        return typeof arn === "string" ? /^arn:[\w-]+:iam::(\d{12}):/.exec(arn)?.[1] : undefined;
    } catch {
        return undefined; // the program reports malformed config itself
    }
}

/**
 * Without an existing cluster's provider ARN, the account of an awsIamRole ARN that has the name of a
 * role this stack creates: such an ARN almost always names that very role (`up`, which asks STS,
 * then gives it no TrustSubjects of its own), and a placeholder account would plan it as another
 * account's role — a layout `up` does not produce.
 */
function stackRoleAccount(config: StackConfig): string | undefined {
    // Any count: namesStackRole knows every kf-user shard's name (and with `auto` the count is not known yet).
    const ref = config.profiles.find((p) => p.awsIamRole !== undefined && namesStackRole(config, 1, p.awsIamRole))?.awsIamRole;
    return ref === undefined ? undefined : roleIdentity(ref)?.accountId;
}

function mocks(config: ConfigValues, stack: string, account: string, record: (r: RecordedResource) => void, iamRoles: readonly ExistingRole[]): pulumi.runtime.Mocks {
    const region = config["aws:region"] ?? "us-east-1";
    return {
        newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
            const inputs = args.inputs as Record<string, unknown>;
            const state: Record<string, unknown> = { ...inputs };
            let id = `${args.name}-id`;
            switch (args.type) {
                case "eks:index:Cluster": {
                    const name = String(inputs.name ?? args.name);
                    const issuer = `oidc.eks.${region}.amazonaws.com/id/${issuerId(name)}`;
                    Object.assign(state, {
                        eksCluster: { name },
                        oidcIssuer: issuer,
                        oidcProviderArn: `arn:aws:iam::${account}:oidc-provider/${issuer}`,
                        kubeconfigJson: JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name }] }),
                    });
                    break;
                }
                case ROLE_TYPE:
                    id = String(inputs.name);
                    state.arn = `arn:aws:iam::${account}:role/${inputs.name}`;
                    break;
                case "aws:iam/policy:Policy":
                    state.arn = `arn:aws:iam::${account}:policy/${inputs.name}`;
                    break;
                case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
                    state.arn = `arn:aws:iam::${account}:oidc-provider/${issuerHostPath(String(inputs.url))}`;
                    break;
                // @pulumi/tls computes keys and certificates at `up`: placeholders that say so.
                case "tls:index/privateKey:PrivateKey":
                    state.privateKeyPem = `-----BEGIN PRIVATE KEY-----\n(${args.name}: generated by @pulumi/tls at up)\n-----END PRIVATE KEY-----\n`;
                    state.publicKeyPem = `-----BEGIN PUBLIC KEY-----\n(${args.name}: generated by @pulumi/tls at up)\n-----END PUBLIC KEY-----\n`;
                    break;
                case "tls:index/certRequest:CertRequest":
                    state.certRequestPem = `-----BEGIN CERTIFICATE REQUEST-----\n(${args.name}: generated at up)\n-----END CERTIFICATE REQUEST-----\n`;
                    break;
                case "tls:index/selfSignedCert:SelfSignedCert":
                case "tls:index/locallySignedCert:LocallySignedCert":
                    state.certPem = `-----BEGIN CERTIFICATE-----\n(${args.name}: issued by @pulumi/tls at up)\n-----END CERTIFICATE-----\n`;
                    break;
                case "aws:eks/podIdentityAssociation:PodIdentityAssociation":
                    state.associationArn = `arn:aws:eks:${region}:${account}:podidentityassociation/${inputs.clusterName}/a-${args.name}`;
                    break;
            }
            const options = registeredOptions.get(`${args.type}::${args.name}`)!;
            const urn = `urn:pulumi:${stack}::${PROJECT}::${typeChain(options.parent, args.type)}::${args.name}`;
            record({ type: args.type, name: args.name, urn, inputs, state, options });
            return { id, state };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
                return { accountId: account, arn: `arn:aws:iam::${account}:user/synth`, userId: "AIDASYNTH" };
            }
            if (args.token === "aws:iam/getRoles:getRoles") {
                // Offline, IAM holds only the roles the caller says (none for synth and the doctor).
                const pattern = new RegExp(String(args.inputs.nameRegex ?? ".*"));
                const names = iamRoles.map((r) => r.name).filter((n) => pattern.test(n)).sort();
                return { id: "roles", names, arns: names.map((n) => `arn:aws:iam::${account}:role/${n}`) };
            }
            if (args.token === "aws:iam/getRole:getRole") {
                const name = String(args.inputs.name);
                const role = iamRoles.find((r) => r.name.toLowerCase() === name.toLowerCase());
                // As the aws provider fails a read of a role IAM does not have.
                if (!role) throw new Error(`reading IAM Role (${name}): couldn't find resource (NoSuchEntity: The role with name ${name} cannot be found.)`);
                return { id: role.name, name: role.name, arn: `arn:aws:iam::${account}:role/${role.name}`, assumeRolePolicy: role.assumeRolePolicy, tags: role.tags };
            }
            return {};
        },
    };
}

/** The type part of a URN as the mock monitor builds it (runtime/mocks.ts newUrn): `<parent type>$<type>`. */
function typeChain(parent: string, type: string): string {
    return parent ? `${parent.split("::")[2].split("$").pop()}$${type}` : type;
}

/** An exported value, resolved; an Output the program failed to build rejects with its error. */
async function unwrap(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        // Output#promise is the SDK's own (internal) way to await an Output, errors included.
        return (value as unknown as { promise(): Promise<unknown> }).promise();
    }
    return value;
}

const PROGRAM = path.resolve(__dirname, "..", "index.ts");

/**
 * Runs index.ts under mocks with the given config and returns what it registered and exported.
 * Rejects with the program's own error (a ConfigError for bad config), as `pulumi preview` would.
 * `account` is what the mocked STS answers (the deployer's account): the placeholder by default;
 * `evaluateStack` passes the one the config tells (configuredAccount). `program`: another
 * checkout's index.ts (the upgrade fixtures record what an earlier version registered).
 * `iamRoles`: the roles the mocked `aws.iam.getRoles` and `aws.iam.getRole` find (existing kf-user shards).
 */
export async function runProgram(config: ConfigValues, stack = "synth", account = MOCK_ACCOUNT, program = PROGRAM, iamRoles: readonly ExistingRole[] = []): Promise<ProgramRun> {
    return withNativeStacks(() => evaluate(config, stack, account, program, iamRoles));
}

/**
 * Runs `fn` with V8's own stack formatting. Pulumi's SDK takes `new Error().stack` for every promise
 * and resource it makes (runtime/debuggable.ts, Resource.callsites); under ts-node each of those is
 * source-mapped frame by frame, which makes evaluating 1,000 profiles 2–3× slower. Only those
 * recorded debug stacks lose their .ts positions: an error that escapes is formatted when first
 * read, after `fn`, with the usual formatter.
 */
async function withNativeStacks<T>(fn: () => Promise<T>): Promise<T> {
    const { prepareStackTrace } = Error;
    (Error as { prepareStackTrace?: unknown }).prepareStackTrace = undefined;
    try {
        return await fn();
    } finally {
        Error.prepareStackTrace = prepareStackTrace;
    }
}

async function evaluate(config: ConfigValues, stack: string, account: string, program: string, iamRoles: readonly ExistingRole[]): Promise<ProgramRun> {
    const resources: RecordedResource[] = [];
    tapMockMonitor();
    await pulumi.runtime.setMocks(mocks(config, stack, account, (r) => resources.push(r), iamRoles), PROJECT, stack, false);
    pulumi.runtime.setAllConfig(config);
    delete require.cache[program];
    const outputs: Record<string, unknown> = {};
    try {
        // As Pulumi's Node.js runtime does: an exported function is called, its result awaited.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const exported = require(program) as Record<string, unknown> | (() => Promise<Record<string, unknown>>);
        const exports = typeof exported === "function" ? await exported() : exported;
        for (const [name, value] of Object.entries(exports)) outputs[name] = await unwrap(value);
    } catch (err) {
        // Let registrations already sent land, so callers can tell what a failed run registered.
        await pulumi.runtime.disconnect();
        throw Object.assign(err as Error, { registered: resources.map((r) => r.name) });
    }
    await pulumi.runtime.disconnect();
    return { resources, outputs };
}

export interface ProfileModel {
    name: string;
    owner: string;
    /** The role the profile's service accounts get (empty when the stack manages no IAM). */
    roleArn: string;
    /** The accounts of its namespace that get the role (`default-editor` unless configured). */
    serviceAccounts: string[];
}

export interface StackModel {
    stack: string;
    region: string;
    /** The account of the ARNs of what the stack creates: the config's (configuredAccount), else MOCK_ACCOUNT. */
    account: string;
    /** Whether `account` is the config's. */
    accountFromConfig: boolean;
    config: StackConfig;
    profiles: ProfileModel[];
    run: ProgramRun;
    /** Encrypted values the run went without (no result depends on them): the tools print each note. */
    unknownConfig: UnknownValue[];
}

export interface EvaluateOptions {
    stack: string;
    /** Where Pulumi.yaml is. @default the project's root */
    projectDir?: string;
    /** Extra `key=value` overrides, as with `pulumi config set`. */
    overrides?: ConfigValues;
}

/** The config's own problems, headed by the reason the stack file sets nothing, if that is why. */
function parseConfig(values: ConfigValues, origin: OriginOf, stackFile: StackFile): StackConfig {
    try {
        return parseStackConfig((key) => values[key], undefined, Object.keys(values), origin);
    } catch (err) {
        if (err instanceof ConfigError && stackFile.noConfig) throw new ConfigError([stackFile.noConfig, ...err.problems]);
        throw err;
    }
}

/**
 * An unknown value reached a resource: a result would depend on it. Providers (their connection)
 * and the program's own components (whose arguments pass it on to the provider) may hold it.
 */
function assertUnknownUnused(run: ProgramRun, unknown: UnknownValue[]): void {
    if (unknown.length === 0) return;
    const holds = (r: RecordedResource) => r.type.startsWith("pulumi:providers:") || r.type.startsWith(`${PROJECT}:`);
    const user = run.resources.find((r) => !holds(r) && JSON.stringify(r.inputs).includes(UNKNOWN_VALUE));
    if (user) throw new Error(`${user.type} '${user.name}' received an encrypted value taken as not needed offline (${unknown.map((u) => u.key).join(", ")}): components/configKeys.ts must list it as needed`);
}

/**
 * Evaluates a stack of this project offline. Throws with the program's message on bad config (a
 * ConfigError), or an Error naming the stack file when it cannot be read.
 */
export async function evaluateStack(options: EvaluateOptions): Promise<StackModel> {
    const projectDir = options.projectDir ?? path.resolve(__dirname, "..");
    const overrides = options.overrides ?? {};
    const stackFile = readStackFile(projectDir, options.stack);
    const { values, unknown } = applyOverrides(readProjectDefaults(projectDir), stackFile, overrides);
    const config = parseConfig(values, (key) => (key in overrides ? "--config" : "stack"), stackFile);
    // synth and the doctor: the deployer's account as far as the config tells it, else the placeholder.
    const fromConfig = configuredAccount(values) ?? stackRoleAccount(config);
    const account = fromConfig ?? MOCK_ACCOUNT;
    const run = await runProgram(values, options.stack, account);
    assertUnknownUnused(run, unknown);
    const roleArns = (run.outputs.profileRoleArns ?? {}) as Record<string, string>;
    return {
        stack: options.stack,
        region: config.region,
        account,
        accountFromConfig: fromConfig !== undefined,
        config,
        profiles: config.profiles.map((p) => ({ name: p.name, owner: p.owner, roleArn: roleArns[p.name] ?? "", serviceAccounts: p.serviceAccounts })),
        run,
        unknownConfig: unknown,
    };
}
