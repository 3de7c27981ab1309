import * as pulumi from "@pulumi/pulumi";
describe("proto", () => {
  it("serializes", async () => {
    let captured: any;
    pulumi.runtime.setMocks({
      newResource: (args) => { if (args.type === "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects") captured = args.inputs.__provider; return { id: args.name + "_id", state: args.inputs }; },
      call: (args) => args.inputs,
    }, "proj", "stack", false);
    process.on("unhandledRejection", (e) => console.log("UNHANDLED", e));
    const { TrustSubjects } = require("../../providers/trustSubjects");
    const r = new TrustSubjects("t", { role: "r", providerArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/X", subjects: ["system:serviceaccount:a:b"] });
    await new Promise<void>((res) => r.urn.apply(() => res()));
    console.log(typeof captured, captured?.length);
    require("fs").writeFileSync("/tmp/proto/provider.js", captured);
    const p = require("require-from-string")(captured).handler();
    console.log(Object.keys(p));
  });
});
