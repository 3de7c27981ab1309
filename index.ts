// kubeflow-irsa: config → component → stack outputs. Everything else lives in components/ and providers/.
import { readStackConfig } from "./components/config";
import { deployerAccount, KubeflowIrsa } from "./components/kubeflowIrsa";

// Pulumi calls an exported function and takes the properties of its result as stack outputs.
export = async () => {
    const config = readStackConfig();
    const stack = new KubeflowIrsa("kubeflow-irsa", { ...config, accountId: await deployerAccount(config) });
    return {
        clusterName: stack.clusterName,
        oidcProviderArn: stack.oidcProviderArn,
        oidcIssuer: stack.oidcIssuer,
        kfAdminRoleArn: stack.kfAdminRoleArn,
        kfUserRoleArn: stack.kfUserRoleArn,
        kfUserRoleArns: stack.kfUserRoleArns,
        profileRoleArns: stack.profileRoleArns,
        kubeconfig: stack.kubeconfig,
    };
};
