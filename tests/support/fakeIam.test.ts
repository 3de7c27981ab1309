import { strict as assert } from "assert";
import {
  ConcurrentModificationException,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  EntityAlreadyExistsException,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  IAMServiceException,
  LimitExceededException,
  ListRolesCommand,
  MalformedPolicyDocumentException,
  NoSuchEntityException,
  ServiceFailureException,
  UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { FakeIam } from "./fakeIam";

const OIDC = "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789";
const trust = (sub: string, sid = "") => ({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: sid,
      Effect: "Allow",
      Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${OIDC}` },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: { StringEquals: { [`${OIDC}:sub`]: sub } },
    },
  ],
});
/** A trust policy whose whitespace-free length is exactly `size`. */
const trustOfSize = (size: number) => {
  const base = JSON.stringify(trust("system:serviceaccount:kubeflow:x")).length;
  return trust("system:serviceaccount:kubeflow:x", "S".repeat(size - base));
};

/** Characters that are not white space (space, tab, CR, LF), counted one by one. */
const nonWhiteSpace = (text: string) => [...text].filter((c) => c !== " " && c !== "\t" && c !== "\r" && c !== "\n").length;
/** The subject of a `trust(sub)` document. */
const subjectOf = (document: string): string => JSON.parse(document).Statement[0].Condition.StringEquals[`${OIDC}:sub`];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves to the rejection of `p` (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<IAMServiceException> {
  try {
    await p;
  } catch (e) {
    return e as IAMServiceException;
  }
  throw new Error("expected the call to fail");
}

describe("FakeIam (with the real @aws-sdk/client-iam)", () => {
  let fake: FakeIam;
  const client = (maxAttempts = 1) =>
    new IAMClient({
      endpoint: fake.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      maxAttempts,
    });
  let iam: IAMClient;

  beforeEach(async () => {
    fake = await FakeIam.start();
    iam = client();
  });
  afterEach(async () => {
    iam.destroy();
    await fake.close();
  });

  it("GetRole returns the URL-encoded trust policy, which decodeURIComponent + JSON.parse recover", async () => {
    const doc = trust("system:serviceaccount:kubeflow:a&b <c> 'd' \"e\" %20 ü");
    const arn = fake.putRole("kf-role", doc);
    const out = await iam.send(new GetRoleCommand({ RoleName: "kf-role" }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.Role?.Arn, arn);
    assert.equal(arn, "arn:aws:iam::123456789012:role/kf-role");
    assert.match(out.Role?.RoleId ?? "", /^AROA[0-9A-Z]{17}$/);
    assert.ok(out.Role?.CreateDate instanceof Date);
    assert.equal(out.Role?.MaxSessionDuration, 3600);
    const raw = out.Role?.AssumeRolePolicyDocument ?? "";
    assert.equal(raw, encodeURIComponent(JSON.stringify(doc)));
    assert.deepEqual(JSON.parse(decodeURIComponent(raw)), doc);
  });

  it("GetRole of an absent role is NoSuchEntity (404); role names are case-insensitive", async () => {
    const err = await rejection(iam.send(new GetRoleCommand({ RoleName: "nope" })));
    assert.ok(err instanceof NoSuchEntityException);
    assert.equal(err.name, "NoSuchEntityException");
    assert.equal((err as unknown as { Code: string }).Code, "NoSuchEntity");
    assert.equal(err.message, "The role with name nope cannot be found.");
    assert.equal(err.$metadata.httpStatusCode, 404);
    fake.putRole("MyRole", trust("a"));
    assert.equal((await iam.send(new GetRoleCommand({ RoleName: "myrole" }))).Role?.RoleName, "MyRole");
  });

  it("UpdateAssumeRolePolicy stores the document as sent and enforces the whitespace-free quota", async () => {
    fake.putRole("r", trust("a"));
    fake.quota = 400;
    const atQuota = JSON.stringify(trustOfSize(400), null, 2); // pretty-printed: whitespace does not count
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: atQuota }));
    assert.equal(fake.role("r")?.document, atQuota);

    const err = await rejection(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: JSON.stringify(trustOfSize(401)) })));
    assert.ok(err instanceof LimitExceededException);
    assert.equal(err.message, "Cannot exceed quota for ACLSizePerRole: 400");
    assert.equal(err.$metadata.httpStatusCode, 409);
    assert.equal(fake.role("r")?.document, atQuota);

    const absent = await rejection(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "x", PolicyDocument: atQuota })));
    assert.ok(absent instanceof NoSuchEntityException);
  });

  it("the quota counts the document as sent without its white space (pretty-printed: tabs, CRLF, spaces)", async () => {
    const withTabs = JSON.stringify(trustOfSize(400), null, "\t").replace(/\n/g, "\r\n");
    const withSpaces = JSON.stringify(trustOfSize(400), null, 4);
    for (const doc of [withTabs, withSpaces]) {
      const n = nonWhiteSpace(doc);
      assert.equal(n, 400);
      assert.ok(doc.length > n + 50, `raw length ${doc.length} should be well above ${n}`);

      fake.quota = n - 1;
      const created = await rejection(iam.send(new CreateRoleCommand({ RoleName: "c", AssumeRolePolicyDocument: doc })));
      assert.ok(created instanceof LimitExceededException);
      assert.equal(created.message, `Cannot exceed quota for ACLSizePerRole: ${n - 1}`);
      assert.equal(created.$metadata.httpStatusCode, 409);
      assert.equal(fake.role("c"), undefined);
      fake.putRole("u", trust("a"));
      const updated = await rejection(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "u", PolicyDocument: doc })));
      assert.ok(updated instanceof LimitExceededException);
      assert.equal(updated.message, `Cannot exceed quota for ACLSizePerRole: ${n - 1}`);
      assert.deepEqual(fake.trustPolicy("u"), trust("a"));

      fake.quota = n;
      await iam.send(new CreateRoleCommand({ RoleName: "c", AssumeRolePolicyDocument: doc }));
      assert.equal(fake.role("c")?.document, doc);
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "u", PolicyDocument: doc }));
      assert.equal(fake.role("u")?.document, doc);
      fake.removeRole("c");
      fake.removeRole("u");
    }
  });

  describe("staleReads (seeded, non-monotonic eventual consistency)", () => {
    const reads = async (name: string, n: number): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const got = await iam.send(new GetRoleCommand({ RoleName: name }));
        out.push(subjectOf(decodeURIComponent(got.Role?.AssumeRolePolicyDocument ?? "")));
      }
      return out;
    };
    /** A role that held trust("old") and now holds trust("new"), set through the SDK. */
    const replaced = async (name: string) => {
      fake.putRole(name, trust("old"));
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust("new")) }));
    };

    it("within the window reads flip between new and old, reproducibly by seed; after it they are current", async () => {
      // The window must outlast 40 local reads on a loaded CI host: the comparison assumes every read of
      // both runs falls inside it.
      const options = { windowMs: 2000, probability: 0.5, seed: 42 };
      fake.staleReads(options);
      await replaced("r");
      const first = await reads("r", 20);
      assert.ok(first.includes("new") && first.includes("old"), first.join(","));
      assert.ok(first.some((s, i) => s === "old" && first.slice(0, i).includes("new")), `not non-monotonic: ${first.join(",")}`);
      assert.equal(fake.staleAnswers, first.filter((s) => s === "old").length);

      fake.staleReads(options); // re-seeds and resets the counter
      assert.equal(fake.staleAnswers, 0);
      await replaced("r2");
      assert.deepEqual(await reads("r2", 20), first);

      await sleep(options.windowMs + 50);
      const staleSoFar = fake.staleAnswers;
      assert.deepEqual(await reads("r", 10), Array(10).fill("new"));
      assert.equal(fake.staleAnswers, staleSoFar);

      // Only documents superseded within the window are candidates: "old" was replaced too long ago.
      fake.staleReads({ ...options, probability: 1 });
      fake.putRole("r", trust("newer"));
      assert.deepEqual(await reads("r", 5), Array(5).fill("new"));
      assert.equal(fake.staleAnswers, 5);
    });

    it("picks among all documents replaced within the window, never the current one", async () => {
      // A wide window: 20 reads on a loaded machine may take longer than half a second.
      fake.staleReads({ windowMs: 10_000, probability: 1, seed: 7 });
      fake.putRole("r", trust("a"));
      fake.putRole("r", trust("b"));
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: JSON.stringify(trust("c")) }));
      const seen = await reads("r", 20);
      assert.ok(seen.includes("a") && seen.includes("b") && !seen.includes("c"), seen.join(","));
      assert.equal(fake.staleAnswers, 20);
      assert.deepEqual(fake.trustPolicy("r"), trust("c")); // direct state access is always current
    });

    it("a role with a single document, probability 0, and staleReads(undefined) always read current", async () => {
      fake.staleReads({ windowMs: 500, probability: 1, seed: 1 });
      await iam.send(new CreateRoleCommand({ RoleName: "fresh", AssumeRolePolicyDocument: JSON.stringify(trust("only")) }));
      fake.putRole("put", trust("only"));
      assert.deepEqual([...(await reads("fresh", 5)), ...(await reads("put", 5))], Array(10).fill("only"));
      assert.equal(fake.staleAnswers, 0);

      fake.staleReads({ windowMs: 500, probability: 0, seed: 1 });
      await replaced("r");
      assert.deepEqual(await reads("r", 20), Array(20).fill("new"));
      assert.equal(fake.staleAnswers, 0);

      fake.staleReads({ windowMs: 500, probability: 1, seed: 1 });
      assert.deepEqual(await reads("r", 3), Array(3).fill("old"));
      fake.staleReads(undefined);
      assert.deepEqual(await reads("r", 5), Array(5).fill("new"));
      assert.equal(fake.staleAnswers, 0);
    });
  });

  it("rejects malformed trust policies with MalformedPolicyDocument (400)", async () => {
    fake.putRole("r", trust("a"));
    const noPrincipal = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole" }] };
    for (const doc of ["{not json", JSON.stringify({ Version: "2012-10-17" }), JSON.stringify(noPrincipal)]) {
      const err = await rejection(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: doc })));
      assert.ok(err instanceof MalformedPolicyDocumentException, doc);
      assert.equal(err.$metadata.httpStatusCode, 400);
    }
    assert.deepEqual(fake.trustPolicy("r"), trust("a"));
  });

  it("CreateRole, EntityAlreadyExists, ListRoles, DeleteRole", async () => {
    const doc = JSON.stringify(trust("a"));
    const created = await iam.send(new CreateRoleCommand({ RoleName: "a", AssumeRolePolicyDocument: doc, Path: "/kf/" }));
    assert.equal(created.Role?.Arn, "arn:aws:iam::123456789012:role/kf/a");
    assert.equal(fake.role("a")?.document, doc);
    const dup = await rejection(iam.send(new CreateRoleCommand({ RoleName: "A", AssumeRolePolicyDocument: doc })));
    assert.ok(dup instanceof EntityAlreadyExistsException);
    assert.equal(dup.$metadata.httpStatusCode, 409);
    fake.quota = 10;
    assert.ok((await rejection(iam.send(new CreateRoleCommand({ RoleName: "b", AssumeRolePolicyDocument: doc })))) instanceof LimitExceededException);
    fake.quota = 2048;

    fake.putRole("b", trust("b"));
    const listed = await iam.send(new ListRolesCommand({}));
    assert.deepEqual(listed.Roles?.map((r) => r.RoleName), ["a", "b"]);
    assert.equal(listed.IsTruncated, false);
    assert.deepEqual(JSON.parse(decodeURIComponent(listed.Roles?.[1].AssumeRolePolicyDocument ?? "")), trust("b"));

    await iam.send(new DeleteRoleCommand({ RoleName: "a" }));
    assert.equal(fake.role("a"), undefined);
    assert.ok((await rejection(iam.send(new DeleteRoleCommand({ RoleName: "a" })))) instanceof NoSuchEntityException);
  });

  it("injected error faults surface as the SDK's typed exceptions and are recorded as calls", async () => {
    fake.putRole("r", trust("a"));
    const cases = [
      { code: "ConcurrentModification", status: 409, type: ConcurrentModificationException },
      { code: "ServiceFailure", status: 500, type: ServiceFailureException },
      { code: "AccessDenied", status: 403, type: IAMServiceException }, // not modelled by IAM: base exception
      { code: "Throttling", status: 400, type: IAMServiceException },
    ];
    for (const c of cases) {
      fake.failNext("GetRole", { kind: "error", code: c.code, status: c.status, message: `no: ${c.code}` });
      const err = await rejection(iam.send(new GetRoleCommand({ RoleName: "r" })));
      assert.ok(err instanceof c.type, c.code);
      assert.ok(err.name === c.code || err.name === `${c.code}Exception`, err.name);
      assert.equal(err.message, `no: ${c.code}`);
      assert.equal(err.$metadata.httpStatusCode, c.status);
    }
    assert.equal(fake.count("GetRole"), cases.length);
    await iam.send(new GetRoleCommand({ RoleName: "r" })); // faults are used up
  });

  it("failNext honours count and roleName", async () => {
    fake.putRole("a", trust("a"));
    fake.putRole("b", trust("b"));
    fake.failNext("GetRole", { kind: "error", code: "ConcurrentModification", status: 409 }, 2, "b");
    await iam.send(new GetRoleCommand({ RoleName: "a" }));
    await rejection(iam.send(new GetRoleCommand({ RoleName: "b" })));
    await rejection(iam.send(new GetRoleCommand({ RoleName: "b" })));
    await iam.send(new GetRoleCommand({ RoleName: "b" }));
    assert.deepEqual(fake.calls, ["a", "b", "b", "b"].map((roleName) => ({ action: "GetRole", roleName })));
    fake.resetCalls();
    assert.equal(fake.count("GetRole"), 0);
  });

  it("an injected Throttling is retried by the SDK when maxAttempts is 3", async () => {
    fake.putRole("r", trust("a"));
    fake.failNext("GetRole", { kind: "error", code: "Throttling", status: 400 });
    const retrying = client(3);
    try {
      const out = await retrying.send(new GetRoleCommand({ RoleName: "r" }));
      assert.equal(out.Role?.RoleName, "r");
      assert.equal(out.$metadata.attempts, 2);
      assert.equal(fake.count("GetRole"), 2);
    } finally {
      retrying.destroy();
    }
  });

  it("a dropped connection surfaces as an error (maxAttempts 1)", async () => {
    fake.putRole("r", trust("a"));
    fake.failNext("UpdateAssumeRolePolicy", { kind: "drop" });
    const err = await rejection(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: JSON.stringify(trust("b")) })));
    assert.equal(err.$metadata?.httpStatusCode, undefined);
    assert.deepEqual(fake.trustPolicy("r"), trust("a"));
    assert.equal(fake.count("UpdateAssumeRolePolicy"), 1);
  });

  it("after() and before() hooks fire once", async () => {
    fake.putRole("r", trust("mine"));
    let afterRuns = 0;
    fake.after("GetRole", () => {
      afterRuns++;
      fake.putRole("r", trust("theirs")); // a foreign writer right after our read
    });
    const read = await iam.send(new GetRoleCommand({ RoleName: "r" }));
    assert.deepEqual(JSON.parse(decodeURIComponent(read.Role?.AssumeRolePolicyDocument ?? "")), trust("mine"));
    assert.deepEqual(fake.trustPolicy("r"), trust("theirs"));
    await iam.send(new GetRoleCommand({ RoleName: "r" }));
    assert.equal(afterRuns, 1);

    let beforeRuns = 0;
    fake.before("UpdateAssumeRolePolicy", () => {
      beforeRuns++;
      fake.removeRole("r");
    });
    const doc = JSON.stringify(trust("mine"));
    assert.ok((await rejection(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: doc })))) instanceof NoSuchEntityException);
    fake.putRole("r", trust("x"));
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "r", PolicyDocument: doc }));
    assert.equal(beforeRuns, 1);
    assert.equal(fake.role("r")?.document, doc);
  });

  it("OIDC provider round trip", async () => {
    const created = await iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: `https://${OIDC}`, ClientIDList: ["sts.amazonaws.com"], ThumbprintList: ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"] }),
    );
    assert.equal(created.OpenIDConnectProviderArn, `arn:aws:iam::123456789012:oidc-provider/${OIDC}`);
    const got = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: created.OpenIDConnectProviderArn }));
    assert.equal(got.Url, OIDC);
    assert.deepEqual(got.ClientIDList, ["sts.amazonaws.com"]);
    assert.deepEqual(got.ThumbprintList, ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]);
    assert.ok(got.CreateDate instanceof Date);

    const other = fake.putOidcProvider("oidc.example.com/id/X", ["a", "b"]);
    const got2 = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: other }));
    assert.deepEqual([got2.Url, got2.ClientIDList, got2.ThumbprintList], ["oidc.example.com/id/X", ["a", "b"], []]);

    const missing = await rejection(iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: `${other}Y` })));
    assert.ok(missing instanceof NoSuchEntityException);
  });

  it("honours the accountId and quota options", async () => {
    const other = await FakeIam.start({ accountId: "111122223333", quota: 100 });
    try {
      assert.equal(other.quota, 100);
      assert.equal(other.putRole("r", "{}"), "arn:aws:iam::111122223333:role/r");
    } finally {
      await other.close();
    }
  });
});
