// Pulumi's own dynamic-provider host, driven as the engine drives it: the plugin process
// (`@pulumi/pulumi/cmd/dynamic-provider`, what `pulumi-resource-pulumi-nodejs` runs) is spawned in
// the project directory, prints its port, and is spoken to over gRPC with protobuf Structs —
// Configure with the stack config as `args`, then Check, Diff, Create, Update, Read, Delete. A
// failed Create or Update whose error carries state comes back as the engine sees it:
// `pulumirpc.ErrorResourceInitFailed` packed in the `grpc-status-details-bin` trailer, or nothing
// at all when the host cannot send that trailer.
import { strict as assert } from "assert";
import { spawn, type ChildProcess } from "child_process";
import * as path from "path";
import { EngineError, type State } from "./host";

/* eslint-disable @typescript-eslint/no-require-imports */
const PULUMI_DIR = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const fromPulumi = <T>(id: string): T => require(require.resolve(id, { paths: [PULUMI_DIR] })) as T;
const grpc = fromPulumi<typeof import("@grpc/grpc-js")>("@grpc/grpc-js");
const structproto = fromPulumi<typeof import("google-protobuf/google/protobuf/struct_pb")>("google-protobuf/google/protobuf/struct_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb") as typeof import("@pulumi/pulumi/proto/provider_pb");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb") as typeof import("@pulumi/pulumi/proto/provider_grpc_pb");
const statusproto = require("@pulumi/pulumi/proto/status_pb") as typeof import("@pulumi/pulumi/proto/status_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

const HOST_SCRIPT = require.resolve("@pulumi/pulumi/cmd/dynamic-provider");
const PROJECT_DIR = path.resolve(__dirname, "..", "..");
const TYPE = "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects";
/** How long one RPC may take before the test calls it unanswered (what the engine would wait forever for). */
const RPC_DEADLINE_MS = 60_000;

type Props = Record<string, unknown>;
type Client = InstanceType<typeof provrpc.ResourceProviderClient>;

const struct = (value: Props) => structproto.Struct.fromJavaScript(value as Parameters<typeof structproto.Struct.fromJavaScript>[0]);
const urnOf = (name: string) => `urn:pulumi:dev::kubeflow-irsa::${TYPE}::${name}`;

/** A failed RPC: the host's message, and the partial state when it sent ErrorResourceInitFailed. */
export class HostError extends Error {
    constructor(
        message: string,
        readonly initFailed?: { id: string; properties: Props; reasons: string[] },
    ) {
        super(message);
    }
}

function decode(err: { message?: string; details?: string; metadata?: { get(key: string): unknown[] } }): HostError {
    const [bin] = (err.metadata?.get("grpc-status-details-bin") ?? []) as Buffer[];
    if (!bin) return new HostError(err.details ?? err.message ?? String(err));
    const status = statusproto.Status.deserializeBinary(new Uint8Array(bin));
    for (const any of status.getDetailsList()) {
        if (any.getTypeName() !== "pulumirpc.ErrorResourceInitFailed") continue;
        const detail = provproto.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
        return new HostError(status.getMessage(), { id: detail.getId(), properties: (detail.getProperties()?.toJavaScript() ?? {}) as Props, reasons: detail.getReasonsList() });
    }
    return new HostError(status.getMessage());
}

/** One host process: what `pulumi up` starts for the stack's dynamic resources. */
export class RealHost {
    private constructor(
        private readonly child: ChildProcess,
        private readonly client: Client,
        readonly stderr: string[],
    ) {}

    /** Spawns the host in `cwd` (the project, as the engine does) and configures it with the stack config. */
    static async start(config: Record<string, string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RealHost> {
        const child = spawn(process.execPath, [HOST_SCRIPT, "127.0.0.1:1"], {
            cwd: options.cwd ?? PROJECT_DIR,
            env: { ...process.env, PULUMI_PROJECT: "kubeflow-irsa", PULUMI_STACK: "dev", ...options.env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const stderr: string[] = [];
        child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
        const port = await new Promise<number>((resolve, reject) => {
            let out = "";
            child.stdout!.on("data", (d: Buffer) => {
                out += d.toString();
                const line = /^(\d+)\s*$/m.exec(out);
                if (line) resolve(Number(line[1]));
            });
            child.once("exit", (code) => reject(new Error(`the provider host exited (${code}) before printing its port: ${stderr.join("")}`)));
        });
        const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const host = new RealHost(child, client, stderr);
        const req = new provproto.ConfigureRequest();
        req.setArgs(struct(config));
        req.setAcceptsecrets(true);
        await host.call<unknown>((cb) => client.configure(req, cb));
        return host;
    }

    private call<T>(invoke: (callback: (err: unknown, res: T) => void) => unknown): Promise<T> {
        return new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => reject(new HostError(`the provider host did not answer within ${RPC_DEADLINE_MS / 1000} s (the engine would wait forever)`)), RPC_DEADLINE_MS);
            invoke((err, res) => {
                clearTimeout(timer);
                if (err) reject(decode(err as Parameters<typeof decode>[0]));
                else resolve(res);
            });
        });
    }

    async check(name: string, olds: Props, news: Props): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }> {
        const req = new provproto.CheckRequest();
        req.setUrn(urnOf(name));
        req.setOlds(struct(olds));
        req.setNews(struct(news));
        const res = await this.call<InstanceType<typeof provproto.CheckResponse>>((cb) => this.client.check(req, cb));
        return { inputs: (res.getInputs()?.toJavaScript() ?? {}) as Props, failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })) };
    }

    async diff(name: string, id: string, olds: Props, news: Props): Promise<{ changes: boolean; replaces: string[] }> {
        const req = new provproto.DiffRequest();
        req.setUrn(urnOf(name));
        req.setId(id);
        req.setOlds(struct(olds));
        req.setNews(struct(news));
        const res = await this.call<InstanceType<typeof provproto.DiffResponse>>((cb) => this.client.diff(req, cb));
        return { changes: res.getChanges() !== provproto.DiffResponse.DiffChanges.DIFF_NONE, replaces: res.getReplacesList() };
    }

    async create(name: string, properties: Props): Promise<{ id: string; properties: Props }> {
        const req = new provproto.CreateRequest();
        req.setUrn(urnOf(name));
        req.setProperties(struct(properties));
        const res = await this.call<InstanceType<typeof provproto.CreateResponse>>((cb) => this.client.create(req, cb));
        return { id: res.getId(), properties: (res.getProperties()?.toJavaScript() ?? {}) as Props };
    }

    async update(name: string, id: string, olds: Props, news: Props): Promise<Props> {
        const req = new provproto.UpdateRequest();
        req.setUrn(urnOf(name));
        req.setId(id);
        req.setOlds(struct(olds));
        req.setNews(struct(news));
        const res = await this.call<InstanceType<typeof provproto.UpdateResponse>>((cb) => this.client.update(req, cb));
        return (res.getProperties()?.toJavaScript() ?? {}) as Props;
    }

    async read(name: string, id: string, properties: Props): Promise<{ id: string; properties: Props }> {
        const req = new provproto.ReadRequest();
        req.setUrn(urnOf(name));
        req.setId(id);
        req.setProperties(struct(properties));
        const res = await this.call<InstanceType<typeof provproto.ReadResponse>>((cb) => this.client.read(req, cb));
        return { id: res.getId(), properties: (res.getProperties()?.toJavaScript() ?? {}) as Props };
    }

    async delete(name: string, id: string, properties: Props): Promise<void> {
        const req = new provproto.DeleteRequest();
        req.setUrn(urnOf(name));
        req.setId(id);
        req.setProperties(struct(properties));
        await this.call<unknown>((cb) => this.client.delete(req, cb));
    }

    /** Kills the process at once (SIGKILL), as an out-of-memory kill or a lost machine would: no call in flight is answered. */
    kill(): void {
        this.child.kill("SIGKILL");
    }

    async stop(): Promise<void> {
        this.client.close();
        // A process killed by a signal keeps exitCode null: signalCode says it is gone.
        if (this.child.exitCode === null && this.child.signalCode === null) {
            const exited = new Promise((resolve) => this.child.once("exit", resolve));
            this.child.kill();
            await exited;
        }
    }
}

