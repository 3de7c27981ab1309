/**
 * An in-memory IAM endpoint speaking the AWS Query protocol over HTTP on 127.0.0.1, so tests can
 * point the real `@aws-sdk/client-iam` v3 client at it (`new IAMClient({ endpoint: fake.endpoint, ... })`).
 *
 * Requests are `application/x-www-form-urlencoded` (`Action=GetRole&Version=2010-05-08&RoleName=r`);
 * responses are XML in the IAM namespace. Signatures are not checked.
 *
 * Only the actions this project needs are implemented; anything else answers 400 InvalidAction.
 */
import * as http from "http";
import { AddressInfo } from "net";
import { randomUUID } from "crypto";
import { documentAsRead, FaultPlan, mulberry32, type FakeFault, type StaleReadsOptions } from "./fakeIamFaults";
import { API_VERSION, roleXml, type StoredRole, checkTag, checkTrustPolicy, el, IamError, isoNow, list, MAX_TAGS, memberList, required, roleKey, stripScheme, uniqueId, XMLNS } from "./fakeIamRules";

export type { FakeFault, StaleReadsOptions } from "./fakeIamFaults";

export interface FakeIamOptions {
  quota?: number;
  accountId?: string;
}


export interface FakeCall {
  action: string;
  roleName?: string;
}


interface StoredOidcProvider {
  arn: string;
  url: string; // without https://
  clientIds: string[];
  thumbprints: string[];
  createDate: string;
}




export class FakeIam {
  readonly endpoint: string;
  quota: number;
  /**
   * IAM is eventually consistent: GetRole may answer with a trust policy that a write already
   * replaced. With a lag, GetRole returns the document as it was this many milliseconds ago.
   */
  readLagMs = 0;
  /**
   * How many GetRole answers the {@link staleReads} model made stale (readLagMs answers are not counted).
   * Reset to 0 by every call of staleReads.
   */
  staleAnswers = 0;
  readonly accountId: string;
  readonly calls: FakeCall[] = [];

  private readonly roles = new Map<string, StoredRole>();
  private readonly oidcProviders = new Map<string, StoredOidcProvider>();
  private readonly plan = new FaultPlan();
  private stale: { options: StaleReadsOptions; random: () => number } | undefined;
  private readonly scriptedReads = new Map<string, string[]>();

