// The Pulumi side of the provider tests: the TrustSubjects provider as the Node host loads it
// (serialized `__provider` text, require-from-string, configure once), and one resource driven
// through `up` and `destroy` the way the engine drives it, partial failures included.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import requireFromString = require("require-from-string");
import { TrustSubjects } from "../../providers/trustSubjects";
import { FakeIam, type FakeIamOptions } from "./fakeIam";
import { ACCOUNT, DEV, sa } from "./fixtures";

export type Provider = pulumi.dynamic.ResourceProvider;

export interface State {
    id: string;
    outs: Record<string, any>;
    /** The last operation failed after IAM may have changed (ErrorResourceInitFailed). */
    initFailed?: boolean;
}

export const TRUST_SUBJECTS_TYPE = "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects";

/** A stack-config view as the host builds it: keys without a namespace get the project's. */
export function hostConfig(values: Record<string, string>): pulumi.dynamic.Config {
    const get = (key: string) => values[key.includes(":") ? key : `kubeflow-irsa:${key}`];
    return {
        get,
        require: (key: string) => {
            const value = get(key);
            if (value === undefined) throw new Error(`Missing required configuration key: ${key}`);
            return value;
        },
    };
}

/** What the host does once per distinct provider text: load it, then configure it. */
export async function loadAsHost(text: string, config: Record<string, string> = {}): Promise<Provider> {
    const provider = (requireFromString(text) as { handler: () => Provider }).handler();
    await provider.configure!({ config: hostConfig(config) });
    return provider;
}

/** Constructs a TrustSubjects resource under mocks and returns the inputs the engine would receive. */
export async function registeredTrustSubjects(): Promise<Record<string, unknown>> {
    const captured = new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${TRUST_SUBJECTS_TYPE} reached newResource: did the provider fail to serialize?`)), 20_000);
        pulumi.runtime.setMocks(
            {
                newResource(args: pulumi.runtime.MockResourceArgs) {
                    if (args.type === TRUST_SUBJECTS_TYPE) {
                        clearTimeout(timer);
                        resolve(args.inputs);
                    }
                    return { id: `${args.name}-id`, state: args.inputs };
                },
                call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
            },
            "kubeflow-irsa",
            "test",
            false,
        );
    });
    new TrustSubjects("kf-user-profiles", { role: "kf-user-us-west-2-dev", providerArn: DEV, subjects: [sa("alice")] });
    return captured;
}

const AWS_ENV = ["KUBEFLOW_IRSA_WRITE_SETTLE_MS", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_PROFILE", "AWS_EC2_METADATA_DISABLED"];

/** Points the AWS SDK at the local IAM endpoint (and nowhere else); returns the undo. */
export function useLocalIam(fake: FakeIam): () => void {
    const saved = Object.fromEntries(AWS_ENV.map((k) => [k, process.env[k]]));
    for (const key of AWS_ENV) delete process.env[key];
    Object.assign(process.env, {
        AWS_ENDPOINT_URL_IAM: fake.endpoint,
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "fake-secret-for-tests",
        AWS_REGION: "us-west-2",
        AWS_EC2_METADATA_DISABLED: "true",
        // The local IAM answers at once and has one writer unless a test adds another (and sets its own window).
        KUBEFLOW_IRSA_WRITE_SETTLE_MS: "0",
    });
    return () => {
        for (const key of AWS_ENV) {
            if (saved[key] === undefined) delete process.env[key];
            else process.env[key] = saved[key];
        }
    };
}

/**
 * Within a mocha suite: a local IAM for the whole suite, the AWS SDK pointed at it (and nowhere
 * else), both undone after. Returns the running fake.
 */
export function localIamForSuite(options: FakeIamOptions = { accountId: ACCOUNT }): () => FakeIam {
    let fake: FakeIam | undefined;
    let restore: (() => void) | undefined;
    before(async () => {
        fake = await FakeIam.start(options);
        restore = useLocalIam(fake);
    });
    after(async () => {
        restore?.();
        await fake?.close();
    });
    return () => fake!;
}

/** A failed engine step: what the user sees, and the state the engine keeps. */
export class EngineError extends Error {
    constructor(readonly cause: Error, readonly state: State | undefined) {
        super(cause.message);
    }
}

/**
 * One TrustSubjects resource driven as the engine drives it. An error that carries `id` and
 * `properties` is what the host turns into ErrorResourceInitFailed: the engine keeps those
 * properties as the state (a create's resource exists from then on) and runs an update on the
 * next `up` even when diff finds no change (pkg/resource/deploy/step_generator.go). Any other
 * error keeps the old state (update) or none (create).
 */
export class Engine {
    constructor(readonly provider: Provider, readonly providerText: string, readonly defaults: Record<string, unknown> = {}) {}

    /** `pulumi up` for the resource: check, then diff and create / update / create-before-delete replace. */
    async up(state: State | undefined, args: Record<string, unknown>): Promise<{ state: State; op: string; replaces?: string[] }> {
        const p = this.provider;
        const news = { ...this.defaults, ...args, __provider: this.providerText };
        const checked = await p.check!(state?.outs ?? {}, news);
        assert.deepEqual(checked.failures ?? [], [], "check failed");
        // The host adds `__provider` to the checked inputs (cmd/dynamic-provider, check).
        const inputs = { ...(checked.inputs as Record<string, unknown>), __provider: this.providerText };
        if (!state) {
            const created = await this.call(() => p.create(inputs), undefined);
            return { state: { id: created.id, outs: created.outs }, op: "create" };
        }
        // As the host: the state's outputs carry the provider text they were written with.
        const diff = await p.diff!(state.id, { __provider: this.providerText, ...state.outs }, { ...inputs });
        if (!diff.changes && !state.initFailed) return { state, op: "same" };
        if (diff.replaces && diff.replaces.length > 0) {
            const created = await this.call(() => p.create(inputs), undefined);
            await p.delete!(state.id, state.outs);
            return { state: { id: created.id, outs: created.outs }, op: "replace", replaces: diff.replaces };
        }
        const updated = await this.call(() => p.update!(state.id, state.outs, inputs), state);
        return { state: { id: state.id, outs: updated.outs as Record<string, any> }, op: "update" };
    }

    /** `pulumi up` that is expected to fail: the error and the state the engine kept. */
    async failingUp(state: State | undefined, args: Record<string, unknown>): Promise<EngineError> {
        try {
            await this.up(state, args);
        } catch (err) {
            if (err instanceof EngineError) return err;
            throw err;
        }
        throw new Error("expected the up to fail");
    }

    /** `pulumi destroy` for the resource. */
    async destroy(state: State): Promise<void> {
        await this.provider.delete!(state.id, state.outs);
    }

    private async call<T>(call: () => Promise<T>, previous: State | undefined): Promise<T> {
        try {
            return await call();
        } catch (err) {
            const e = err as Error & { id?: string; properties?: Record<string, any> };
            if (e.id) {
                // The host sends these properties as they are: they must name the provider themselves.
                assert.equal(e.properties?.__provider, this.providerText, "partial state without __provider: the next operation could not load the provider");
                throw new EngineError(e, { id: e.id, outs: e.properties!, initFailed: true });
            }
            throw new EngineError(e, previous);
        }
    }
}

export { ACCOUNT };