/**
 * One TrustSubjects resource through the real host, as the engine steps it (the same contract as
 * ./host Engine): check, diff, then create / update / create-before-delete replace; a failure
 * with ErrorResourceInitFailed keeps its properties as the state and forces the next update.
 */
export class HostEngine {
    constructor(
        readonly host: RealHost,
        readonly providerText: string,
        readonly name = "trust",
    ) {}

    async up(state: State | undefined, args: Props): Promise<{ state: State; op: string; replaces?: string[] }> {
        const news = { ...args, __provider: this.providerText };
        const checked = await this.host.check(this.name, state?.outs ?? {}, news);
        assert.deepEqual(checked.failures, [], "check failed");
        if (!state) return { state: await this.step(() => this.host.create(this.name, checked.inputs), undefined), op: "create" };
        const diff = await this.host.diff(this.name, state.id, state.outs, checked.inputs);
        if (!diff.changes && !state.initFailed) return { state, op: "same" };
        if (diff.replaces.length > 0) {
            const created = await this.step(() => this.host.create(this.name, checked.inputs), undefined);
            await this.host.delete(this.name, state.id, state.outs);
            return { state: created, op: "replace", replaces: diff.replaces };
        }
        const outs = await this.step(async () => ({ id: state.id, properties: await this.host.update(this.name, state.id, state.outs, checked.inputs) }), state);
        return { state: outs, op: "update" };
    }

    async failingUp(state: State | undefined, args: Props): Promise<EngineError> {
        try {
            await this.up(state, args);
        } catch (err) {
            if (err instanceof EngineError) return err;
            throw err;
        }
        throw new Error("expected the up to fail");
    }

    async destroy(state: State): Promise<void> {
        await this.host.delete(this.name, state.id, state.outs);
    }

    async refresh(state: State): Promise<State> {
        const read = await this.host.read(this.name, state.id, state.outs);
        return { id: read.id, outs: read.properties as Record<string, any> };
    }

    private async step(run: () => Promise<{ id: string; properties: Props }>, previous: State | undefined): Promise<State> {
        try {
            const { id, properties } = await run();
            return { id, outs: properties as Record<string, any> };
        } catch (err) {
            if (err instanceof HostError && err.initFailed) {
                throw new EngineError(err, { id: err.initFailed.id, outs: err.initFailed.properties as Record<string, any>, initFailed: true });
            }
            throw new EngineError(err as Error, previous);
        }
    }
}