  private constructor(private readonly server: http.Server, options: FakeIamOptions) {
    const { port } = server.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.quota = options.quota ?? 2048; // default ACLSizePerRole quota
    this.accountId = options.accountId ?? "123456789012";
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch(() => res.destroy());
    });
  }

  static async start(options: FakeIamOptions = {}): Promise<FakeIam> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new FakeIam(server, options);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections(); // the SDK keeps connections alive
    await closed;
  }

  /**
   * Seeded random, non-monotonic staleness (IAM eventual consistency); `undefined` turns it off (the default).
   *
   * When on, each GetRole of a role whose document was replaced less than `windowMs` ago draws from the
   * PRNG: with `probability` it answers with a *replaced* document, picked uniformly among the documents
   * the role held before its current one and that were superseded less than `windowMs` ago (so at least
   * the immediately previous document). Each read draws independently, so one read can show the new
   * document and the next the old one. Outside the window, and for a role that has only ever had one
   * document, reads are current and draw nothing. History is recorded by CreateRole,
   * UpdateAssumeRolePolicy and putRole alike.
   *
   * Composes with readLagMs: "current" means the document readLagMs would answer with, and stale
   * candidates are the ones before it. Each call re-seeds the PRNG and resets {@link staleAnswers}.
   */
  staleReads(options: StaleReadsOptions | undefined): void {
    if (options && !(options.windowMs >= 0 && options.probability >= 0 && options.probability <= 1)) {
      throw new Error(`FakeIam.staleReads: bad options ${JSON.stringify(options)}`);
    }
    this.stale = options && { options: { ...options }, random: mulberry32(options.seed) };
    this.staleAnswers = 0;
  }

  /**
   * The next GetRoles of the role answer with these documents, in order, whatever the role holds:
   * a replica that lags, scripted (counted in staleAnswers). Then reads are as before.
   */
  answerNextReads(roleName: string, documents: (object | string)[]): void {
    const queue = this.scriptedReads.get(roleKey(roleName)) ?? [];
    queue.push(...documents.map((d) => (typeof d === "string" ? d : JSON.stringify(d))));
    this.scriptedReads.set(roleKey(roleName), queue);
  }

  // ---- direct state access (bypasses faults, hooks, validation and the call log) ----

  /** Creates the role, or replaces the document (and path, if given) of an existing one, keeping its id. */
  putRole(name: string, trustPolicy: object | string, path?: string): string {
    const document = typeof trustPolicy === "string" ? trustPolicy : JSON.stringify(trustPolicy);
    const existing = this.roles.get(roleKey(name));
    const storedName = existing?.name ?? name;
    const storedPath = path ?? existing?.path ?? "/";
    const role: StoredRole = {
      name: storedName,
      path: storedPath,
      id: existing?.id ?? uniqueId("AROA"),
      arn: `arn:aws:iam::${this.accountId}:role${storedPath}${storedName}`,
      createDate: existing?.createDate ?? isoNow(),
      document,
      history: [...(existing?.history ?? []), { at: Date.now(), document }],
      tags: existing?.tags ?? [],
    };
    this.roles.set(roleKey(name), role);
    return role.arn;
  }

  /** The names of every role, as stored. */
  roleNames(): string[] {
    return [...this.roles.values()].map((r) => r.name);
  }

  removeRole(name: string): void {
    this.roles.delete(roleKey(name));
  }

  role(name: string): { arn: string; document: string } | undefined {
    const r = this.roles.get(roleKey(name));
    return r && { arn: r.arn, document: r.document };
  }

  /** Sets one tag on the role (as someone else's TagRole would). */
  putRoleTag(name: string, key: string, value: string): void {
    const r = this.roles.get(roleKey(name));
    if (!r) throw new Error(`FakeIam: no role named ${name}`);
    r.tags = [...r.tags.filter((t) => t.key.toLowerCase() !== key.toLowerCase()), { key, value }];
  }

  /** The role's tags as a plain object (key → value). */
  tags(name: string): Record<string, string> {
    const r = this.roles.get(roleKey(name));
    if (!r) throw new Error(`FakeIam: no role named ${name}`);
    return Object.fromEntries(r.tags.map((t) => [t.key, t.value]));
  }

  trustPolicy(name: string): any {
    const r = this.roles.get(roleKey(name));
    if (!r) throw new Error(`FakeIam: no role named ${name}`);
    return JSON.parse(r.document);
  }

  putOidcProvider(url: string, clientIds: string[] = [], thumbprints: string[] = []): string {
    const bare = stripScheme(url);
    const arn = `arn:aws:iam::${this.accountId}:oidc-provider/${bare}`;
    this.oidcProviders.set(arn, { arn, url: bare, clientIds: [...clientIds], thumbprints: [...thumbprints], createDate: isoNow() });
    return arn;
  }

  // ---- fault injection, hooks, call log ----

  /** The next `count` requests for `action` (optionally only for roleName) fail with `fault`. */
  failNext(action: string, fault: FakeFault, count = 1, roleName?: string): void {
    this.plan.failNext(action, fault, count, roleName);
  }

  /**
   * Run `hook` once, right after the fake has answered the next request for `action` (a way to simulate a
   * foreign writer racing us). Requests failed by an injected fault do not consume hooks; requests
   * answered with a regular IAM error (e.g. NoSuchEntity) do.
   */
  after(action: string, hook: () => void): void {
    this.plan.after(action, hook);
  }

  /** Run `hook` once, right before the fake applies the next request for `action`. */
  before(action: string, hook: () => void): void {
    this.plan.before(action, hook);
  }

  /** Drops every injected fault not yet taken. */
  clearFaults(): void {
    this.plan.clear();
  }

  count(action: string): number {
    return this.calls.filter((c) => c.action === action).length;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  /**
   * Every request waits a random 0–`maxMs` before it is applied and again before a success is answered
   * (seeded, reproducible): IAM's own latency, which lets two writers' read-modify-writes
   * interleave. `undefined` turns it off.
   */
  latency(maxMs: number | undefined, seed = 1): void {
    this.delay = maxMs === undefined ? undefined : { maxMs, random: mulberry32(seed) };
  }

  private delay: { maxMs: number; random: () => number } | undefined;

  private async wait(): Promise<void> {
    if (this.delay) await new Promise((resolve) => setTimeout(resolve, this.delay!.random() * this.delay!.maxMs));
  }

  // ---- HTTP ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));

    await this.wait();
    const action = params.get("Action") ?? "";
    const roleName = params.get("RoleName") ?? undefined;
    this.calls.push(roleName === undefined ? { action } : { action, roleName });

    const fault = this.plan.take(action, roleName);
    if (fault?.kind === "drop") {
      req.socket.destroy();
      return;
    }
    if (fault) {
      this.sendError(res, new IamError(fault.code, fault.status, fault.message ?? `Injected ${fault.code} fault`));
      return;
    }

    try {
      this.plan.runBefore(action);
      const result = this.dispatch(action, params);
      await this.wait();
      this.sendResult(res, action, result);
    } catch (e) {
      this.sendError(res, e instanceof IamError ? e : new IamError("ServiceFailure", 500, `FakeIam: ${String(e)}`));
    }
    try {
      this.plan.runAfter(action);
    } catch (e) {
      // The response is gone already: surface the failure as an uncaught exception (mocha fails the test).
      process.nextTick(() => { throw e; }); // prettier-ignore
    }
  }

  private send(res: http.ServerResponse, status: number, xml: (requestId: string) => string): void {
    const requestId = randomUUID();
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml(requestId)}`;
    res.writeHead(status, { "content-type": "text/xml", "content-length": Buffer.byteLength(body), "x-amzn-requestid": requestId });
    res.end(body);
  }

  /** `inner` is the content of `<ActionResult>`, or undefined for actions whose response has no result. */
  private sendResult(res: http.ServerResponse, action: string, inner: string | undefined): void {
    const result = inner === undefined ? "" : `<${action}Result>${inner}</${action}Result>`;
    this.send(res, 200, (id) => `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata>${el("RequestId", id)}</ResponseMetadata></${action}Response>`);
  }

  private sendError(res: http.ServerResponse, e: IamError): void {
    const type = e.status >= 500 ? "Receiver" : "Sender";
    const error = `<Error>${el("Type", type)}${el("Code", e.code)}${el("Message", e.message)}</Error>`;
    this.send(res, e.status, (id) => `<ErrorResponse xmlns="${XMLNS}">${error}${el("RequestId", id)}</ErrorResponse>`);
  }

  // ---- IAM actions ----

  private dispatch(action: string, p: URLSearchParams): string | undefined {
    switch (action) {
      case "GetRole": {
        const role = this.mustGetRole(required(p, "RoleName"));
        return roleXml("Role", { ...role, document: this.readDocument(role) });
      }
      case "ListRoles": {
        const prefix = p.get("PathPrefix") ?? "/";
        const roles = [...this.roles.values()].filter((r) => r.path.startsWith(prefix)).sort((a, b) => a.name.localeCompare(b.name));
        return `<Roles>${roles.map((r) => roleXml("member", r)).join("")}</Roles>${el("IsTruncated", false)}`;
      }
      case "CreateRole": {
        const name = required(p, "RoleName");
        const document = required(p, "AssumeRolePolicyDocument");
        const path = p.get("Path") ?? "/";
        // AWS: a path is "/" or starts and ends with "/" and holds printable ASCII in between.
        if (!/^(\/|\/[\u0021-\u007e]+\/)$/.test(path)) {
          throw new IamError("ValidationError", 400, `The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.`);
        }
        if (this.roles.has(roleKey(name))) throw new IamError("EntityAlreadyExists", 409, `Role with name ${name} already exists.`);
        checkTrustPolicy(document, this.quota);
        this.putRole(name, document, path);
        return roleXml("Role", this.mustGetRole(name));
      }
      case "UpdateAssumeRolePolicy": {
        const role = this.mustGetRole(required(p, "RoleName"));
        const document = required(p, "PolicyDocument");
        checkTrustPolicy(document, this.quota);
        role.document = document; // stored exactly as sent
        role.history.push({ at: Date.now(), document });
        return undefined;
      }
      case "TagRole": {
        const role = this.mustGetRole(required(p, "RoleName"));
        const tags: { key: string; value: string }[] = [];
        for (let i = 1; p.has(`Tags.member.${i}.Key`); i++) tags.push({ key: p.get(`Tags.member.${i}.Key`)!, value: p.get(`Tags.member.${i}.Value`) ?? "" });
        if (tags.length === 0) throw new IamError("ValidationError", 400, "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
        for (const t of tags) checkTag(t.key, t.value);
        const next = role.tags.slice();
        for (const t of tags) {
          const i = next.findIndex((x) => x.key.toLowerCase() === t.key.toLowerCase());
          if (i >= 0) next[i] = { key: next[i].key, value: t.value };
          else next.push(t);
        }
        // IAM: at most 50 tags per role.
        if (next.length > MAX_TAGS) throw new IamError("LimitExceeded", 409, `Cannot exceed quota for TagsPerRole: ${MAX_TAGS}`);
        role.tags = next;
        return undefined;
      }
      case "UntagRole": {
        const role = this.mustGetRole(required(p, "RoleName"));
        const keys = new Set(list(p, "TagKeys").map((k) => k.toLowerCase()));
        role.tags = role.tags.filter((t) => !keys.has(t.key.toLowerCase()));
        return undefined;
      }
      case "DeleteRole":
        this.roles.delete(roleKey(this.mustGetRole(required(p, "RoleName")).name));
        return undefined;
      case "GetOpenIDConnectProvider": {
        const arn = required(p, "OpenIDConnectProviderArn");
        const provider = this.oidcProviders.get(arn);
        if (!provider) throw new IamError("NoSuchEntity", 404, `OpenIDConnect Provider not found for arn ${arn}`);
        return (
          el("Url", provider.url) +
          memberList("ClientIDList", provider.clientIds) +
          memberList("ThumbprintList", provider.thumbprints) +
          el("CreateDate", provider.createDate)
        );
      }
      case "CreateOpenIDConnectProvider": {
        const url = required(p, "Url");
        // AWS: the URL must begin with https:// and name the issuer.
        if (!/^https:\/\/./i.test(url)) throw new IamError("ValidationError", 400, "Invalid URL: the URL must begin with https://");
        const arn = `arn:aws:iam::${this.accountId}:oidc-provider/${stripScheme(url)}`;
        if (this.oidcProviders.has(arn)) throw new IamError("EntityAlreadyExists", 409, `Provider with url ${url} already exists.`);
        this.putOidcProvider(url, list(p, "ClientIDList"), list(p, "ThumbprintList"));
        return el("OpenIDConnectProviderArn", arn);
      }
      default:
        throw new IamError("InvalidAction", 400, `Could not find operation ${action} for version ${API_VERSION}`);
    }
  }

  /** The document GetRole answers with, after readLagMs and the staleReads model. */
  private readDocument(role: StoredRole): string {
    const scripted = this.scriptedReads.get(roleKey(role.name));
    if (scripted && scripted.length > 0) {
      this.staleAnswers++;
      return scripted.shift() as string;
    }
    const read = documentAsRead(role.history, Date.now(), this.readLagMs, this.stale);
    if (read.stale) this.staleAnswers++;
    return read.document;
  }

  private mustGetRole(name: string): StoredRole {
    const role = this.roles.get(roleKey(name));
    if (!role) throw new IamError("NoSuchEntity", 404, `The role with name ${name} cannot be found.`);
    return role;
  }
}
