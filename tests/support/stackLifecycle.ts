// Whole `pulumi up`s of the program against a local IAM: the program runs under mocks
// (cli/evaluate.ts) and says which roles and TrustSubjects it registers; the roles are created
// in the local IAM with the trust document the program gives them; each TrustSubjects is driven
// through the provider the host loads (its serialized `__provider` text), as the engine drives
// it: creates and updates first, then the deletes of what the program no longer registers (a
// TrustSubjects before its role). Resource options matter as the engine applies them: a resource
// whose last state said retainOnDelete leaves the stack without a provider call.
import { runProgram, type ConfigValues, type ProgramRun, type RecordedResource } from "../../cli/evaluate";
import type { FakeIam } from "./fakeIam";
import { Engine, loadAsHost, type State } from "./host";
import { HostEngine, RealHost } from "./realHost";
import { ofType } from "./program";

const TRUST_TYPE = "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects";
const ROLE_TYPE = "aws:iam/role:Role";

interface Held {
    state: State;
    retainOnDelete: boolean;
    /** The provider text the state was last written with: a delete runs that code, as the host does. */
    providerText: string;
}

export interface UpResult {
    run: ProgramRun;
    /** TrustSubjects name → create, update, same, replace or delete. */
    ops: Record<string, string>;
    /** UpdateAssumeRolePolicy calls per role name in this `up`. */
    writes: Record<string, number>;
}

/** One resource's steps, in-process or through the real host. */
type Stepper = Pick<Engine, "up" | "destroy" | "providerText">;

export class StackLifecycle {
    /** TrustSubjects name → the state the engine keeps. */
    readonly trust = new Map<string, Held>();
    /** Role names the stack created (and so deletes when the program stops registering them). */
    readonly roles = new Map<string, { retainOnDelete: boolean; protect: boolean }>();
    /** Tags of the roles in the local IAM (it keeps none itself), by lower-cased name: the program's, or a test's. */
    readonly tags = new Map<string, Record<string, string>>();
    private engine: Engine | undefined;
    /** With the real host: the one host process of the current `up` or destroy. */
    private host: RealHost | undefined;
    private config: ConfigValues = {};

    /**
     * `host`: "in-process" loads the provider text here as the host does (fast); "real" spawns
     * Pulumi's own host process for each `up` and speaks gRPC to it (tests/support/realHost.ts).
     * `program`: another program than index.ts (one that uses the component, say).
     */
    constructor(
        readonly fake: FakeIam,
        readonly host_: "in-process" | "real" = "in-process",
        readonly program?: string,
    ) {}

    /** One `pulumi up` with this config. Throws the first failing step's error. */
    async up(config: ConfigValues): Promise<UpResult> {
        try {
            return await this.upOnce(config);
        } finally {
            await this.stopHost();
        }
    }

    private async upOnce(config: ConfigValues): Promise<UpResult> {
        // The program asks IAM which kf-user shards exist (aws.iam.getRoles): the local IAM answers.
        const existing = this.fake.roleNames().map((name) => ({ name, assumeRolePolicy: this.fake.role(name)!.document, tags: this.tags.get(name.toLowerCase()) ?? {} }));
        const run = await runProgram(config, "dev", undefined, this.program, existing);
        // Each `pulumi up` is a new host process: the provider is loaded and configured with this config.
        this.engine = undefined;
        await this.stopHost();
        this.config = config;
        const before = this.fake.calls.length;
        const ops: Record<string, string> = {};
        const registeredRoles = ofType(run, ROLE_TYPE);
        for (const role of registeredRoles) {
            const name = String(role.inputs.name);
            if (!this.fake.role(name)) {
                this.fake.putRole(name, String(role.inputs.assumeRolePolicy));
                this.tags.set(name.toLowerCase(), role.inputs.tags as Record<string, string>);
            }
            this.roles.set(name, { retainOnDelete: role.options.retainOnDelete, protect: role.options.protect });
        }
        const registeredTrust = ofType(run, TRUST_TYPE);
        for (const resource of registeredTrust) {
            const engine = await this.engineFor(resource);
            const held = this.trust.get(resource.name);
            const { __provider: _text, ...args } = resource.inputs;
            const result = await engine.up(held?.state, args);
            this.trust.set(resource.name, { state: result.state, retainOnDelete: resource.options.retainOnDelete, providerText: engine.providerText });
            ops[resource.name] = result.op;
        }
        // Deletes, with the options of the last state: TrustSubjects first, then their roles.
        const names = new Set(registeredTrust.map((r) => r.name));
        for (const [name, held] of [...this.trust]) {
            if (names.has(name)) continue;
            if (!held.retainOnDelete) await (await this.engineOf(held.providerText, name)).destroy(held.state);
            this.trust.delete(name);
            ops[name] = held.retainOnDelete ? "retained" : "delete";
        }
        const roleNames = new Set(registeredRoles.map((r) => String(r.inputs.name)));
        for (const [name, options] of [...this.roles]) {
            if (roleNames.has(name)) continue;
            if (options.protect) throw new Error(`the engine refuses to delete role ${name}: it is protected`);
            if (!options.retainOnDelete) this.removeRole(name);
            this.roles.delete(name);
        }
        const writes: Record<string, number> = {};
        for (const call of this.fake.calls.slice(before)) {
            if (call.action === "UpdateAssumeRolePolicy" && call.roleName) writes[call.roleName] = (writes[call.roleName] ?? 0) + 1;
        }
        return { run, ops, writes };
    }

    /**
     * `pulumi destroy`: the stack config is the last up's (a destroy runs with it unchanged); every
     * TrustSubjects is deleted with the code its state was written with, then the stack's roles.
     * Throws the first failing delete's error, keeping what was not deleted.
     */
    async destroy(): Promise<void> {
        try {
            await this.destroyOnce();
        } finally {
            await this.stopHost();
        }
    }

    private async stopHost(): Promise<void> {
        await this.host?.stop();
        this.host = undefined;
    }

    private async destroyOnce(): Promise<void> {
        this.engine = undefined;
        for (const [name, held] of [...this.trust]) {
            if (!held.retainOnDelete) await (await this.engineOf(held.providerText, name)).destroy(held.state);
            this.trust.delete(name);
        }
        for (const [name, options] of [...this.roles]) {
            if (!options.retainOnDelete) this.removeRole(name);
            this.roles.delete(name);
        }
    }

    private removeRole(name: string): void {
        this.fake.removeRole(name);
        this.tags.delete(name.toLowerCase());
    }

    /** The role's live trust policy. */
    document(roleName: string): { Statement: Record<string, unknown>[] } {
        const doc = this.fake.trustPolicy(roleName);
        return { ...doc, Statement: Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement] };
    }

    private async engineFor(resource: RecordedResource): Promise<Stepper> {
        return this.engineOf(String(resource.inputs.__provider), resource.name);
    }

    private async engineOf(text: string, name: string): Promise<Stepper> {
        if (this.host_ === "real") {
            this.host ??= await RealHost.start(this.config as Record<string, string>);
            return new HostEngine(this.host, text, name);
        }
        if (!this.engine || this.engine.providerText !== text) this.engine = new Engine(await loadAsHost(text, this.config), text);
        return this.engine;
    }
}
